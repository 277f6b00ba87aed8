"""The client against the local emulator (real servers on 127.0.0.1 port 0)."""

import statistics
import threading
import time

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.client import AuthenticationError, RateLimitError, RetryPolicy
from voicelab.protocols.events import Final, Partial, SessionEnded, SessionReady

CANARY = "sk_canary_5e1f00d9a7"


@pytest.fixture(scope="module")
def sphinx():
    with vl.serve(engine="sphinx", api_key=CANARY, announce=False) as server:
        yield server


def _wait_idle(server, timeout=5.0):
    end = time.monotonic() + timeout
    while server.sessions and time.monotonic() < end:
        time.sleep(0.05)
    return server.sessions


def test_pulse_stream_returns_at_once_and_ends_cleanly(sphinx):
    t0 = time.monotonic()
    session = vl.stream(DATA / "speech" / "s02_weather_16k.flac", url=sphinx.url, api_key=sphinx.api_key, speed=4)
    assert time.monotonic() - t0 < 0.5 and not session.done
    session.wait(60)
    kinds = [type(ev) for _, ev in session.events]
    assert Partial in kinds and Final in kinds
    assert kinds.index(Partial) < kinds.index(Final)
    finals = [ev for _, ev in session.events if isinstance(ev, Final)]
    assert finals[-1].is_last and all(not f.is_last for f in finals[:-1])
    st = session.recording.stats
    assert st.close_codes == (1000,) and st.chunks_sent == 44 and st.finals == len(finals)
    assert _wait_idle(sphinx) == 0, "the server still holds a session after a clean end"
    assert CANARY not in "".join(e.to_json() for e in session.recording.entries) + repr(session)


def test_wrong_key_fails_fast_with_the_fix(sphinx):
    t0 = time.monotonic()
    session = vl.stream(np.zeros(16000, np.float32), samplerate=16000, url=sphinx.url, api_key="Token abc")
    with pytest.raises(AuthenticationError, match="Bearer") as info:
        session.wait(30)
    assert time.monotonic() - t0 < 3
    assert info.value.status == 401
    assert [e.kind for e in session.recording.entries].count("connect") == 1


def test_429_waits_for_retry_after():
    with vl.serve(engine="sphinx", faults="reject:429;retry_after:1", announce=False) as server:
        session = vl.stream(np.zeros(1600, np.float32), samplerate=16000, url=server.url, api_key=server.api_key,
                            retry=RetryPolicy(max_attempts=3, base=0.01))
        with pytest.raises(RateLimitError) as info:
            session.wait(30)
    assert info.value.retry_after == 1.0
    connects = [e.t for e in session.recording.of("connect")]
    assert len(connects) == 3
    assert all(b - a >= 0.95 for a, b in zip(connects, connects[1:], strict=False))


def test_stop_mid_stream_still_ends_cleanly(sphinx):
    session = vl.stream(DATA / "speech" / "s05_asr_16k.flac", url=sphinx.url, api_key=sphinx.api_key, speed=1)
    time.sleep(2.0)
    session.stop()
    session.wait(30)
    finals = [ev for _, ev in session.events if isinstance(ev, Final)]
    assert finals and finals[-1].is_last
    assert session.recording.stats.audio_seconds_sent < 6
    assert session.recording.stats.close_codes == (1000,)
    assert _wait_idle(sphinx) == 0


def test_agent_session_ends_with_session_end(sphinx):
    clip = vl.load(DATA / "speech" / "s02_weather_24k.flac")
    session = vl.stream(clip, provider="assemblyai-agent", url=sphinx.url, api_key=sphinx.api_key, speed=4,
                        params={"system_prompt": "test"})
    session.wait(60)
    kinds = [type(ev) for _, ev in session.events]
    assert kinds[0] is SessionReady and kinds[-1] is SessionEnded
    sent = [e["message"]["type"] for e in session.recording.of("send")]
    assert sent[0] == "session.update" and sent[-1] == "session.end"
    audio_msgs = [e for e in session.recording.of("send") if e["message"]["type"] == "input.audio"]
    assert audio_msgs == [] or all("omitted_base64_chars" in str(m.data) for m in audio_msgs)
    assert _wait_idle(sphinx) == 0


def test_replay_gives_the_same_events(sphinx, tmp_path):
    path = tmp_path / "s.jsonl"
    live = vl.stream(DATA / "speech" / "s01_fox_16k.flac", url=sphinx.url, api_key=sphinx.api_key, speed=4,
                     record=path)
    live.wait(60)
    played = vl.replay(path).wait(30)
    assert [(ev.kind, getattr(ev, "text", None)) for _, ev in played.events] == \
        [(ev.kind, getattr(ev, "text", None)) for _, ev in live.events]
    assert played.transcript == live.transcript
    timed = vl.replay(vl.Recording.load(path), timing="original")
    t0 = time.monotonic()
    timed.wait(30)
    span = live.events[-1][0] - live.events[0][0]
    assert time.monotonic() - t0 >= 0.8 * span


def test_injected_latency_is_measured_within_10_ms():
    """session.ready does not depend on the recognizer, so connect_time isolates the injected delay."""

    def median_connect(server, n=5):
        values = []
        for _ in range(n):
            s = vl.stream(np.zeros(2400, np.float32), samplerate=24000, provider="assemblyai-agent",
                          url=server.url, api_key=server.api_key, speed=None)
            s.wait(30)
            values.append(s.metrics()["connect_time"].values[0])
        return statistics.median(values)

    with vl.serve(engine="sphinx", announce=False) as plain:
        base = median_connect(plain)
    with vl.serve(engine="sphinx", faults="latency:0.3", announce=False) as slow:
        delayed = median_connect(slow)
    assert abs((delayed - base) - 0.3) <= 0.010, (base, delayed)


def test_finalize_on_request_gets_a_final_mid_stream():
    """Stream.finalize() sends Pulse's {"type":"finalize"}; the final that answers it is marked from_finalize."""
    clip = vl.load(DATA / "speech" / "s02_weather_16k.flac")
    got_partial = threading.Event()
    with vl.serve(engine="sphinx", announce=False) as server:
        s = vl.stream(clip, url=server.url, api_key=server.api_key, speed=2, params={"itn_normalize": True},
                      on_event=lambda t, ev: got_partial.set() if isinstance(ev, Partial) and ev.text else None)
        assert got_partial.wait(30)
        s.finalize()
        s.wait(60)
    sent = [e["message"]["type"] for e in s.recording.of("send") if isinstance(e.get("message"), dict)]
    assert sent.count("finalize") == 1 and sent[-1] == "close_stream"
    finals = [ev for _, ev in s.events if isinstance(ev, Final)]
    assert any(f.from_finalize and not f.is_last for f in finals), finals


def test_finalize_is_refused_where_the_provider_has_no_such_message():
    with vl.serve(engine="sphinx", announce=False) as server:
        s = vl.stream(np.zeros(24000, np.float32), samplerate=24000, provider="assemblyai-agent", url=server.url,
                      api_key=server.api_key)
        with pytest.raises(vl.client.StreamSetupError, match="cannot be finalized"):
            s.finalize()
        s.stop()
        s.wait(60)
