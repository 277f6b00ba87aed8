"""The shared audio → recognizer loop (`voicelab.emulator.engine_feed.EngineFeed`), without a server.

The feed gets a small stand-in connection context (clock, engine pool, faults, ``fail``) and a
recording recognizer through its constructor; the server tests drive it with real recognizers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from voicelab.emulator.engine_feed import MAX_BATCH_SECONDS, AudioBatch, EngineFeed
from voicelab.emulator.faults import Faults
from voicelab.emulator.recognizers import RecognizedFinal, SpeechStart


class RecordingStream:
    """A recognizer stream that records what it is fed and answers each call with one event."""

    def __init__(self, samplerate: int, log: list[tuple[Any, ...]]) -> None:
        self.samplerate = samplerate
        self.log = log
        self.fed = 0

    def accept(self, pcm: np.ndarray, *, now: float) -> list[Any]:
        self.log.append(("accept", self.samplerate, len(pcm), now))
        self.fed += len(pcm)
        return [SpeechStart(t=self.fed / self.samplerate)]

    def flush(self, *, now: float) -> list[Any]:
        self.log.append(("flush", self.samplerate))
        return [RecognizedFinal(text=f"flushed at {self.samplerate}", start=0.0, end=self.fed / self.samplerate)]

    def close(self) -> None:
        self.log.append(("close", self.samplerate))


class RecordingRecognizer:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def open(self, *, samplerate: int, **options: Any) -> RecordingStream:
        self.log.append(("open", samplerate, tuple(sorted(options))))
        return RecordingStream(samplerate, self.log)


@dataclass
class Context:
    """What an `EngineFeed` uses of a `ConnectionContext`."""

    faults: Faults = field(default_factory=Faults)
    recognizer: RecordingRecognizer = field(default_factory=RecordingRecognizer)
    provider: str = "test"
    session_id: str = "s1"
    closing: bool = False
    failures: list[tuple[str, int]] = field(default_factory=list)
    busy_marks: int = 0

    def clock(self) -> float:
        return time.monotonic()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        self.busy_marks += 1
        yield

    async def run_engine(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def fail(self, message: str, *, code: int = 1011) -> None:
        self.failures.append((message, code))
        self.closing = True


def chunk(seconds: float, rate: int) -> np.ndarray:
    return np.full(round(seconds * rate), 0.1, dtype=np.float32)


class Collector:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.idle = asyncio.Event()

    async def on_events(self, events: list[Any], batch: AudioBatch | None) -> None:
        self.calls.append(("events", [type(e).__name__ for e in events], batch and (batch.samplerate, batch.chunks)))

    async def on_control(self, item: Any) -> None:
        self.calls.append(("control", item))
        if item == "last":
            self.idle.set()


def test_queued_audio_is_coalesced_up_to_max_batch_seconds_in_order_with_control_items():
    async def main() -> tuple[Context, Collector]:
        ctx, out = Context(), Collector()
        feed = EngineFeed(ctx, on_events=out.on_events, on_control=out.on_control, stream_options=lambda: {"x": 1})
        for _ in range(30):  # 1.5 s queued before the task starts: a replay burst after a reconnect
            feed.push_audio(chunk(0.05, 16000), samplerate=16000, arrived=ctx.clock())
        feed.push_control("finalize")
        for _ in range(10):
            feed.push_audio(chunk(0.05, 16000), samplerate=16000, arrived=ctx.clock())
        feed.push_audio(np.zeros(0, np.float32), samplerate=16000, arrived=ctx.clock())  # ignored
        feed.push_control("last")
        feed.start()
        await asyncio.wait_for(out.idle.wait(), 5)
        await feed.stop()
        return ctx, out

    ctx, out = asyncio.run(main())
    accepts = [e for e in ctx.recognizer.log if e[0] == "accept"]
    assert [n for _, _, n, _ in accepts] == [16000, 8000, 8000]  # 1.0 s + 0.5 s, then 0.5 s after the finalize
    assert max(n for _, _, n, _ in accepts) <= MAX_BATCH_SECONDS * 16000
    assert out.calls == [
        ("events", ["SpeechStart"], (16000, 20)),
        ("events", ["SpeechStart"], (16000, 10)),
        ("control", "finalize"),
        ("events", ["SpeechStart"], (16000, 10)),
        ("control", "last"),
    ]
    assert ctx.recognizer.log[0] == ("open", 16000, ("x",)) and ctx.recognizer.log[-1] == ("close", 16000)


def test_a_new_rate_flushes_the_old_stream_and_reopens():
    async def main() -> tuple[Context, Collector]:
        ctx, out = Context(), Collector()
        feed = EngineFeed(ctx, on_events=out.on_events, on_control=out.on_control)
        feed.start()
        feed.push_audio(chunk(0.1, 24000), samplerate=24000, arrived=ctx.clock())
        feed.push_audio(chunk(0.1, 8000), samplerate=8000, arrived=ctx.clock())  # never coalesced across rates
        feed.push_control("last")
        await asyncio.wait_for(out.idle.wait(), 5)
        await feed.stop()
        await feed.stop()  # idempotent
        feed.push_audio(chunk(0.1, 8000), samplerate=8000, arrived=ctx.clock())  # after stop: ignored
        return ctx, out

    ctx, out = asyncio.run(main())
    assert [e[:2] for e in ctx.recognizer.log] == [
        ("open", 24000),
        ("accept", 24000),
        ("flush", 24000),
        ("close", 24000),
        ("open", 8000),
        ("accept", 8000),
        ("close", 8000),
    ]
    assert out.calls[1] == ("events", ["RecognizedFinal"], None)  # the flush's final, before the new rate's audio


@pytest.mark.parametrize("slowdown", [None, 4.0])
def test_slowdown_makes_each_engine_call_last_slowdown_times_its_audio(slowdown):
    async def main() -> float:
        ctx, out = Context(faults=Faults(slowdown=slowdown)), Collector()
        feed = EngineFeed(ctx, on_events=out.on_events, on_control=out.on_control)
        for _ in range(4):
            feed.push_audio(chunk(0.05, 16000), samplerate=16000, arrived=ctx.clock())
        feed.push_control("last")
        t0 = time.monotonic()
        feed.start()
        await asyncio.wait_for(out.idle.wait(), 5)
        await feed.stop()
        return time.monotonic() - t0

    elapsed = asyncio.run(main())
    if slowdown:
        assert elapsed >= 0.2 * slowdown * 0.95  # 0.2 s of audio
    else:
        assert elapsed < 0.5


def test_a_failing_callback_ends_the_connection_with_1011():
    async def main() -> Context:
        ctx = Context()

        async def broken(events: list[Any], batch: AudioBatch | None) -> None:
            raise RuntimeError("boom")

        feed = EngineFeed(ctx, on_events=broken)
        feed.start()
        feed.push_audio(chunk(0.05, 16000), samplerate=16000, arrived=ctx.clock())
        for _ in range(100):
            if feed.done:
                break
            await asyncio.sleep(0.01)
        await feed.stop()
        return ctx

    ctx = asyncio.run(main())
    assert len(ctx.failures) == 1 and ctx.failures[0][1] == 1011
    assert ctx.recognizer.log[-1] == ("close", 16000)


def test_stop_drops_queued_audio_and_closes_the_stream():
    async def main() -> Context:
        ctx, out = Context(faults=Faults(slowdown=50.0)), Collector()
        feed = EngineFeed(ctx, on_events=out.on_events)
        for _ in range(100):  # 5 s of audio, 250 s of engine time at this slowdown
            feed.push_audio(chunk(0.05, 16000), samplerate=16000, arrived=ctx.clock())
        feed.start()
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        await feed.stop()
        assert time.monotonic() - t0 < 1.0
        return ctx

    ctx = asyncio.run(main())
    assert [e[0] for e in ctx.recognizer.log] == ["open", "accept", "close"]


def test_bad_batch_limit_is_refused():
    with pytest.raises(ValueError, match="max_batch_seconds"):
        EngineFeed(Context(), on_events=Collector().on_events, max_batch_seconds=0)
