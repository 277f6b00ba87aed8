"""Every fault the emulator injects, and what the client does about it (Pulse path, sphinx engine)."""

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.client import (
    AuthenticationError,
    HandshakeError,
    NoTranscriptError,
    RateLimitError,
    RetryPolicy,
    StreamTimeout,
)
from voicelab.protocols.events import Final

FAST = RetryPolicy(max_attempts=3, base=0.05, cap=0.2)


@pytest.fixture(scope="module")
def short():
    return vl.load(DATA / "speech" / "s06_short_16k.flac")


def run(short, faults, **kw):
    with vl.serve(engine="sphinx", faults=faults, announce=False) as server:
        s = vl.stream(short, url=server.url, api_key=server.api_key, retry=kw.pop("retry", FAST), **kw)
        try:
            s.wait(90)
            err = None
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            err = exc
    return s, err


def connects(s):
    return len(s.recording.of("connect"))


@pytest.mark.parametrize(("status", "cls", "attempts"), [
    (400, HandshakeError, 1), (401, AuthenticationError, 1), (403, AuthenticationError, 1),
    (500, HandshakeError, 3), (503, HandshakeError, 3),
])
def test_rejections(short, status, cls, attempts):
    s, err = run(short, f"reject:{status};retry_after:0.1", speed=None)
    assert type(err) is cls and err.status == status
    assert str(status) in str(err) and "Fix:" in str(err)
    assert connects(s) == attempts


def test_429_retry_after(short):
    s, err = run(short, "reject:429;retry_after:0.3", speed=None)
    assert isinstance(err, RateLimitError) and err.retry_after == 0.3
    t = [e.t for e in s.recording.of("connect")]
    assert len(t) == 3 and min(b - a for a, b in zip(t, t[1:], strict=False)) >= 0.29


@pytest.mark.parametrize("faults", ["drop_after_chunks:60", "close_after_chunks:60;close_code:1011",
                                    "close_after_chunks:60;close_code:1008"])
def test_drops_and_closes_reconnect_and_finish(short, faults):
    s, err = run(short, faults, chunk_seconds=0.05, speed=1, retry=RetryPolicy(base=0.05, cap=0.2))
    assert err is None, err
    gaps = s.recording.of("gap")
    expected = 1006 if "drop" in faults else int(faults.rsplit(":", 1)[1])
    assert gaps and all(g["close_code"] == expected for g in gaps)
    finals = [ev for _, ev in s.events if isinstance(ev, Final)]
    assert finals[-1].is_last
    spans = sorted((c["audio_start"], c["audio_end"]) for c in s.recording.of("chunk"))
    assert spans[0][0] == 0 and max(e for _, e in spans) == pytest.approx(short.duration, abs=1e-3)


def test_latency_and_jitter_keep_order(short):
    base, err = run(short, None, speed=4)
    assert err is None
    slow, err = run(short, "latency:0.25;jitter:0.05;seed:1", speed=4)
    assert err is None
    kinds = [ev.kind for _, ev in slow.events]
    assert kinds[-1] in ("final", "turn_end") and [ev for _, ev in slow.events if isinstance(ev, Final)][-1].is_last
    # jitter never reorders: every final still follows the partials of its utterance, and the last one is is_last
    finals = [i for i, (_, ev) in enumerate(slow.events) if isinstance(ev, Final)]
    assert finals == sorted(finals) and len(finals) == len([e for _, e in base.events if isinstance(e, Final)])
    # (the exact added delay is measured, engine-independently, in test_stream_emulator's latency test)


def test_slowdown_makes_the_transcript_trail(short):
    s, err = run(short, "slowdown:3", speed=None, final_timeout=60)
    assert err is None
    t_last = s.events[-1][0]
    t_sent = s.recording.of("chunk")[-1].t
    assert t_last - t_sent > short.duration  # the server needed ~3x the audio's length


def test_all_responses_dropped_is_diagnosed(short):
    s, err = run(short, "drop_responses:1", speed=None, final_timeout=3)
    assert isinstance(err, NoTranscriptError) and "sample rate" in str(err), err
    assert s.recording.stats.messages_received == 0 and connects(s) == 1


def test_half_the_responses_dropped_still_ends(short):
    s, err = run(short, "drop_responses:0.5;seed:4", speed=4, final_timeout=3)
    assert err is None or isinstance(err, StreamTimeout), err
    assert 0 < s.recording.stats.messages_received


def test_malformed_message_does_not_kill_the_receive_loop(short):
    s, err = run(short, "malformed:2", speed=4)
    assert err is None
    raw = [e["message"] for e in s.recording.of("recv") if isinstance(e.get("message"), str)]
    assert raw, "the malformed frame was not recorded"
    assert any(ev.kind == "error" and ev.code == "malformed_message" for _, ev in s.events)
    assert s.recording.stats.errors == 1  # the Recording parses it the same way
    assert [ev for _, ev in s.events if isinstance(ev, Final)][-1].is_last


def test_expired_token_is_an_auth_error():
    with vl.serve(engine="sphinx", faults="token_ttl:0", announce=False) as server:
        s = vl.stream(np.zeros(24000, np.float32), samplerate=24000, provider="assemblyai-agent", url=server.url,
                      api_key=server.api_key, use_token=True, retry=FAST)
        with pytest.raises(AuthenticationError, match="token"):
            s.wait(30)
    assert server.api_key not in "".join(e.to_json() for e in s.recording.entries)


def test_a_stream_that_times_out_itself_is_reported_as_such(short):
    """wait() re-raises the stream's own StreamTimeout, not "still running" (both are TimeoutErrors)."""
    s, err = run(short, "latency:2", speed=None, final_timeout=0.2)
    assert isinstance(err, StreamTimeout) and isinstance(err, TimeoutError), err
    assert "waiting for" in str(err) and "still running" not in str(err), err
    assert s.done and s.error is err


def test_a_server_that_is_not_websocket_gives_a_handshake_error():
    """A plain HTTP/1.0 answer to the upgrade is a clear HandshakeError, not websockets' InvalidMessage."""
    import http.server
    import threading

    class Plain(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        s = vl.stream(np.zeros(16000, np.float32), samplerate=16000, url=f"ws://127.0.0.1:{httpd.server_port}",
                      api_key="sk_canary_notws", retry=FAST)
        with pytest.raises(HandshakeError, match="did not answer the upgrade as a WebSocket server") as info:
            s.wait(30)
        assert "sk_canary_notws" not in str(info.value)
    finally:
        httpd.shutdown()
