"""`LiveAudioSource`: audio pushed from any thread, read live by any number of threads and event loops.

A producer that receives audio as it happens (the Recorder's comm handler, a sounddevice callback, a
proxy that taps a connection) pushes samples together with their rate; each reader iterates the
stream from the oldest audio still buffered, with ``for`` (blocking) or ``async for``, and ends when the
producer closes the source. Readers get `voicelab.audio.chunking.Chunk` objects (``linear16``: int16
little-endian, with their audio-time span), which is what `voicelab.stream` sends as they come::

    source = LiveAudioSource(name="the sounddevice capture", max_seconds=30.0)

    def callback(indata, frames, time, status):          # sounddevice's audio thread
        source.push(indata, samplerate=16000)

    stream = vl.stream(source, provider="pulse", url=server.url, api_key=server.api_key, speed=None)
    ...
    source.close()                                        # end of stream: the client sends its end signal

Memory is bounded: the source keeps at most ``max_seconds`` of audio (``None`` keeps everything, e.g. to
make a `Clip` of a whole recording). A reader that falls further behind than that loses audio and gets
`LiveSourceOverrunError` instead of a silent gap.

This module imports no widget library (no ipywidgets, anywidget or traitlets), so code outside notebooks
can use it.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np

from voicelab.audio.chunking import Chunk
from voicelab.audio.clip import Clip, Provenance
from voicelab.errors import AudioFormatError, VoicelabError

__all__ = [
    "LiveAudioReader",
    "LiveAudioSource",
    "LiveSourceClosedError",
    "LiveSourceOverrunError",
    "LiveSourceTimeoutError",
    "SampleRateMismatchError",
]

#: The sample format readers get: int16, little-endian, interleaved (voicelab's ``linear16``).
PCM_DTYPE = np.dtype("<i2")

#: Audio seconds a source keeps by default.
DEFAULT_MAX_SECONDS = 60.0


# -- errors ------------------------------------------------------------------------------------------------
class SampleRateMismatchError(AudioFormatError):
    """Samples were pushed at a rate other than the one the source carries."""


class LiveSourceClosedError(VoicelabError, RuntimeError):
    """Samples were pushed after `LiveAudioSource.close`."""


class LiveSourceOverrunError(VoicelabError, BufferError):
    """A reader fell behind by more audio than the source keeps, so audio it had not read was dropped.

    Attributes:
        lost_seconds: Audio seconds the reader missed.
    """

    def __init__(self, message: str, *, lost_seconds: float) -> None:
        super().__init__(message)
        self.lost_seconds = lost_seconds


class LiveSourceTimeoutError(VoicelabError, TimeoutError):
    """A reader waited longer than its ``timeout`` for the next chunk."""


# -- the source --------------------------------------------------------------------------------------------
class LiveAudioSource:
    """A thread-safe, bounded buffer of live audio: producers push, any number of readers iterate.

    Args:
        samplerate: Rate of the audio, Hz; ``None`` takes the rate of the first push. Every push
            states its rate, and a push at another rate raises `SampleRateMismatchError`.
        channels: Channels of the audio (interleaved in the chunks).
        max_seconds: Most audio seconds kept (older chunks are dropped, the newest chunk always stays);
            ``None`` keeps everything.
        name: What produces the audio, as error messages should name it (e.g. ``"the Recorder"``).
        wait_guard: Called (in the reader's thread) before a ``for`` loop blocks for audio still to
            come; it may raise to refuse waiting where the producer could never run, as the Recorder
            does in a notebook cell. ``async for`` does not call it.

    Raises:
        AudioFormatError: ``samplerate``, ``channels`` or ``max_seconds`` is out of range.
    """

    def __init__(
        self,
        *,
        samplerate: int | None = None,
        channels: int = 1,
        max_seconds: float | None = DEFAULT_MAX_SECONDS,
        name: str = "the live source",
        wait_guard: Callable[[], None] | None = None,
    ) -> None:
        if samplerate is not None:
            _check_rate(samplerate, what="samplerate")
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 64:
            raise AudioFormatError(f"channels must be a whole number from 1 to 64, got {channels!r}")
        if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
                                        or not 0 < max_seconds < math.inf):
            raise AudioFormatError(f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}")
        self._rate = samplerate
        self._channels = channels
        self._max_seconds = None if max_seconds is None else float(max_seconds)
        self._name = name
        self._wait_guard = wait_guard
        self._cond = threading.Condition()
        self._chunks: deque[Chunk] = deque()
        self._first = 0  # seq of the oldest chunk kept
        self._frames = 0  # frames pushed in all
        self._kept = 0  # frames kept
        self._closed = False
        self._error: BaseException | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def samplerate(self) -> int | None:
        """Rate of the audio, Hz (``None`` until the first push when not given)."""
        return self._rate

    @property
    def channels(self) -> int:
        """Channels of the audio."""
        return self._channels

    @property
    def max_seconds(self) -> float | None:
        """Most audio seconds kept; ``None`` keeps everything."""
        return self._max_seconds

    @property
    def name(self) -> str:
        """What produces the audio, as messages name it."""
        return self._name

    @property
    def frames(self) -> int:
        """Frames pushed so far (kept or not)."""
        return self._frames

    @property
    def chunk_count(self) -> int:
        """Chunks pushed so far (kept or not); the next push gets this ``seq``."""
        return self._first + len(self._chunks)

    @property
    def duration(self) -> float:
        """Audio seconds pushed so far."""
        return self._frames / self._rate if self._rate else 0.0

    @property
    def buffered_seconds(self) -> float:
        """Audio seconds kept now."""
        return self._kept / self._rate if self._rate else 0.0

    @property
    def dropped_seconds(self) -> float:
        """Audio seconds dropped from the front to stay within ``max_seconds``."""
        return (self._frames - self._kept) / self._rate if self._rate else 0.0

    @property
    def closed(self) -> bool:
        """Whether the producer ended the stream (`close`)."""
        return self._closed

    @property
    def error(self) -> BaseException | None:
        """The error the stream ended with, if any (see `close`)."""
        return self._error

    # -- producer side -----------------------------------------------------------------------------------
    def push(self, samples: Any, *, samplerate: int | None = None) -> Chunk:
        """Append audio; readers waiting for it wake up. Cheap and safe from any thread (never blocks on readers).

        Args:
            samples: A `Clip` (it carries its rate), a numpy array (int16, or float in [-1, 1], shape
                ``(frames,)`` or ``(frames, channels)``), or bytes-like int16 little-endian interleaved PCM.
            samplerate: Rate of ``samples``, Hz; required unless ``samples`` is a Clip.

        Returns:
            The new chunk: ``linear16`` at the source's rate, with its ``seq`` and audio-time span.

        Raises:
            SampleRateMismatchError: ``samplerate`` differs from the source's rate (or from the Clip's).
            AudioFormatError: The samples have another channel count, dtype or shape, or a partial frame.
            LiveSourceClosedError: The source was closed.
        """
        rate = self._rate_of(samples, samplerate)
        data = self._pcm_of(samples)
        frames = len(data) // (PCM_DTYPE.itemsize * self._channels)
        with self._cond:
            if self._closed:
                raise LiveSourceClosedError(
                    f"cannot push audio to {self._name}: it was closed (end of stream); create a new LiveAudioSource")
            if self._rate is None:
                self._rate = rate
            elif rate != self._rate:
                raise SampleRateMismatchError(
                    f"{self._name} carries {self._rate} Hz audio, but samples at {rate} Hz were pushed; resample "
                    f"them first (e.g. clip.resample({self._rate})) or use a LiveAudioSource per rate")
            seq = self._first + len(self._chunks)
            c = Chunk(seq, data, "linear16", rate, self._channels, self._frames / rate, (self._frames + frames) / rate)
            self._chunks.append(c)
            self._frames += frames
            self._kept += frames
            if self._max_seconds is not None:
                limit = self._max_seconds * rate
                while len(self._chunks) > 1 and self._kept > limit:
                    old = self._chunks.popleft()
                    self._first += 1
                    self._kept -= len(old.data) // (PCM_DTYPE.itemsize * self._channels)
            self._notify()
            return c

    def close(self, error: BaseException | None = None) -> None:
        """End the stream: readers get the audio already pushed, then stop (or raise ``error``).

        Closing again does nothing (the first close wins).

        Args:
            error: Raise this in every reader once it has read all audio pushed before it (e.g. the
                Recorder's `MicrophoneError`); ``None`` ends the stream normally.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._error = error
            self._notify()

    # -- consumer side -----------------------------------------------------------------------------------
    def chunks(self, *, timeout: float | None = None) -> LiveAudioReader:
        """A new reader, from the oldest audio kept: iterate it with ``for`` or ``async for``.

        Args:
            timeout: Seconds to wait for each next chunk; ``None`` waits as long as it takes.

        Returns:
            The reader; it ends when the source is closed and it has read everything.
        """
        return LiveAudioReader(self, timeout=timeout)

    def __iter__(self) -> LiveAudioReader:
        """A new reader with no timeout (see `chunks`)."""
        return self.chunks()

    def __aiter__(self) -> LiveAudioReader:
        """A new reader with no timeout (see `chunks`)."""
        return self.chunks()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the source is closed.

        Args:
            timeout: Seconds to wait; ``None`` waits as long as it takes.

        Returns:
            Whether it is closed (``False`` after a timeout).
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._closed, timeout)

    def clip(self, *, provenance: Provenance | None = None) -> Clip:
        """The audio kept so far as a `Clip` (all of it when ``max_seconds`` is ``None``).

        Args:
            provenance: Where the audio came from; defaults to an ``array`` source.

        Returns:
            A Clip at the source's rate; it starts ``dropped_seconds`` into the stream.

        Raises:
            AudioFormatError: Nothing was pushed yet and the source has no rate.
        """
        with self._cond:
            data = b"".join(c.data for c in self._chunks)
            rate = self._rate
        if rate is None:
            raise AudioFormatError(f"{self._name} has no audio and no sample rate yet; push samples first")
        samples = np.frombuffer(data, dtype=PCM_DTYPE)
        if self._channels > 1:
            samples = samples.reshape(-1, self._channels)
        return Clip(samples, samplerate=rate, provenance=provenance)

    def __repr__(self) -> str:
        rate = f"{self._rate} Hz" if self._rate else "rate not yet known"
        ch = "mono" if self._channels == 1 else f"{self._channels} ch"
        limit = "unbounded" if self._max_seconds is None else f"max {self._max_seconds:g} s"
        state = ("closed with " + type(self._error).__name__) if self._error else ("closed" if self._closed else "open")
        return (f"<LiveAudioSource {self._name!r}: linear16 {ch} @ {rate}, {self.duration:.2f} s pushed, "
                f"{self.buffered_seconds:.2f} s buffered ({limit}), {state}>")

    # -- internals ---------------------------------------------------------------------------------------
    def _rate_of(self, samples: Any, samplerate: int | None) -> int:
        if isinstance(samples, Clip):
            if samplerate is not None and samplerate != samples.samplerate:
                raise SampleRateMismatchError(
                    f"push() got a {samples.samplerate} Hz Clip with samplerate={samplerate}; the Clip's rate is "
                    "the rate: leave samplerate out, or resample the Clip")
            return samples.samplerate
        if samplerate is None:
            raise SampleRateMismatchError(
                f"push() needs the rate of the samples: {self._name}.push(samples, samplerate=16000) "
                "(the rate always travels with the samples)")
        return _check_rate(samplerate, what="push(samplerate=...)")

    def _pcm_of(self, samples: Any) -> bytes:
        """int16 little-endian interleaved bytes, checked against the source's channel count."""
        ch = self._channels
        if isinstance(samples, Clip):
            if samples.channels != ch:
                raise AudioFormatError(f"{self._name} carries {ch}-channel audio, but a {samples.channels}-channel "
                                       "Clip was pushed; convert it first (e.g. clip.to_mono())")
            return samples.to_int16().astype(PCM_DTYPE, copy=False).tobytes()
        if isinstance(samples, (bytes, bytearray, memoryview)):
            data = bytes(samples)
            if len(data) % (PCM_DTYPE.itemsize * ch):
                raise AudioFormatError(
                    f"{len(data)} bytes are not whole frames of int16 {ch}-channel PCM ({PCM_DTYPE.itemsize * ch} "
                    "bytes per frame); push whole frames")
            return data
        arr = np.asarray(samples)
        if arr.ndim == 2 and arr.shape[1] == ch:
            pass
        elif arr.ndim == 1 and ch == 1:
            pass
        else:
            raise AudioFormatError(f"{self._name} carries {ch}-channel audio, so samples must have shape "
                                   f"{'(frames,) or (frames, 1)' if ch == 1 else f'(frames, {ch})'}, got {arr.shape}")
        if arr.dtype.kind == "f":
            from voicelab.audio.convert import float_to_pcm

            if not np.all(np.isfinite(arr)):
                raise AudioFormatError("samples contain NaN or infinity; clean them first, e.g. np.nan_to_num(samples)")
            arr = float_to_pcm(arr, dtype="int16")
        elif not (arr.dtype.kind == "i" and arr.dtype.itemsize == 2):
            raise AudioFormatError(f"samples have dtype {arr.dtype}; push int16 or float samples in [-1, 1] "
                                   "(or a Clip, which converts any dtype)")
        return np.ascontiguousarray(arr, dtype=PCM_DTYPE).tobytes()

    def _notify(self) -> None:  # with self._cond held
        self._cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:  # that reader's event loop is closed: nobody is waiting any more
                pass

    def _async_waiter(self) -> asyncio.Future[None]:  # with self._cond held
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append((loop, fut))
        return fut

    def _forget(self, fut: asyncio.Future[None]) -> None:
        with self._cond:
            self._waiters = [(lp, f) for lp, f in self._waiters if f is not fut]


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _check_rate(rate: Any, *, what: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 1 <= int(rate) <= 1_000_000:
        raise AudioFormatError(f"{what} must be a whole number of Hz from 1 to 1000000, got {rate!r}")
    return int(rate)


class LiveAudioReader(Iterator[Chunk], AsyncIterator[Chunk]):
    """One reader of a `LiveAudioSource`: its chunks in order, from the oldest kept when it was made.

    Iterate it with ``for`` (blocks the thread) or ``async for`` (awaits; any event loop, any thread).
    Each reader keeps its own position, so several readers each get every chunk.

    Raises (while iterating):
        LiveSourceTimeoutError: No chunk came within ``timeout`` seconds.
        LiveSourceOverrunError: The reader fell further behind than the source keeps.
        BaseException: The error the producer closed the source with, after the audio before it.
    """

    def __init__(self, source: LiveAudioSource, *, timeout: float | None = None) -> None:
        if timeout is not None and not timeout >= 0:
            raise AudioFormatError(f"timeout must be >= 0 seconds or None, got {timeout!r}")
        self._src = source
        self._timeout = timeout
        with source._cond:
            self._next = source._first  # seq of the next chunk to read
            self._end = source._chunks[0].start if source._chunks else source.duration  # audio read up to, s

    @property
    def position(self) -> float:
        """Audio seconds read so far (the end of the last chunk returned)."""
        return self._end

    def __iter__(self) -> LiveAudioReader:
        return self

    def __next__(self) -> Chunk:
        src = self._src
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        with src._cond:
            while True:
                item = self._ready()
                if item is not None:
                    return item
                if src._wait_guard is not None:
                    src._wait_guard()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise self._timed_out()
                src._cond.wait(remaining)

    def __aiter__(self) -> LiveAudioReader:
        return self

    async def __anext__(self) -> Chunk:
        src = self._src
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            with src._cond:
                try:
                    item = self._ready()
                except StopIteration:
                    raise StopAsyncIteration from None
                if item is not None:
                    return item
                fut = src._async_waiter()
            remaining = None if deadline is None else deadline - time.monotonic()
            try:
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                raise self._timed_out() from None
            finally:
                src._forget(fut)  # a no-op when a push resolved it; else it must not pile up

    def _ready(self) -> Chunk | None:  # with the source's lock held
        src = self._src
        if self._next < src._first:
            lost = src._chunks[0].start - self._end
            raise LiveSourceOverrunError(
                f"this reader of {src._name} fell {lost:.2f} s of audio behind what the source keeps "
                f"(max_seconds={src._max_seconds:g}), so that audio was dropped unread; read faster, or create the "
                "source with a larger max_seconds (None keeps everything)", lost_seconds=lost)
        i = self._next - src._first
        if i < len(src._chunks):
            c = src._chunks[i]
            self._next += 1
            self._end = c.end
            return c
        if src._error is not None:
            raise src._error
        if src._closed:
            raise StopIteration
        return None

    def _timed_out(self) -> LiveSourceTimeoutError:
        name = self._src._name
        return LiveSourceTimeoutError(f"no audio from {name} for {self._timeout:g} s; is {name} recording?")
