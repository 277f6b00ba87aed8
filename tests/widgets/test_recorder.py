"""The Recorder's kernel side, without a browser: traits, the JS→Python protocol, chunks and errors.

Messages are fed through ipywidgets' custom-message dispatch (what the comm calls), with chunks as
memoryview buffers, exactly as the ESM sends them (see voicelab/widgets/recorder.js).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anywidget")

from voicelab.audio.chunking import Chunk  # noqa: E402
from voicelab.errors import AudioFormatError, VoicelabError  # noqa: E402
from voicelab.widgets.recorder import (  # noqa: E402
    InsecureContextError,
    MicrophoneError,
    MicrophonePermissionError,
    NoMicrophoneError,
    Recorder,
    RecorderNotFinishedError,
)

SETTINGS = {"echoCancellation": False, "autoGainControl": False, "noiseSuppression": False,
            "sampleRate": 44100, "channelCount": 1}


def pcm(seconds: float, rate: int = 16000, seed: int = 1) -> np.ndarray:
    n = round(seconds * rate)
    t = np.arange(n) / rate
    noise = np.random.default_rng(seed).normal(0, 0.05, n)
    return np.clip((0.4 * np.sin(2 * np.pi * 220 * t) + noise) * 32767, -32768, 32767).astype("<i2")


def send(rec: Recorder, content: dict, buffers: list | None = None) -> None:
    rec._handle_custom_msg(content, buffers or [])


def start(rec: Recorder, *, context_rate: int = 44100, settings: dict | None = None) -> None:
    send(rec, {"type": "start", "context_rate": context_rate, "target_rate": rec.target_rate, "dtype": "int16",
               "byteorder": "little", "channels": 1, "chunk_frames": round(rec.chunk_seconds * rec.target_rate),
               "track_settings": settings if settings is not None else SETTINGS, "label": "Fake Default Audio Input"})


def feed(rec: Recorder, samples: np.ndarray, *, chunk_frames: int = 1600, done: bool = True) -> int:
    seq = 0
    for a in range(0, len(samples), chunk_frames):
        part = samples[a:a + chunk_frames]
        send(rec, {"type": "chunk", "seq": seq, "frames": len(part)}, [memoryview(part.tobytes())])
        seq += 1
    if done:
        send(rec, {"type": "done", "frames": len(samples), "reason": "stop"})
    return seq


# -- traits -------------------------------------------------------------------------------------------------
def test_defaults_and_options_are_synced_traits() -> None:
    rec = Recorder()
    assert (rec.target_rate, rec.echo_cancellation, rec.chunk_seconds, rec.max_seconds) == (16000, True, 0.1, None)
    assert rec.state == "idle" and rec.context_rate == 0 and rec.track_settings == {} and rec.error == {}
    rec2 = Recorder(target_rate=24000, echo_cancellation=False, chunk_seconds=0.05, max_seconds=3.0)
    state = rec2.get_state()
    for name, value in {"target_rate": 24000, "echo_cancellation": False, "chunk_seconds": 0.05,
                        "max_seconds": 3.0, "state": "idle", "context_rate": 0, "track_settings": {},
                        "error": {}}.items():
        assert state[name] == value, name
    assert "registerProcessor" in state["_worklet"] and "vl-rec" in state["_css"]
    assert "level" not in state and "duration" not in state  # kernel-side mirrors only


@pytest.mark.parametrize("kwargs", [{"target_rate": 100}, {"target_rate": 16000.5}, {"chunk_seconds": 0},
                                    {"max_seconds": -1.0}])
def test_bad_options_raise_with_the_valid_range(kwargs: dict) -> None:
    with pytest.raises(AudioFormatError, match="must be"):
        Recorder(**kwargs)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Recorder(16000)  # type: ignore[misc]


def test_repr_is_deterministic_and_has_no_address() -> None:
    rec = Recorder(echo_cancellation=False, max_seconds=2.5)
    assert repr(rec) == ("<Recorder idle: int16 mono @ 16000 Hz, 0.1 s chunks, echo cancellation off, max 2.5 s>")
    assert repr(rec) == repr(Recorder(echo_cancellation=False, max_seconds=2.5))
    rec.context_rate = 44100
    start(rec)
    feed(rec, pcm(0.5))
    rec.state = "done"
    assert repr(rec) == ("<Recorder done: int16 mono @ 16000 Hz, 0.1 s chunks, echo cancellation off, max 2.5 s, "
                         "AudioContext 44100 Hz, 0.50 s recorded>")
    assert not re.search(r"0x[0-9a-f]{6,}", repr(rec))


# -- the protocol -------------------------------------------------------------------------------------------
def test_fed_chunks_become_a_clip_equal_to_the_pcm() -> None:
    rec = Recorder(echo_cancellation=False)
    samples = pcm(1.234)
    start(rec)
    assert rec.recording
    with pytest.raises(RecorderNotFinishedError, match="still recording"):
        _ = rec.clip
    n = feed(rec, samples)
    assert n == 13 and not rec.recording
    clip = rec.clip
    assert clip.samplerate == 16000 and clip.channels == 1 and clip.frames == len(samples)
    np.testing.assert_array_equal(clip.to_int16(), samples)
    np.testing.assert_array_equal(clip.samples, samples.astype(np.float32) / 32768)
    prov = clip.provenance
    assert prov.source == "microphone" and prov.samplerate == 44100 and prov.dtype == "int16"
    assert prov.name == "Fake Default Audio Input" and prov.byteorder == "little"
    assert "AudioContext 44100 Hz" in prov.history[0] and "echoCancellation=False" in prov.history[0]
    assert "resampled to 16000 Hz" in prov.history[0]
    assert rec.duration == pytest.approx(len(samples) / 16000)
    assert -40 < rec.level < 0
    assert rec.wait(timeout=0.1) == clip


def test_clip_before_anything_was_recorded_says_what_to_do() -> None:
    with pytest.raises(RecorderNotFinishedError, match="press Record"):
        _ = Recorder().clip
    with pytest.raises(TimeoutError, match="not started"):
        Recorder().wait(timeout=0.05)


def test_a_second_take_replaces_the_first() -> None:
    rec = Recorder()
    start(rec)
    feed(rec, pcm(0.3, seed=1))
    first = rec.clip
    start(rec, context_rate=48000)
    with pytest.raises(RecorderNotFinishedError):
        _ = rec.clip
    feed(rec, pcm(0.2, seed=2))
    assert rec.clip.frames == 3200 and rec.clip.provenance.samplerate == 48000
    assert first.frames == 4800


def test_buffers_may_be_bytes_or_memoryviews_split_in_parts() -> None:
    rec = Recorder(target_rate=24000)
    samples = pcm(0.1, rate=24000)
    start(rec)
    raw = samples.tobytes()
    send(rec, {"type": "chunk", "seq": 0, "frames": len(samples)}, [memoryview(raw[:1000]), raw[1000:]])
    send(rec, {"type": "done", "frames": len(samples)})
    np.testing.assert_array_equal(rec.clip.to_int16(), samples)
    assert rec.clip.samplerate == 24000


def test_unknown_or_malformed_messages_do_not_break_the_widget(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    send(rec, {"type": "bogus"})
    send(rec, "not a dict")  # type: ignore[arg-type]
    start(rec)
    feed(rec, pcm(0.1))
    assert rec.clip.frames == 1600
    assert "unknown message" in caplog.text


# -- chunks -------------------------------------------------------------------------------------------------
def test_chunks_iterator_yields_linear16_chunks_with_audio_spans() -> None:
    rec = Recorder()
    samples = pcm(0.25)
    start(rec)
    feed(rec, samples)
    chunks = list(rec.chunks())
    assert [c.seq for c in chunks] == [0, 1, 2]
    assert all(isinstance(c, Chunk) and c.encoding == "linear16" and c.samplerate == 16000 and c.channels == 1
               for c in chunks)
    assert [(c.start, c.end) for c in chunks] == [(0.0, 0.1), (0.1, 0.2), (0.2, 0.25)]
    assert b"".join(c.data for c in chunks) == samples.tobytes()


def test_chunks_arrive_live_in_another_thread() -> None:
    rec = Recorder()
    samples = pcm(1.0)
    got: list[tuple[float, Chunk]] = []
    it = rec.chunks(timeout=5.0)  # taken before recording starts: follows the next take
    reader = threading.Thread(target=lambda: got.extend((time.monotonic(), c) for c in it))
    reader.start()
    start(rec)
    sent_at = []
    for seq in range(10):
        part = samples[seq * 1600:(seq + 1) * 1600]
        sent_at.append(time.monotonic())
        send(rec, {"type": "chunk", "seq": seq, "frames": 1600}, [memoryview(part.tobytes())])
        time.sleep(0.02)
    send(rec, {"type": "done", "frames": 16000})
    reader.join(5)
    assert not reader.is_alive()
    assert [c.seq for _, c in got] == list(range(10))
    assert got[0][0] < sent_at[-1]  # the first chunk was read before the last one was sent


def test_chunks_async_iterator() -> None:
    rec = Recorder()
    samples = pcm(0.5)

    async def main() -> list[Chunk]:
        async def produce() -> None:
            await asyncio.sleep(0.02)
            start(rec)
            for seq in range(5):
                await asyncio.to_thread(send, rec, {"type": "chunk", "seq": seq, "frames": 1600},
                                        [memoryview(samples[seq * 1600:(seq + 1) * 1600].tobytes())])
            send(rec, {"type": "done", "frames": 8000})

        task = asyncio.create_task(produce())
        out = [c async for c in rec.chunks(timeout=5.0)]
        await task
        return out

    chunks = asyncio.run(main())
    assert [c.seq for c in chunks] == list(range(5))
    assert b"".join(c.data for c in chunks) == samples.tobytes()


def test_chunk_iterator_timeout() -> None:
    rec = Recorder()
    with pytest.raises(TimeoutError, match="Recorder recording"):
        next(rec.chunks(timeout=0.05))


def test_each_take_is_a_live_audio_source_that_keeps_the_whole_take() -> None:
    from voicelab.widgets import LiveAudioSource

    rec = Recorder(target_rate=24000)
    first = rec.source
    assert isinstance(first, LiveAudioSource) and first.max_seconds is None and not first.closed
    start(rec)
    samples = pcm(3.0, rate=24000)
    feed(rec, samples, chunk_frames=2400)
    assert rec.source is first and first.closed and first.samplerate == 24000
    assert first.dropped_seconds == 0 and first.buffered_seconds == pytest.approx(3.0)
    np.testing.assert_array_equal(first.clip().to_int16(), samples)
    start(rec)  # the next take gets a new source; the old one stays as it was
    assert rec.source is not first and first.frames == len(samples)


def test_a_chunk_after_the_take_ended_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    start(rec)
    feed(rec, pcm(0.2))
    send(rec, {"type": "chunk", "seq": 2, "frames": 1600}, [memoryview(pcm(0.1, seed=9).tobytes())])
    assert rec.clip.frames == 3200
    assert "after the take ended" in caplog.text


# -- errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "cls", "fix"), [
    ("NotAllowedError", MicrophonePermissionError, "Grant the browser permission"),
    ("PermissionDeniedError", MicrophonePermissionError, "Grant the browser permission"),
    ("InsecureContextError", InsecureContextError, "HTTPS"),
    ("NotFoundError", NoMicrophoneError, "Check the device"),
    ("NotReadableError", NoMicrophoneError, "Check the device"),
    ("AbortError", MicrophoneError, "press Record again"),
])
def test_browser_errors_raise_specific_exceptions_naming_the_fix(name: str, cls: type, fix: str) -> None:
    rec = Recorder()
    it = rec.chunks()
    send(rec, {"type": "error", "name": name, "message": "the browser's words"})
    for call in (lambda: rec.clip, lambda: rec.wait(timeout=1), lambda: next(it), lambda: list(rec.chunks())):
        with pytest.raises(cls, match=fix) as info:
            call()
        assert isinstance(info.value, MicrophoneError) and isinstance(info.value, VoicelabError)
        assert info.value.name == name and info.value.browser_message == "the browser's words"
        assert "the browser's words" in str(info.value)


def test_insecure_context_message_names_localhost_and_permission_is_a_permission_error() -> None:
    rec = Recorder()
    send(rec, {"type": "error", "name": "InsecureContextError", "message": "http://10.0.0.5:8888"})
    with pytest.raises(InsecureContextError, match="localhost or http://127.0.0.1"):
        rec.wait()
    rec2 = Recorder()
    send(rec2, {"type": "error", "name": "NotAllowedError", "message": "Permission denied"})
    with pytest.raises(PermissionError):
        _ = rec2.clip


def test_error_wakes_a_waiting_reader_and_a_later_take_succeeds() -> None:
    rec = Recorder()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            rec.wait(timeout=5)
        except MicrophoneError as e:
            errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.05)
    send(rec, {"type": "error", "name": "NotFoundError", "message": "Requested device not found"})
    t.join(5)
    assert len(errors) == 1 and isinstance(errors[0], NoMicrophoneError)
    send(rec, {"type": "error", "name": "NotFoundError", "message": "again"})
    with pytest.raises(NoMicrophoneError, match="again"):
        _ = rec.clip
    start(rec)  # the user plugged a microphone in and pressed Record again
    feed(rec, pcm(0.2))
    assert rec.clip.frames == 3200


# -- streaming ------------------------------------------------------------------------------------------------
def test_stream_to_checks_the_rate_before_connecting() -> None:
    from voicelab.client.front import StreamSetupError

    rec = Recorder(target_rate=16000)
    with pytest.raises(StreamSetupError, match=r"24000 Hz here.*Recorder\(target_rate=...\) with one of 24000"):
        rec.stream_to(provider="assemblyai-agent", url="ws://127.0.0.1:9", api_key="k")
    with pytest.raises(StreamSetupError, match="8000 Hz"):
        rec.stream_to(provider="pulse", url="ws://127.0.0.1:9", api_key="k", params={"sample_rate": 8000})
    with pytest.raises(StreamSetupError, match="speed"):
        rec.stream_to(provider="pulse", url="ws://127.0.0.1:9", api_key="k", speed=1.0)


def test_stream_to_the_emulator_while_recording() -> None:
    pytest.importorskip("websockets")
    pytest.importorskip("pocketsphinx")
    import voicelab as vl

    clip = vl.load(str(Path(__file__).resolve().parents[2] / "data" / "speech" / "s02_weather_16k.flac"))
    samples = clip.to_int16()
    rec = Recorder(target_rate=16000)
    with vl.serve(engine="sphinx", announce=False) as server:
        session = rec.stream_to(provider="pulse", url=server.url, api_key=server.api_key)
        start(rec)
        for seq, a in enumerate(range(0, len(samples), 1600)):
            part = samples[a:a + 1600]
            send(rec, {"type": "chunk", "seq": seq, "frames": len(part)}, [memoryview(part.tobytes())])
        send(rec, {"type": "done", "frames": len(samples)})
        session.wait(timeout=60)
    assert "weather" in session.transcript.lower()
    sent = session.recording.of("chunk")
    assert len(sent) >= (len(samples) + 1599) // 1600  # every microphone chunk went out (replays may add more)
    assert sent[-1]["audio_end"] == pytest.approx(len(samples) / 16000)
