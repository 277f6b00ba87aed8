"""`LiveAudioSource`: pushing from threads, sync and async readers, end of stream, the memory bound, errors.

No widget library is needed: the source is plain Python (a test below proves it imports none).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voicelab.audio.chunking import Chunk
from voicelab.audio.clip import Clip
from voicelab.errors import AudioFormatError, VoicelabError
from voicelab.widgets.live_source import (
    LiveAudioReader,
    LiveAudioSource,
    LiveSourceClosedError,
    LiveSourceOverrunError,
    LiveSourceTimeoutError,
    SampleRateMismatchError,
)

ROOT = Path(__file__).resolve().parents[2]


def pcm(frames: int, *, value: int | None = None, seed: int = 0) -> np.ndarray:
    if value is not None:
        return np.full(frames, value, dtype="<i2")
    return np.random.default_rng(seed).integers(-20000, 20000, frames).astype("<i2")


# -- pushing and reading ------------------------------------------------------------------------------------
def test_pushed_audio_comes_out_as_linear16_chunks_with_audio_spans() -> None:
    src = LiveAudioSource(samplerate=16000)
    parts = [pcm(1600, seed=1), pcm(1600, seed=2), pcm(800, seed=3)]
    pushed = [src.push(p.tobytes(), samplerate=16000) for p in parts]
    src.close()
    got = list(src)
    assert got == pushed
    assert all(isinstance(c, Chunk) and c.encoding == "linear16" and c.samplerate == 16000 and c.channels == 1
               for c in got)
    assert [c.seq for c in got] == [0, 1, 2]
    assert [(c.start, c.end) for c in got] == [(0.0, 0.1), (0.1, 0.2), (0.2, 0.25)]
    assert b"".join(c.data for c in got) == np.concatenate(parts).tobytes()
    assert (src.frames, src.duration, src.chunk_count) == (4000, 0.25, 3)
    np.testing.assert_array_equal(src.clip().to_int16(), np.concatenate(parts))


def test_arrays_floats_clips_and_bytes_are_the_same_audio() -> None:
    x = pcm(480, seed=4)
    as_float = x.astype(np.float32) / 32768
    src = LiveAudioSource()
    a = src.push(x, samplerate=48000)
    b = src.push(x.tobytes(), samplerate=48000)
    c = src.push(memoryview(x.tobytes()), samplerate=48000)
    d = src.push(Clip(x, samplerate=48000))
    e = src.push(as_float, samplerate=48000)
    f = src.push(x.astype(">i2"), samplerate=48000)  # big-endian in memory, same values
    assert a.data == b.data == c.data == d.data == f.data == x.tobytes()
    np.testing.assert_allclose(np.frombuffer(e.data, "<i2"), x, atol=1)
    assert src.samplerate == 48000  # taken from the first push


def test_stereo_is_interleaved_and_shapes_are_checked() -> None:
    left, right = pcm(100, value=1000), pcm(100, value=-1000)
    src = LiveAudioSource(samplerate=8000, channels=2)
    c = src.push(np.stack([left, right], axis=1), samplerate=8000)
    assert c.channels == 2 and c.end == pytest.approx(100 / 8000)
    assert np.frombuffer(c.data, "<i2")[:4].tolist() == [1000, -1000, 1000, -1000]
    with pytest.raises(AudioFormatError, match=r"\(frames, 2\)"):
        src.push(left, samplerate=8000)
    with pytest.raises(AudioFormatError, match="whole frames"):
        src.push(b"\x00" * 6, samplerate=8000)  # 1.5 stereo frames
    with pytest.raises(AudioFormatError, match="2-channel"):
        src.push(Clip(left, samplerate=8000), samplerate=8000)
    assert src.clip().channels == 2 and src.clip().frames == 100


@pytest.mark.parametrize("bad", [np.zeros(10, dtype=np.int32), np.array([0.0, np.nan]), np.zeros((10, 3), "<i2")])
def test_bad_sample_arrays_are_audio_format_errors(bad: np.ndarray) -> None:
    with pytest.raises(AudioFormatError):
        LiveAudioSource().push(bad, samplerate=16000)


@pytest.mark.parametrize("kwargs", [{"samplerate": 0}, {"samplerate": 16000.5}, {"channels": 0},
                                    {"max_seconds": 0}, {"max_seconds": -1.0}, {"max_seconds": float("inf")}])
def test_bad_options_name_the_valid_range(kwargs: dict) -> None:
    with pytest.raises(AudioFormatError, match="must be"):
        LiveAudioSource(**kwargs)


# -- the rate travels with the samples ----------------------------------------------------------------------
def test_a_push_at_another_rate_is_a_clear_error_and_changes_nothing() -> None:
    src = LiveAudioSource(name="the test microphone")
    src.push(pcm(160), samplerate=16000)
    with pytest.raises(SampleRateMismatchError, match=r"16000 Hz.*24000 Hz.*resample") as info:
        src.push(pcm(240), samplerate=24000)
    assert isinstance(info.value, AudioFormatError) and isinstance(info.value, VoicelabError)
    assert isinstance(info.value, ValueError)
    assert "the test microphone" in str(info.value)
    with pytest.raises(SampleRateMismatchError):
        src.push(Clip(pcm(240), samplerate=24000))
    assert (src.frames, src.chunk_count, src.samplerate) == (160, 1, 16000)


def test_the_rate_is_required_and_a_clip_cannot_be_relabelled() -> None:
    src = LiveAudioSource(samplerate=16000)
    with pytest.raises(SampleRateMismatchError, match="samplerate="):
        src.push(pcm(160))
    with pytest.raises(SampleRateMismatchError, match="8000 Hz"):
        LiveAudioSource().push(Clip(pcm(80), samplerate=8000), samplerate=16000)
    with pytest.raises(SampleRateMismatchError, match="carries 16000 Hz"):
        src.push(pcm(80), samplerate=8000)


# -- threads and event loops --------------------------------------------------------------------------------
def test_threads_pushing_at_once_lose_and_duplicate_nothing() -> None:
    src = LiveAudioSource(samplerate=16000, max_seconds=None)
    n_threads, per_thread, frames = 4, 200, 32
    barrier = threading.Barrier(n_threads)

    def producer(k: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            src.push(pcm(frames, value=k * 1000 + i % 1000), samplerate=16000)

    readers: list[list[Chunk]] = [[], []]
    rthreads = [threading.Thread(target=lambda out=out: out.extend(src.chunks(timeout=10))) for out in readers]
    for t in rthreads:
        t.start()
    pthreads = [threading.Thread(target=producer, args=(k,)) for k in range(n_threads)]
    for t in pthreads:
        t.start()
    for t in pthreads:
        t.join(10)
    src.close()
    for t in rthreads:
        t.join(10)
        assert not t.is_alive()
    total = n_threads * per_thread
    for got in readers:
        assert [c.seq for c in got] == list(range(total))
        assert [c.start for c in got] == [i * frames / 16000 for i in range(total)]
        values = [int(np.frombuffer(c.data, "<i2")[0]) for c in got]
        for k in range(n_threads):  # each producer's chunks, in its own order, all there
            assert [v for v in values if v // 1000 == k] == [k * 1000 + i for i in range(per_thread)]
    assert src.frames == total * frames


def test_a_blocking_reader_gets_chunks_while_they_are_pushed() -> None:
    src = LiveAudioSource(samplerate=16000)
    got: list[tuple[float, Chunk]] = []
    reader = threading.Thread(target=lambda: got.extend((time.monotonic(), c) for c in src.chunks(timeout=5)))
    reader.start()
    sent_at = []
    for i in range(10):
        sent_at.append(time.monotonic())
        src.push(pcm(160, value=i), samplerate=16000)
        time.sleep(0.02)
    src.close()
    reader.join(5)
    assert not reader.is_alive()
    assert [c.seq for _, c in got] == list(range(10))
    assert got[0][0] < sent_at[-1]  # the first chunk was read before the last one was pushed


def test_async_readers_on_two_event_loops_are_woken_by_a_pushing_thread() -> None:
    src = LiveAudioSource(samplerate=16000)
    results: list[list[tuple[float, int]]] = [[], []]

    async def read(out: list[tuple[float, int]]) -> None:
        async for c in src.chunks(timeout=5):
            out.append((time.monotonic(), c.seq))

    loops = [threading.Thread(target=asyncio.run, args=(read(out),)) for out in results]
    for t in loops:
        t.start()
    time.sleep(0.05)  # both are waiting now
    sent_at = []
    for i in range(5):
        sent_at.append(time.monotonic())
        src.push(pcm(160, value=i), samplerate=16000)
        time.sleep(0.05)
    src.close()
    for t in loops:
        t.join(5)
        assert not t.is_alive()
    for out in results:
        assert [seq for _, seq in out] == list(range(5))
        assert out[0][0] < sent_at[1]  # woken by the push, not by a later poll


def test_the_source_itself_is_a_sync_and_async_iterable() -> None:
    src = LiveAudioSource(samplerate=8000)
    for i in range(3):
        src.push(pcm(80, value=i), samplerate=8000)
    src.close()

    async def collect() -> list[int]:
        return [c.seq async for c in src]

    assert [c.seq for c in src] == asyncio.run(collect()) == [0, 1, 2]
    assert isinstance(iter(src), LiveAudioReader)


# -- end of stream ------------------------------------------------------------------------------------------
def test_close_ends_readers_after_the_audio_before_it() -> None:
    src = LiveAudioSource(samplerate=16000)
    early = src.chunks()
    src.push(pcm(160), samplerate=16000)
    src.close()
    late = src.chunks()
    assert [c.seq for c in early] == [c.seq for c in late] == [0]
    assert src.closed and src.error is None and src.wait_closed(0)
    with pytest.raises(LiveSourceClosedError, match="closed"):
        src.push(pcm(160), samplerate=16000)
    src.close(RuntimeError("too late"))  # the first close wins
    assert src.error is None


def test_close_with_an_error_raises_it_in_every_reader_after_the_audio() -> None:
    class MicGone(VoicelabError):
        pass

    src = LiveAudioSource(samplerate=16000)
    src.push(pcm(160), samplerate=16000)
    err = MicGone("unplugged")
    src.close(err)
    it = src.chunks()
    assert next(it).seq == 0
    with pytest.raises(MicGone, match="unplugged"):
        next(it)

    async def drain() -> list[int]:
        return [c.seq async for c in src.chunks()]

    with pytest.raises(MicGone):
        asyncio.run(drain())


def test_wait_closed_blocks_until_the_producer_closes() -> None:
    src = LiveAudioSource()
    assert src.wait_closed(0.02) is False
    threading.Timer(0.05, src.close).start()
    t0 = time.monotonic()
    assert src.wait_closed(5) is True
    assert 0.03 < time.monotonic() - t0 < 4


# -- timeouts and the wait guard ----------------------------------------------------------------------------
def test_readers_time_out_with_a_voicelab_timeout_error() -> None:
    src = LiveAudioSource(samplerate=16000, name="the test tap")
    t0 = time.monotonic()
    with pytest.raises(LiveSourceTimeoutError, match="no audio from the test tap for 0.1 s") as info:
        next(src.chunks(timeout=0.1))
    assert 0.09 < time.monotonic() - t0 < 3
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, VoicelabError)

    async def one() -> Chunk:
        return await src.chunks(timeout=0.1).__anext__()

    t0 = time.monotonic()
    with pytest.raises(LiveSourceTimeoutError):
        asyncio.run(one())
    assert 0.09 < time.monotonic() - t0 < 3


def test_the_wait_guard_runs_only_before_a_blocking_wait() -> None:
    calls: list[int] = []

    def guard() -> None:
        calls.append(1)
        raise RuntimeError("would deadlock")

    src = LiveAudioSource(samplerate=16000, wait_guard=guard)
    src.push(pcm(160), samplerate=16000)
    it = src.chunks()
    assert next(it).seq == 0 and calls == []  # audio ready: no wait, no guard
    with pytest.raises(RuntimeError, match="would deadlock"):
        next(it)
    assert calls == [1]

    src2 = LiveAudioSource(samplerate=16000, wait_guard=guard)

    async def one() -> Chunk:
        return await src2.chunks(timeout=0.05).__anext__()

    with pytest.raises(LiveSourceTimeoutError):  # async for never blocks a thread, so it is not guarded
        asyncio.run(one())
    assert calls == [1]


# -- bounded memory -----------------------------------------------------------------------------------------
def test_memory_is_bounded_and_a_reader_that_falls_behind_is_told() -> None:
    src = LiveAudioSource(samplerate=16000, max_seconds=0.5)
    slow = src.chunks()
    first = src.push(pcm(1600, value=0), samplerate=16000)
    assert next(slow) == first
    for i in range(1, 20):  # 2 s in 0.1 s chunks; nobody reads
        src.push(pcm(1600, value=i), samplerate=16000)
        assert src.buffered_seconds <= 0.5 + 1e-9
    assert src.buffered_seconds == pytest.approx(0.5)
    assert src.dropped_seconds == pytest.approx(1.5)
    with pytest.raises(LiveSourceOverrunError, match=r"1\.40 s of audio behind.*max_seconds=0\.5") as info:
        next(slow)
    assert info.value.lost_seconds == pytest.approx(1.4)
    assert isinstance(info.value, VoicelabError)
    fresh = src.chunks()  # a new reader starts at the oldest audio kept
    src.close()
    got = list(fresh)
    assert [c.seq for c in got] == list(range(15, 20)) and got[0].start == pytest.approx(1.5)
    clip = src.clip()
    assert clip.frames == 8000
    np.testing.assert_array_equal(clip.to_int16()[:1600], pcm(1600, value=15))


def test_a_chunk_longer_than_the_bound_is_kept_alone() -> None:
    src = LiveAudioSource(samplerate=8000, max_seconds=0.1)
    src.push(pcm(80), samplerate=8000)
    src.push(pcm(8000), samplerate=8000)  # 1 s
    assert src.buffered_seconds == pytest.approx(1.0) and src.dropped_seconds == pytest.approx(0.01)
    src.close()
    assert [c.seq for c in src] == [1]


def test_unbounded_source_keeps_everything_for_a_clip() -> None:
    src = LiveAudioSource(samplerate=16000, max_seconds=None)
    parts = [pcm(1600, seed=i) for i in range(50)]
    for p in parts:
        src.push(p, samplerate=16000)
    assert src.dropped_seconds == 0 and src.buffered_seconds == pytest.approx(5.0)
    np.testing.assert_array_equal(src.clip().to_int16(), np.concatenate(parts))
    with pytest.raises(AudioFormatError, match="no audio"):
        LiveAudioSource().clip()


def test_repr_says_what_it_holds() -> None:
    src = LiveAudioSource(samplerate=16000, max_seconds=30, name="mic")
    src.push(pcm(8000), samplerate=16000)
    assert repr(src) == ("<LiveAudioSource 'mic': linear16 mono @ 16000 Hz, 0.50 s pushed, 0.50 s buffered "
                         "(max 30 s), open>")
    src.close()
    assert repr(src).endswith(", closed>")


# -- what it needs, and who can use it ----------------------------------------------------------------------
def test_importing_it_loads_no_widget_library() -> None:
    code = ("import sys; import voicelab.widgets; from voicelab.widgets import LiveAudioSource; "
            "LiveAudioSource(samplerate=16000).push(b'\\0\\0', samplerate=16000); "
            "bad = [m for m in ('anywidget', 'ipywidgets', 'traitlets', 'IPython') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_voicelab_stream_sends_what_a_thread_pushes() -> None:
    pytest.importorskip("websockets")
    pytest.importorskip("pocketsphinx")
    import voicelab as vl

    clip = vl.load(str(ROOT / "data" / "speech" / "s02_weather_16k.flac"))
    samples = clip.to_int16()
    src = LiveAudioSource(samplerate=16000, name="the test producer")

    def produce() -> None:
        for a in range(0, len(samples), 1600):
            src.push(samples[a:a + 1600], samplerate=16000)
        src.close()

    with vl.serve(engine="sphinx", announce=False) as server:
        stream = vl.stream(src, provider="pulse", url=server.url, api_key=server.api_key, speed=None,
                           params={"sample_rate": 16000, "encoding": "linear16"})
        threading.Thread(target=produce).start()
        stream.wait(timeout=60)
    assert "weather" in stream.transcript.lower()
    sent = stream.recording.of("chunk")
    assert len(sent) >= (len(samples) + 1599) // 1600
    assert sent[-1]["audio_end"] == pytest.approx(len(samples) / 16000)
