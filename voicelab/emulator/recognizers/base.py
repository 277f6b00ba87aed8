"""The recognizer interface: a shareable `Recognizer` that opens one `RecognizerStream` per session.

A `Recognizer` is loaded once (model files, shared weights) and may be shared
by any number of sessions and threads. `Recognizer.open` returns a
`RecognizerStream`, the state of one session. A stream's methods are
synchronous and safe to call from any thread (calls on one stream are
serialised by its own lock), so an asyncio server can run them with
``loop.run_in_executor`` while its event loop keeps running::

    stream = recognizer.open(samplerate=16000, word_times=True)
    events = stream.accept(pcm, now=loop.time())   # float32 mono in [-1, 1]
    events += stream.flush(now=loop.time())        # force a final (Pulse "finalize")
    stream.close()

Every time in an event is *audio time*: seconds since the stream's first
sample, whatever the wall clock did. ``now`` is the caller's clock (any
monotonic clock, in seconds) at the moment the audio arrived; it paces
partial results and lets a stream notice that it has fallen behind.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeAlias

import numpy as np
import numpy.typing as npt

from voicelab.emulator.recognizers.errors import RecognizerOptionError, StreamClosedError

if TYPE_CHECKING:
    import soxr

__all__ = [
    "ENGINE_RATE",
    "MAX_SAMPLERATE",
    "MIN_SAMPLERATE",
    "Endpointing",
    "RecognizedFinal",
    "RecognizedPartial",
    "PartialCadence",
    "Recognizer",
    "RecognizerEvent",
    "RecognizerStream",
    "SpeechEnd",
    "SpeechStart",
    "WordTime",
]

logger = logging.getLogger("voicelab.emulator.recognizers")

#: The rate every engine works at internally, in Hz; input at other rates is resampled with soxr.
ENGINE_RATE = 16000
#: Lowest input sample rate `Recognizer.open` accepts, in Hz.
MIN_SAMPLERATE = 8000
#: Highest input sample rate `Recognizer.open` accepts, in Hz.
MAX_SAMPLERATE = 48000


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class SpeechStart:
    """The voice activity detector found the start of speech.

    Attributes:
        t: Audio time of the speech onset, in seconds since the stream's first sample.
    """

    t: float


@dataclass(frozen=True)
class SpeechEnd:
    """The endpointer decided that speech ended (after its hangover).

    Attributes:
        t: Audio time of the end of the last speech frame, in seconds.
    """

    t: float


@dataclass(frozen=True)
class RecognizedPartial:
    """An interim hypothesis for the current utterance; later partials and the final may revise it.

    Attributes:
        text: The hypothesis so far (never empty).
        audio_end: Audio time, in seconds, of the last sample the hypothesis was decoded from.
    """

    text: str
    audio_end: float


@dataclass(frozen=True)
class WordTime:
    """One recognised word with its audio times.

    Attributes:
        word: The word as written in the transcript (punctuation attached, as the engine emits it).
        start: Audio time of the word's start, in seconds.
        end: Audio time of the word's end, in seconds (``end >= start``).
        confidence: The engine's probability for the word, in [0, 1].
    """

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class RecognizedFinal:
    """The final transcript of one utterance.

    Attributes:
        text: The transcript (never empty: an utterance that decodes to nothing yields no RecognizedFinal).
        start: Audio time of the utterance's speech onset, in seconds.
        end: Audio time of the utterance's end (speech end, forced cut or flush), in seconds.
        words: Word times when the stream was opened with ``word_times=True``, else empty. They are
            monotonic (each word starts at or after the previous one ends) and lie in ``[start, end]``.
    """

    text: str
    start: float
    end: float
    words: tuple[WordTime, ...] = ()


RecognizerEvent: TypeAlias = SpeechStart | SpeechEnd | RecognizedPartial | RecognizedFinal


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Endpointing:
    """How a stream splits speech into utterances.

    Attributes:
        hangover: Seconds of non-speech that end an utterance (the final follows this much after
            the last speech). For the sphinx engine this is the window of pocketsphinx's Endpointer.
        min_speech: Seconds of consecutive speech needed to start an utterance; shorter blips are
            ignored.
        max_utterance: Seconds after which a final is forced while speech goes on; ``None``
            disables the limit (not advised: decoding cost grows with the utterance).
        threshold: Speech probability (0–1) above which a VAD frame counts as speech.
        preroll: Seconds of audio before the detected onset that are decoded with the utterance.
    """

    hangover: float = 0.5
    min_speech: float = 0.09
    max_utterance: float | None = 15.0
    threshold: float = 0.5
    preroll: float = 0.3

    def __post_init__(self) -> None:
        """Check ranges so a bad value fails when it is given, not in the middle of a session."""
        _check_range("hangover", self.hangover, 0.05, 10.0)
        _check_range("min_speech", self.min_speech, 0.0, 5.0)
        _check_range("threshold", self.threshold, 0.05, 0.95)
        _check_range("preroll", self.preroll, 0.0, 2.0)
        if self.max_utterance is not None:
            _check_range("max_utterance", self.max_utterance, 1.0, 120.0)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not low <= float(value) <= high:
        raise RecognizerOptionError(
            f"{name}={value!r} is out of range: give seconds (or a probability for threshold) "
            f"between {low} and {high}."
        )


class PartialCadence:
    """Decides when a stream may decode a partial result; slows down when the engine falls behind.

    Partials are due every ``interval`` seconds of the caller's clock. After each decode the
    stream reports what it cost (wall seconds, from a monotonic clock) and how far the stream is
    behind real time (its backlog, see `RecognizerStream.backlog`). When a decode costs more than
    ``max_load`` of the interval, or the backlog exceeds the interval, the cadence slows to at
    least ``slow_interval`` (and up to ``max_interval``); it returns to ``interval`` once decodes
    are cheap and the backlog is gone. While the backlog exceeds ``max_interval``, no partial is
    due at all, so a stream that is far behind only spends time on finals.

    Args:
        interval: The normal time between partials, in seconds.
        slow_interval: The least time between partials once the engine is behind, in seconds.
        max_interval: The most time between partials, in seconds.
        max_load: The share of the interval one decode may take before the cadence slows.
        first_delay: Seconds after the start of an utterance before the first partial is due.
    """

    def __init__(
        self,
        *,
        interval: float = 0.5,
        slow_interval: float = 1.0,
        max_interval: float = 2.0,
        max_load: float = 0.8,
        first_delay: float = 0.15,
    ) -> None:
        if not 0.05 <= interval <= slow_interval <= max_interval:
            raise RecognizerOptionError(
                f"partial intervals interval={interval!r}, slow_interval={slow_interval!r}, "
                f"max_interval={max_interval!r} must satisfy "
                "0.05 <= interval <= slow_interval <= max_interval."
            )
        if not 0.1 <= max_load <= 1.0:
            raise RecognizerOptionError(f"max_load={max_load!r} must be a share between 0.1 and 1.0.")
        self.base_interval = float(interval)
        self.slow_interval = float(slow_interval)
        self.max_interval = float(max_interval)
        self.max_load = float(max_load)
        self.first_delay = float(first_delay)
        self.interval = self.base_interval
        self._next: float | None = None

    def start(self, *, now: float) -> None:
        """Start counting at the beginning of an utterance: the first partial is due ``first_delay`` later."""
        self._next = now + self.first_delay

    def due(self, *, now: float, backlog: float = 0.0) -> bool:
        """Whether a partial should be decoded now."""
        if self._next is None or backlog > self.max_interval:
            return False
        return now >= self._next - 1e-9

    def record(self, *, now: float, cost: float, backlog: float) -> None:
        """Register a partial decode that took ``cost`` wall seconds, leaving ``backlog`` seconds of lag."""
        previous = self.interval
        if cost > self.max_load * self.base_interval or backlog > self.base_interval:
            self.interval = min(self.max_interval, max(self.slow_interval, cost / self.max_load))
        elif cost < 0.6 * self.max_load * self.base_interval and backlog < 0.5 * self.base_interval:
            self.interval = self.base_interval
        if self.interval != previous:
            logger.debug(
                "partial cadence %.2f s -> %.2f s (decode %.3f s, backlog %.3f s)",
                previous,
                self.interval,
                cost,
                backlog,
            )
        self._next = now + self.interval


# --------------------------------------------------------------------------- interfaces


class Recognizer(ABC):
    """A speech recognizer, loaded once and shared by every session (and thread).

    Subclasses hold the heavy, shareable state (model weights) and create a fresh
    `RecognizerStream` for each session in `open`.
    """

    #: Short engine name, e.g. ``"whisper"`` or ``"sphinx"``.
    name: str = ""

    @abstractmethod
    def open(
        self,
        *,
        samplerate: int = ENGINE_RATE,
        word_times: bool = False,
        partials: bool = True,
        endpointing: Endpointing | None = None,
    ) -> RecognizerStream:
        """Open a stream for one session.

        Args:
            samplerate: The rate of the audio that will be passed to `RecognizerStream.accept`,
                in Hz (8000–48000; resampled internally).
            word_times: Whether finals carry word times (costs extra decoding time with whisper).
            partials: Whether to emit `RecognizedPartial` events at all.
            endpointing: Per-session endpointing; ``None`` uses the recognizer's default.

        Returns:
            A new stream. Close it with `RecognizerStream.close` or use it as a context manager.

        Raises:
            RecognizerOptionError: ``samplerate`` is not an integer between 8000 and 48000.
        """

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release shared resources. The default does nothing."""


class RecognizerStream(ABC):
    """One session's recognition state; thread-safe per stream, synchronous, no asyncio.

    Subclasses implement `_process` (16 kHz float32 in), `_flush` and `_close`; this base class
    validates and resamples the input, keeps the audio clock and a backlog estimate, and
    serialises calls with a lock.

    Args:
        samplerate: Input sample rate in Hz (8000–48000).
        word_times: Whether finals carry word times.
        partials: Whether partials are emitted.
    """

    def __init__(self, *, samplerate: int, word_times: bool, partials: bool) -> None:
        self.samplerate = check_samplerate(samplerate)
        self.word_times = bool(word_times)
        self.partials = bool(partials)
        self._lock = threading.Lock()
        self._closed = False
        self._resampler: soxr.ResampleStream | None = None
        if self.samplerate != ENGINE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(
                self.samplerate, ENGINE_RATE, 1, dtype="float32", quality="HQ"
            )
        self._samples_in = 0  # engine-rate samples received so far
        self._last_now: float | None = None
        self._debt = 0.0  # wall seconds of processing not yet covered by the caller's clock
        self.backlog = 0.0
        """How far behind real time the stream is, in seconds, at the start of the current call.

        Estimated from the caller's ``now`` values and the monotonic wall time each call took: if
        calls arrive every 0.1 s and each takes 0.3 s, the backlog grows by 0.2 s per call.
        """

    # ----------------------------------------------------------------- public API

    @property
    def closed(self) -> bool:
        """Whether `close` has been called."""
        return self._closed

    @property
    def audio_time(self) -> float:
        """Seconds of audio received so far (at the engine rate, after resampling)."""
        return self._samples_in / ENGINE_RATE

    def accept(self, pcm: npt.ArrayLike, *, now: float) -> list[RecognizerEvent]:
        """Feed audio and return the events it caused, in order.

        Args:
            pcm: Mono float samples in [-1, 1] at the stream's ``samplerate``: a 1-D array or
                one of shape ``(frames, 1)``. Any chunk size, including empty, is fine.
            now: The caller's clock when the audio arrived, in seconds (e.g. ``loop.time()``).

        Returns:
            `SpeechStart`, `RecognizedPartial`, `RecognizedFinal` and `SpeechEnd` events, oldest first.

        Raises:
            RecognizerOptionError: ``pcm`` is not mono floating-point audio.
            StreamClosedError: The stream was closed.
        """
        samples = _as_mono_float32(pcm)
        with self._lock:
            self._check_open("accept")
            started = self._begin(now)
            if self._resampler is not None:
                samples = self._resampler.resample_chunk(samples)
            self._samples_in += len(samples)
            try:
                return self._process(samples, now=now)
            finally:
                self._end(started)

    def flush(self, *, now: float) -> list[RecognizerEvent]:
        """Force a final for whatever speech is buffered (Pulse ``finalize`` / ``close_stream``).

        The stream stays open; the next speech starts a new utterance.

        Args:
            now: The caller's clock, in seconds.

        Returns:
            The events of the forced end: usually a `RecognizedFinal` and a `SpeechEnd`; empty when no
            utterance is in progress.

        Raises:
            StreamClosedError: The stream was closed.
        """
        with self._lock:
            self._check_open("flush")
            started = self._begin(now)
            try:
                return self._flush(now=now)
            finally:
                self._end(started)

    def close(self) -> None:
        """Release the stream's state. Buffered speech is dropped: call `flush` first to keep it."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def __enter__(self) -> Self:
        """Return the stream itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the stream."""
        self.close()

    # ----------------------------------------------------------------- for subclasses

    @abstractmethod
    def _process(self, samples: np.ndarray, *, now: float) -> list[RecognizerEvent]:
        """Handle ``samples`` (float32, 16 kHz, mono) and return events."""

    @abstractmethod
    def _flush(self, *, now: float) -> list[RecognizerEvent]:
        """Force the end of the current utterance."""

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Free per-stream resources."""

    # ----------------------------------------------------------------- internals

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise StreamClosedError(
                f"{what}() was called on a closed {type(self).__name__}; open a new stream with "
                "recognizer.open(...)."
            )

    def _begin(self, now: float) -> float:
        if self._last_now is not None:
            self._debt = max(0.0, self._debt - max(0.0, now - self._last_now))
        self._last_now = now
        self.backlog = self._debt
        return time.monotonic()

    def _end(self, started: float) -> None:
        self._debt += time.monotonic() - started


def check_samplerate(samplerate: Any) -> int:
    """Return ``samplerate`` as an int, or raise `RecognizerOptionError` naming the accepted range."""
    if isinstance(samplerate, bool) or not isinstance(samplerate, int | np.integer):
        raise RecognizerOptionError(
            f"samplerate={samplerate!r} is not an integer number of Hz; pass e.g. samplerate=16000."
        )
    if not MIN_SAMPLERATE <= int(samplerate) <= MAX_SAMPLERATE:
        raise RecognizerOptionError(
            f"samplerate={samplerate} Hz is outside {MIN_SAMPLERATE}-{MAX_SAMPLERATE} Hz; resample the "
            "audio first (voicelab.audio.convert.resample) or declare its real rate."
        )
    return int(samplerate)


def _as_mono_float32(pcm: npt.ArrayLike) -> np.ndarray:
    array = np.asarray(pcm)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise RecognizerOptionError(
            f"audio of shape {array.shape} is not mono; pass a 1-D array (mix channels down first, "
            "e.g. clip.to_mono())."
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise RecognizerOptionError(
            f"audio of dtype {array.dtype} is not floating point; pass float32 in [-1, 1] "
            "(for int16 PCM: samples.astype(np.float32) / 32768)."
        )
    return np.ascontiguousarray(array, dtype=np.float32)
