"""The audio → recognizer loop every emulated provider shares.

A provider's receive loop decodes client frames and pushes them, in order, into an `EngineFeed`:
audio (float32 mono samples, their rate and the server clock when they arrived) and the
provider's own control items (Pulse ``finalize`` / ``close_stream``). The feed's task takes them
one at a time and

* coalesces queued audio of one rate into one engine call of at most `MAX_BATCH_SECONDS`, so a
  slow engine (or a client replaying audio after a reconnect) catches up in few calls, while each
  call stays short: results keep flowing during a burst and a cancel waits for one short call;
* opens the recognizer stream at the audio's rate with the provider's options, and re-opens it
  (flushing the old one) when the rate changes;
* runs ``stream.accept`` in the server's engine thread pool (`ConnectionContext.run_engine`), so
  a slow decode never blocks the event loop;
* applies the ``slowdown`` fault: an engine call lasts at least ``slowdown`` × its audio seconds;
* hands the recognizer's events, with the batch they came from, to the provider's ``on_events``
  callback, and each control item to ``on_control``.

An exception in the loop or in a callback is logged and ends the connection with the provider's
error frame and close 1011. `EngineFeed.stop` drops what is queued, cancels the task (an engine
call already running finishes in its thread) and closes the stream::

    feed = EngineFeed(ctx, on_events=handle_events, stream_options=lambda: {"partials": True})
    feed.start()
    async for frame in ctx.frames():
        feed.push_audio(decode(frame), samplerate=16000, arrived=ctx.clock())
    await feed.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from voicelab.emulator.recognizers import RecognizerEvent, RecognizerStream

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext

__all__ = ["MAX_BATCH_SECONDS", "AudioBatch", "ControlCallback", "EngineFeed", "EventsCallback"]

logger = logging.getLogger("voicelab.emulator.engine_feed")

#: Most audio seconds coalesced into one engine call when audio queues up.
MAX_BATCH_SECONDS = 1.0


@dataclass(frozen=True)
class AudioBatch:
    """Audio handed to the recognizer in one engine call.

    Attributes:
        samples: float32 mono samples in [-1, 1].
        samplerate: Their rate in Hz.
        arrived: Server clock (seconds) when the batch's last chunk arrived; passed to the
            recognizer as ``now``.
        chunks: How many pushed chunks the batch holds.
    """

    samples: npt.NDArray[np.float32]
    samplerate: int
    arrived: float
    chunks: int

    @property
    def duration(self) -> float:
        """Audio seconds in the batch."""
        return len(self.samples) / self.samplerate


@dataclass(frozen=True)
class _Audio:
    samples: npt.NDArray[np.float32]
    samplerate: int
    arrived: float


@dataclass(frozen=True)
class _Control:
    item: Any


#: ``on_events(events, batch)``: the events one engine call produced, with the batch they came from
#: (``None`` when the feed flushed the stream itself, before re-opening it at a new rate).
EventsCallback = Callable[[list[RecognizerEvent], AudioBatch | None], Awaitable[None]]
#: ``on_control(item)``: a control item, in its place among the audio.
ControlCallback = Callable[[Any], Awaitable[None]]


async def _no_control(item: Any) -> None:
    raise TypeError(f"control item {item!r} pushed to an EngineFeed without on_control")


class EngineFeed:
    """One connection's ordered queue of audio and control items, and the task feeding the recognizer.

    Args:
        ctx: The connection context (recognizer, engine thread pool, clock, faults, close).
        on_events: Called with the recognizer events of each engine call (see `EventsCallback`).
        on_control: Called with each control item pushed with `push_control`.
        stream_options: Returns the keyword options of ``recognizer.open`` besides ``samplerate``
            (``word_times``, ``partials``, ``endpointing``); called at each (re-)open, so options that
            changed since apply from the next stream.
        max_batch_seconds: Most audio seconds per engine call; ``None`` disables the limit.
    """

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        on_events: EventsCallback,
        on_control: ControlCallback | None = None,
        stream_options: Callable[[], Mapping[str, Any]] = dict,
        max_batch_seconds: float | None = MAX_BATCH_SECONDS,
    ) -> None:
        if max_batch_seconds is not None and not max_batch_seconds > 0:
            raise ValueError(f"max_batch_seconds={max_batch_seconds!r} must be positive seconds, or None")
        self._ctx = ctx
        self._on_events = on_events
        self._on_control = on_control or _no_control
        self._stream_options = stream_options
        self._max_batch_seconds = max_batch_seconds
        self._items: deque[_Audio | _Control] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stream: RecognizerStream | None = None
        self._stopped = False

    def __repr__(self) -> str:
        rate = self._stream.samplerate if self._stream is not None else None
        return f"EngineFeed(session_id={self._ctx.session_id!r}, samplerate={rate}, queued={len(self._items)})"

    @property
    def stream(self) -> RecognizerStream | None:
        """The open recognizer stream, if any."""
        return self._stream

    @property
    def done(self) -> bool:
        """Whether the feed's task has ended (stopped, failed, or the connection is closing)."""
        return self._stopped or (self._task is not None and self._task.done())

    # ----------------------------------------------------------------- receive side

    def push_audio(self, samples: npt.NDArray[np.float32], *, samplerate: int, arrived: float) -> None:
        """Queue decoded audio (an empty array is ignored).

        Args:
            samples: float32 mono samples in [-1, 1].
            samplerate: Their rate in Hz.
            arrived: Server clock (seconds) when the chunk arrived.
        """
        if len(samples) and not self._stopped:
            self._items.append(_Audio(samples, int(samplerate), arrived))
            self._wake.set()

    def push_control(self, item: Any) -> None:
        """Queue a control item; ``on_control`` gets it after every audio chunk queued before it."""
        if not self._stopped:
            self._items.append(_Control(item))
            self._wake.set()

    def clear(self) -> None:
        """Drop every queued item (an engine call already running finishes)."""
        self._items.clear()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the task that feeds the recognizer (once)."""
        if self._task is None and not self._stopped:
            name = f"{self._ctx.provider}-engine-{self._ctx.session_id}"
            self._task = asyncio.create_task(self._run(), name=name)

    async def open(self, samplerate: int) -> RecognizerStream:
        """Open the recognizer stream at ``samplerate`` Hz, flushing and closing one open at another rate.

        The feed opens streams by itself when audio arrives; call this to have one before any audio
        (for a flush that must work on an empty session).

        Returns:
            The open stream.
        """
        stream = self._stream
        if stream is not None and stream.samplerate == samplerate:
            return stream
        if stream is not None:
            events = await self.flush()
            self._stream = None
            await self._ctx.run_engine(stream.close)
            await self._on_events(events, None)
        options = dict(self._stream_options())
        opened: RecognizerStream = await self._ctx.run_engine(
            self._ctx.recognizer.open, samplerate=samplerate, **options
        )
        self._stream = opened
        return opened

    async def flush(self) -> list[RecognizerEvent]:
        """Force the open stream's final (``stream.flush``); ``[]`` when no stream is open."""
        stream = self._stream
        if stream is None:
            return []
        events: list[RecognizerEvent] = await self._ctx.run_engine(stream.flush, now=self._ctx.clock())
        return events

    async def stop(self) -> None:
        """Drop queued items, cancel the task and close the stream (idempotent)."""
        self._stopped = True
        self._items.clear()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # the engine pool is gone when the server stops first
                await asyncio.shield(self._ctx.run_engine(stream.close))

    # ----------------------------------------------------------------- engine side

    async def _next(self) -> AudioBatch | _Control:
        while not self._items:
            self._wake.clear()
            await self._wake.wait()
        first = self._items.popleft()
        if isinstance(first, _Control):
            return first
        parts = [first.samples]
        last = first
        size = len(first.samples)
        limit = None if self._max_batch_seconds is None else self._max_batch_seconds * first.samplerate
        while self._items:
            nxt = self._items[0]
            if not isinstance(nxt, _Audio) or nxt.samplerate != first.samplerate:
                break
            if limit is not None and size + len(nxt.samples) > limit:
                break
            self._items.popleft()
            parts.append(nxt.samples)
            size += len(nxt.samples)
            last = nxt
        samples = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return AudioBatch(samples, first.samplerate, last.arrived, len(parts))

    async def _accept(self, batch: AudioBatch) -> None:
        ctx = self._ctx
        stream = await self.open(batch.samplerate)
        started = ctx.clock()
        events: list[RecognizerEvent] = await ctx.run_engine(stream.accept, batch.samples, now=batch.arrived)
        slowdown = ctx.faults.slowdown
        if slowdown:
            left = batch.duration * slowdown - (ctx.clock() - started)
            if left > 0:
                await asyncio.sleep(left)
        await self._on_events(events, batch)

    async def _run(self) -> None:
        ctx = self._ctx
        try:
            while not ctx.closing:
                item = await self._next()
                with ctx.busy():  # the session is not idle while its audio is being recognised
                    if isinstance(item, AudioBatch):
                        await self._accept(item)
                    else:
                        await self._on_control(item.item)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s session %s: recognizer failed", ctx.provider, ctx.session_id)
            await ctx.fail("internal emulator error in the recognizer; see the server log", code=1011)
