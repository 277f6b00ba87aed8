"""A stream lets go of its resources when it ends, whatever the outcome, and bounds the audio in flight.

* A stream that fails (the server closes with 1011 and reconnecting is off, or the key is wrong) closes its
  source at once: the long file read block by block, or the caller's generator (whose ``with`` closes its
  file) and its ``voicelab-source`` reader thread — while the failed `Stream` (whose error's traceback
  references the source's frames) is still referenced.
* ``with vl.stream(...) as s:`` stops and waits for the stream on leaving the block; the stream's own error
  is raised there unless another exception is already leaving the block.
* Unpaced (``speed=None``) the client sends new audio only while at most `MAX_IN_FLIGHT_AUDIO_S` is sent and
  not covered by a final, and never deadlocks when the server sends no finals.

Real sockets and the emulator on 127.0.0.1.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

import voicelab as vl
from tests.conftest import DATA
from voicelab.audio.chunking import Chunk
from voicelab.client import RetryPolicy
from voicelab.client.errors import AuthenticationError, ServerClosedError
from voicelab.client.front import Stream
from voicelab.client.stream_state import IN_FLIGHT_WAIT_WALL_S, MAX_IN_FLIGHT_AUDIO_S, StreamState
from voicelab.emulator.config import Limits
from voicelab.emulator.recognizers.base import Recognizer, RecognizerStream
from voicelab.protocols.events import Final, Word
from voicelab.providers import DriverOptions, get_provider

SPEECH = DATA / "speech" / "s02_weather_16k.flac"
#: Seconds within which a thread or file must be let go after the stream ended (generous: a shared machine).
RELEASED_WITHIN_S = 3.0


def _long_wav(path: Path, seconds: float) -> Path:
    """The weather sentence tiled to ``seconds`` (longer than HEAD_SECONDS: streamed block by block)."""
    speech, rate = sf.read(SPEECH, dtype="int16")
    reps = int(np.ceil(seconds * rate / len(speech)))
    sf.write(path, np.tile(speech, reps)[: int(seconds * rate)], rate, subtype="PCM_16")
    return path


def _open_fds(path: Path) -> int:
    """How many of this process's file descriptors point at ``path``."""
    target = str(path.resolve())
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                n += 1
        except OSError:
            continue
    return n


def _source_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "voicelab-source" and t.is_alive()]


def _released(path: Path) -> tuple[int, int]:
    """(fds open on ``path``, voicelab-source threads alive), polled until both are 0 or the bound passes."""
    deadline = time.monotonic() + RELEASED_WITHIN_S
    while True:
        fds, threads = _open_fds(path), len(_source_threads())
        if (fds == 0 and threads == 0) or time.monotonic() > deadline:
            return fds, threads
        time.sleep(0.05)


@pytest.fixture(scope="module")
def closing_server() -> Iterator[Any]:
    """Closes every connection with 1011 one second after the upgrade."""
    with vl.serve(engine="sphinx", faults="close_after_seconds:1;close_code:1011", announce=False,
                  recognizer_options={"processes": 0, "warm": 1}) as srv:
        yield srv


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _long_wav(tmp_path_factory.mktemp("cleanup") / "long.wav", 90.0)


def _blocks(path: Path) -> Iterator[bytes]:
    """A caller's generator: reads the file itself, 4096 bytes of 16 kHz linear16 at a time."""
    with sf.SoundFile(path) as f:
        for block in f.blocks(2048, dtype="int16"):
            yield block.tobytes()


def test_a_failed_file_stream_closes_its_file(closing_server: Any, long_wav: Path) -> None:
    s = vl.stream(long_wav, provider="pulse", url=closing_server.url, api_key=closing_server.api_key,
                  speed=4.0, reconnect=False)
    with pytest.raises(ServerClosedError):
        s.wait(30)
    assert isinstance(s.error, ServerClosedError) and s.error.__traceback__ is not None
    assert _released(long_wav) == (0, 0)
    assert s.recording.stats.audio_seconds_sent < 60  # it failed mid-file, not after reading it all


@pytest.mark.parametrize("failure", ["server closes 1011", "wrong key"])
def test_a_failed_generator_stream_closes_the_generator_and_ends_its_thread(
        closing_server: Any, long_wav: Path, failure: str) -> None:
    baseline = len(_source_threads())
    assert baseline == 0, "a voicelab-source thread of an earlier test is still alive"
    key = closing_server.api_key if failure == "server closes 1011" else "not-the-key"
    s = vl.stream(_blocks(long_wav), provider="pulse", url=closing_server.url, api_key=key, speed=4.0,
                  reconnect=False)
    with pytest.raises(ServerClosedError if failure == "server closes 1011" else AuthenticationError):
        s.wait(30)
    assert s.error is not None
    assert _released(long_wav) == (0, 0)


def test_with_stops_and_waits_on_leaving_the_block(closing_server: Any, long_wav: Path) -> None:
    with vl.stream(long_wav, provider="pulse", url=closing_server.url, api_key=closing_server.api_key,
                   speed=1.0) as s:
        assert isinstance(s, Stream)
        time.sleep(0.3)
        assert not s.done
    assert s.done and s.error is None
    closes = s.recording.of("close")
    assert closes and closes[-1]["by"] in ("user", "clean"), [dict(c) for c in closes]
    assert _released(long_wav) == (0, 0)


def test_with_raises_the_streams_error_unless_another_is_leaving(closing_server: Any, long_wav: Path) -> None:
    with pytest.raises(AuthenticationError):  # nothing else leaving the block: raised as wait() raises it
        with vl.stream(long_wav, provider="pulse", url=closing_server.url, api_key="not-the-key",
                       reconnect=False) as s:
            while not s.done:
                time.sleep(0.05)
    with pytest.raises(KeyError, match="mine"):  # the block's own exception goes on; the stream's is kept
        with vl.stream(long_wav, provider="pulse", url=closing_server.url, api_key="not-the-key",
                       reconnect=False) as s2:
            while not s2.done:
                time.sleep(0.05)
            raise KeyError("mine")
    assert isinstance(s2.error, AuthenticationError)


# --------------------------------------------------------------------------- the audio in flight, unpaced


def _state() -> StreamState:
    driver = get_provider("pulse").make_driver(DriverOptions())
    return StreamState(driver=driver, retry=RetryPolicy(), reconnect=True)


def _send(state: StreamState, start: float, end: float) -> None:
    c = Chunk(state.seq, b"\0" * 64, "linear16", 16000, 1, start, end)
    state.take(c)
    state.on_sent(c)


def _final(end: float) -> Final:
    return Final(provider="pulse", text="x", words=(Word(word="x", start=end - 0.1, end=end),))


def test_unpaced_sends_wait_for_finals_past_the_bound_and_never_deadlock() -> None:
    state = _state()
    state.on_connected(now_wall_s=0.0)
    for k in range(int(MAX_IN_FLIGHT_AUDIO_S)):
        _send(state, k, k + 1.0)
    assert state.in_flight_audio_s == MAX_IN_FLIGHT_AUDIO_S and not state.hold_for_finals(paced=False)
    _send(state, MAX_IN_FLIGHT_AUDIO_S, MAX_IN_FLIGHT_AUDIO_S + 1)
    assert state.hold_for_finals(paced=False)
    assert not state.hold_for_finals(paced=True), "a paced stream is bounded by its pace, never held"
    state.on_event(_final(5.0), now_wall_s=1.0)  # a final covers 5 s: back under the bound
    assert state.in_flight_audio_s == MAX_IN_FLIGHT_AUDIO_S + 1 - 5 and not state.hold_for_finals(paced=False)
    for k in range(6):
        _send(state, 31.0 + k, 32.0 + k)
    assert state.hold_for_finals(paced=False)
    state.on_in_flight_wait_expired()  # no final came in time: send on, unbounded ...
    _send(state, 37.0, 38.0)
    assert not state.hold_for_finals(paced=False)
    state.on_event(_final(6.0), now_wall_s=2.0)  # ... until a final covers more audio
    assert state.hold_for_finals(paced=False)
    state.on_in_flight_wait_expired()
    state.on_connected(now_wall_s=3.0)  # a new connection is bounded again
    assert state.hold_for_finals(paced=False)


class _NoFinals(RecognizerStream):
    """Hears nothing, ever: no final covers any audio."""

    def _process(self, samples: np.ndarray, *, now: float) -> list[Any]:
        return []

    def _flush(self, *, now: float) -> list[Any]:
        return []


class _NoFinalsRecognizer(Recognizer):
    name = "no-finals"

    def open(self, *, samplerate: int = 16000, word_times: bool = False, partials: bool = True,
             endpointing: Any = None) -> RecognizerStream:
        return _NoFinals(samplerate=samplerate, word_times=word_times, partials=partials)


class _EveryTwoSeconds(RecognizerStream):
    """One final (with a timed word) per 2 s of audio, as fast as the audio comes."""

    said = 0.0

    def _process(self, samples: np.ndarray, *, now: float) -> list[Any]:
        from voicelab.emulator.recognizers.base import RecognizedFinal, WordTime

        if self.audio_time - self.said < 2.0:
            return []
        start, self.said = self.said, self.audio_time
        return [RecognizedFinal("tone", start, self.said, (WordTime("tone", start, self.said, 1.0),))]

    def _flush(self, *, now: float) -> list[Any]:
        return []


class _EveryTwoSecondsRecognizer(Recognizer):
    name = "every-two-seconds"

    def open(self, *, samplerate: int = 16000, word_times: bool = False, partials: bool = True,
             endpointing: Any = None) -> RecognizerStream:
        return _EveryTwoSeconds(samplerate=samplerate, word_times=word_times, partials=partials)


def _in_flight_peak(s: Stream) -> float:
    """The most audio sent and not yet covered by a final's last word, from the Recording."""
    points = sorted([(c.t, 0, c["audio_end"]) for c in s.recording.of("chunk")]
                    + [(t, 1, ev.words[-1].end) for t, ev in s.events if isinstance(ev, Final) and ev.words])
    sent = covered = peak = 0.0
    for _, final, audio in points:
        if final:
            covered = max(covered, audio)
        else:
            sent = max(sent, audio)
        peak = max(peak, sent - covered)
    return peak


def test_unpaced_stream_keeps_the_audio_in_flight_bounded(long_wav: Path) -> None:
    limits = Limits(max_messages_per_second=None, max_session_seconds=None)
    with vl.serve(recognizer=_EveryTwoSecondsRecognizer(), limits=limits, announce=False) as srv:
        s = vl.stream(long_wav, provider="pulse", url=srv.url, api_key=srv.api_key, speed=None).wait(60)
    assert s.recording.stats.audio_seconds_sent == pytest.approx(90.0, abs=0.2)
    peak = _in_flight_peak(s)
    assert peak <= MAX_IN_FLIGHT_AUDIO_S + 2.5, peak  # the bound, plus a chunk and a final's step
    assert peak > 5, peak  # it did run ahead of the finals (up to the bound), not in lockstep


def test_unpaced_stream_to_a_server_without_finals_completes(long_wav: Path) -> None:
    limits = Limits(max_messages_per_second=None, max_session_seconds=None)
    with vl.serve(recognizer=_NoFinalsRecognizer(), limits=limits, announce=False) as srv:
        t0 = time.monotonic()
        s = vl.stream(long_wav, provider="pulse", url=srv.url, api_key=srv.api_key, speed=None).wait(60)
        took = time.monotonic() - t0
    assert s.error is None and s.recording.stats.audio_seconds_sent == pytest.approx(90.0, abs=0.2)
    # one wait for finals (IN_FLIGHT_WAIT_WALL_S) once the bound was reached, then unbounded to the end
    assert IN_FLIGHT_WAIT_WALL_S <= took < IN_FLIGHT_WAIT_WALL_S + 10, took
