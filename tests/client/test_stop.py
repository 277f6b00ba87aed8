"""`Stream.stop()` ends a stream promptly at any moment, before connecting when no connection is open yet.

Every wait is covered with real sockets on 127.0.0.1: an iterator or live source that has not given its
first second of audio (the pre-flight check reads it before connecting), a token endpoint and an upgrade
that never answer (a "silent listener": a socket that accepts and never answers), a reconnect backoff
(a refused port, and a drop injected by the emulator), an agent session that never becomes ready, and a
live source that stalls mid-stream. Times are asserted relative to the stop, with generous bounds.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.client import RetryPolicy
from voicelab.client.front import Stream
from voicelab.client.stream_state import WAITING_FOR, Done, Reconnect, StreamState
from voicelab.errors import VoicelabWarning
from voicelab.providers import DriverOptions, get_provider
from voicelab.widgets import LiveAudioSource

#: Wall seconds within which a stream must have ended after stop() (generous: the machine is shared).
ENDED_WITHIN_S = 2.0
#: Retry settings whose backoff (30 s, no jitter) is far longer than any stop may take.
SLOW_RETRY = RetryPolicy(max_attempts=5, base=30.0, jitter=0.0)
SPEECH = DATA / "speech" / "s02_weather_16k.flac"


def _serve(**kwargs: Any) -> Any:
    return vl.serve(engine="sphinx", announce=False, recognizer_options={"processes": 0, "warm": 1}, **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with _serve() as srv:
        yield srv


class SilentListener:
    """A TCP socket that accepts connections and never answers: an upgrade or a token request to it hangs."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def received(self, conn: socket.socket, *, timeout: float = 5.0) -> tuple[bytes, bool]:
        """What the client sent on ``conn``, and whether it then closed it (within ``timeout``)."""
        conn.settimeout(timeout)
        data = b""
        try:
            while part := conn.recv(65536):
                data += part
        except TimeoutError:
            return data, False
        except ConnectionResetError:  # an aborted socket: closed too
            pass
        return data, True

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        self._thread.join(2)
        for conn in self.accepted:  # lets a token request blocked on this socket fail and its thread end
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentListener]:
    listener = SilentListener()
    yield listener
    listener.close()


def _refused_url() -> str:
    """A ws:// URL on a port nothing listens on (bound, then closed): connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


def _until(condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "the condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def _stop(stream: Stream) -> float:
    """Stop ``stream`` and wait for it to end; the wall seconds from stop() to its end."""
    t0 = time.monotonic()
    stream.stop()
    stream.wait(timeout=30)  # returns: the stream ended without an error
    return time.monotonic() - t0


def _kinds(stream: Stream) -> list[str]:
    return [e.kind for e in stream.recording.entries]


def _user_close(stream: Stream) -> Any:
    closes = stream.recording.of("close")
    assert closes and closes[-1].get("by") == "user", _kinds(stream)
    return closes[-1]


# -- waiting for the first audio (the pre-flight check reads one second before connecting) --------------------
def test_stop_while_a_live_source_has_no_audio_yet_ends_before_connecting(server: Any) -> None:
    src = LiveAudioSource(samplerate=16000, name="the test microphone")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = vl.stream(src, provider="pulse", url=server.url, api_key=server.api_key, speed=None)
        time.sleep(0.3)  # waiting for its first second
        assert not s.done
        elapsed = _stop(s)
        src.close()  # what users did to end the wait: now it comes after the end and changes nothing
        time.sleep(0.2)
    assert elapsed < ENDED_WITHIN_S, elapsed
    assert s.error is None and s.done
    assert not [w for w in caught if issubclass(w.category, VoicelabWarning)], [str(w.message) for w in caught]
    assert _kinds(s) == ["session", "close"]  # no preflight report, no connect, nothing sent
    close = _user_close(s)
    assert close.get("code") is None and close.get("waiting_for") == "audio"
    assert close.get("reason") == "stopped by the user before connecting, while waiting for the first audio"
    assert s.preflight == () and s.events == []
    d = vl.diagnose(s)
    assert d.ok and d.codes == [], str(d)  # a user stop before any audio is no problem (no no_transcripts)
    assert d.closes[0]["by"] == "user" and d.close_codes == (None,)


def test_stop_while_some_audio_came_but_not_a_second_still_sends_nothing(server: Any) -> None:
    src = LiveAudioSource(samplerate=16000)
    s = vl.stream(src, provider="pulse", url=server.url, api_key=server.api_key, speed=None)
    src.push(np.zeros(4000, np.int16), samplerate=16000)  # 0.25 s: the check waits for more
    time.sleep(0.3)
    assert _stop(s) < ENDED_WITHIN_S
    assert _kinds(s) == ["session", "close"] and _user_close(s).get("waiting_for") == "audio"
    src.close()


def test_stop_ends_a_recorder_stream_before_the_recording_starts(server: Any) -> None:
    from voicelab.widgets import Recorder

    rec = Recorder(target_rate=16000)
    s = rec.stream_to(url=server.url, api_key=server.api_key)
    time.sleep(0.3)
    assert _stop(s) < ENDED_WITHIN_S
    assert _kinds(s) == ["session", "close"] and _user_close(s).get("waiting_for") == "audio"
    assert vl.diagnose(s).codes == []


def test_stop_while_a_sync_iterator_blocks_for_its_first_item(server: Any) -> None:
    """A blocking next() runs on a thread of its own: the client's loop, and other streams on it, go on."""
    items: queue.Queue[bytes | None] = queue.Queue()

    def microphone() -> Iterator[bytes]:
        while (item := items.get()) is not None:  # blocks, as a device read does
            yield item

    s = vl.stream(microphone(), provider="pulse", url=server.url, api_key=server.api_key, speed=None,
                  params={"sample_rate": 16000, "encoding": "linear16"})
    other = vl.stream(SPEECH, provider="pulse", url=server.url, api_key=server.api_key, speed=None)
    other.wait(60)  # the shared event loop is not blocked by the waiting generator
    assert "weather" in other.transcript.lower()
    assert not s.done
    assert _stop(s) < ENDED_WITHIN_S
    assert _kinds(s) == ["session", "close"] and _user_close(s).get("waiting_for") == "audio"
    items.put(None)  # lets the generator's thread end


def test_stop_right_after_stream_returns_is_never_lost(server: Any) -> None:
    """stop() may come before the client's loop has started the stream: it is kept, not dropped."""
    s = vl.stream(SPEECH, provider="pulse", url=server.url, api_key=server.api_key)  # 4.4 s at real time
    assert _stop(s) < ENDED_WITHIN_S
    closes = s.recording.of("close")
    if s.recording.of("handshake"):  # the loop thread connected before stop() ran (it holds the GIL): a clean end
        assert [c.get("by") for c in closes] == ["clean"] and s.recording.stats.audio_seconds_sent < 1.0
    else:
        assert _user_close(s).get("reason", "").startswith("stopped by the user before connecting")
        assert s.recording.stats.chunks_sent == 0


# -- connecting: a token that is never minted, an upgrade that is never answered ----------------------------
def test_stop_during_a_hanging_upgrade_abandons_it(silent: SilentListener) -> None:
    s = vl.stream(SPEECH, provider="pulse", url=silent.url, api_key="sk_test_key", open_timeout=30)
    _until(lambda: bool(silent.accepted), what="the upgrade request")
    time.sleep(0.3)  # the request is out; no answer comes
    assert _stop(s) < ENDED_WITHIN_S
    close = _user_close(s)
    assert close.get("waiting_for") == "upgrade" and close.get("code") is None
    assert close.get("reason") == ("stopped by the user before connecting, while waiting for the server's answer "
                                   "to the upgrade")
    assert _kinds(s) == ["session", "preflight", "connect", "close"]  # no handshake entry: it never completed
    request, closed = silent.received(silent.accepted[0])
    assert request.startswith(b"GET /waves/v1/stt/live") and closed  # the client closed its socket
    assert vl.diagnose(s).codes == []


def test_stop_while_a_token_is_minted_ends_before_connecting(silent: SilentListener) -> None:
    s = vl.stream(SPEECH, provider="pulse", url=silent.url, api_key="sk_test_key", use_token=True)
    _until(lambda: bool(silent.accepted), what="the token request")
    time.sleep(0.3)  # the request is out; no answer comes
    assert _stop(s) < ENDED_WITHIN_S
    close = _user_close(s)
    assert close.get("waiting_for") == "token"
    assert close.get("reason") == "stopped by the user before connecting, while waiting for a temporary token"
    assert "connect" not in _kinds(s)  # no WebSocket connection was attempted
    assert vl.diagnose(s).codes == []


# -- waiting to reconnect ----------------------------------------------------------------------------------
def test_stop_during_the_backoff_after_a_refused_connection() -> None:
    s = vl.stream(SPEECH, provider="pulse", url=_refused_url(), api_key="sk_test_key", retry=SLOW_RETRY)
    _until(lambda: bool(s.recording.of("handshake")), what="the refused attempt")
    time.sleep(0.2)  # in the 30 s backoff
    assert _stop(s) < ENDED_WITHIN_S
    close = _user_close(s)
    assert close.get("waiting_for") == "retry"
    assert close.get("reason") == ("stopped by the user before connecting, while waiting for the next "
                                   "connection attempt")
    assert _kinds(s).count("connect") == 1
    # the refusal was real and is reported; nothing is made up about audio that was never sent
    assert vl.diagnose(s).codes == ["connect_failed"]


def test_stop_during_the_backoff_after_a_drop_does_not_reconnect() -> None:
    with _serve(faults="drop_after_chunks:5") as srv:
        s = vl.stream(SPEECH, provider="pulse", url=srv.url, api_key=srv.api_key, speed=None, retry=SLOW_RETRY)
        _until(lambda: bool(s.recording.of("gap")), what="the drop")
        time.sleep(0.2)
        assert _stop(s) < ENDED_WITHIN_S
    close = _user_close(s)
    assert close.get("waiting_for") == "retry" and close.get("code") is None
    assert close.get("reason", "").startswith("stopped by the user before reconnecting")
    assert _kinds(s).count("connect") == 1 and s.recording.stats.close_codes == (1006,)


# -- connected ---------------------------------------------------------------------------------------------
def test_stop_while_an_agent_session_is_not_ready_closes_it() -> None:
    with _serve(faults="latency:5") as srv:  # session.ready comes 5 s late
        s = vl.stream(vl.load(SPEECH).resample(24000), provider="assemblyai-agent", url=srv.url,
                      api_key=srv.api_key)
        _until(lambda: bool(s.recording.of("handshake")), what="the upgrade")
        time.sleep(0.3)
        assert _stop(s) < ENDED_WITHIN_S
    close = s.recording.of("close")
    assert [(c.get("code"), c.get("by")) for c in close] == [(1000, "user")]
    assert s.recording.stats.chunks_sent == 0 and _kinds(s).count("connect") == 1
    assert vl.diagnose(s).codes == []


def test_stop_while_a_live_source_stalls_mid_stream_ends_cleanly(server: Any) -> None:
    src = LiveAudioSource(samplerate=16000)
    s = vl.stream(src, provider="pulse", url=server.url, api_key=server.api_key, speed=None)
    samples = vl.load(SPEECH).to_int16()
    for a in range(0, 2 * 16000, 1600):  # two seconds, then nothing more (a paused microphone)
        src.push(samples[a:a + 1600], samplerate=16000)
    _until(lambda: s.recording.stats.chunks_sent >= 20, what="the audio pushed to go out")
    time.sleep(0.3)
    assert _stop(s) < ENDED_WITHIN_S
    assert s.recording.stats.close_codes == (1000,)
    assert s.recording.of("close")[-1].get("by") == "clean"  # close_stream, then the last final
    assert s.recording.of("send")[-1].get("message") == {"type": "close_stream"}
    src.close()


# -- the decisions (sans-I/O) ------------------------------------------------------------------------------
def _state() -> StreamState:
    return StreamState(driver=get_provider("pulse").make_driver(DriverOptions()), retry=SLOW_RETRY)


@pytest.mark.parametrize("waiting_for", [None, *WAITING_FOR])
def test_a_stop_with_no_connection_open_ends_at_once(waiting_for: str | None) -> None:
    state = _state()
    stopped = state.on_stop(waiting_for=waiting_for)
    assert state.stopped and stopped.waiting_for == waiting_for
    assert stopped.reason.startswith("stopped by the user before connecting")
    assert (waiting_for is None) == (", while waiting for" not in stopped.reason)


def test_a_stop_after_a_connection_says_before_reconnecting() -> None:
    state = _state()
    state.begin_attempt()
    state.on_connected(now_wall_s=0.0)
    assert state.on_stop(waiting_for="retry").reason == ("stopped by the user before reconnecting, while waiting "
                                                          "for the next connection attempt")


def test_after_a_stop_while_connected_a_drop_ends_the_stream_instead_of_reconnecting() -> None:
    state = _state()
    state.begin_attempt()
    state.on_connected(now_wall_s=0.0)
    assert isinstance(state.on_connection_end(close_code=1006, now_wall_s=0.5), Reconnect)  # no stop: it retries
    state.begin_attempt()
    state.on_connected(now_wall_s=1.0)
    state.on_stop_while_connected()
    end = state.on_connection_end(close_code=1006, now_wall_s=1.5)
    assert isinstance(end, Done) and "stopped by the user" in end.notes[0].text


def test_a_stop_before_any_audio_reads_plainly_in_diagnose_and_the_event_log():
    """No 'none kept' for audio never sent, no 'close None' for a session that never connected."""
    from voicelab.plot.frames import FrameLog
    from voicelab.recording.log import Recording

    rec = Recording(None, provider="pulse")
    rec.log("close", code=None, reason="stopped by the user before connecting", by="user")
    d = vl.diagnose(rec)
    assert d.chunks_sent == 0 and "none: no audio was sent" in str(d) and "none kept" not in str(d)
    assert d.to_dict()["chunks_sent"] == 0
    rows = [r["s"] for r in FrameLog.of(rec).rows]
    closes = [s for s in rows if "no close code" in s]
    assert closes and not any("close None" in s for s in rows), rows
