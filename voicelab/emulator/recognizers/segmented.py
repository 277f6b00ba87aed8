"""A stream for non-streaming engines: VAD-segmented utterances, re-decoded for partials.

`SegmentedStream` runs a `FrameVad` and an `Endpointer` over the audio, keeps
the current utterance (plus a little pre-roll) in memory, re-decodes the
utterance for partials at an adaptive cadence (`PartialCadence`), and decodes
it once more, carefully, for the final when the endpointer ends it, when it
grows past ``max_utterance`` (cut at the quietest frame of its last seconds),
or on `flush`. Nothing is decoded outside an utterance, so silence never
produces words.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from voicelab.emulator.recognizers.base import (
    ENGINE_RATE,
    Endpointing,
    PartialCadence,
    RecognizedFinal,
    RecognizedPartial,
    RecognizerEvent,
    RecognizerStream,
    SpeechEnd,
    SpeechStart,
    WordTime,
)
from voicelab.emulator.recognizers.vad import Endpointer, FrameVad

__all__ = ["SegmentedStream", "UtteranceDecoder"]

logger = logging.getLogger("voicelab.emulator.recognizers.segmented")

#: Seconds of audio after the speech end that are decoded with a final.
FINAL_TAIL = 0.2
#: A partial needs at least this many seconds of new audio since the previous one.
MIN_NEW_AUDIO = 0.2
#: A partial needs at least this many seconds of utterance audio.
MIN_PARTIAL_AUDIO = 0.3
#: A forced cut looks for the quietest frame in this many final seconds of the utterance.
CUT_SEARCH = 3.0


class UtteranceDecoder(Protocol):
    """The engine side of a `SegmentedStream`: decodes one utterance buffer (16 kHz float32)."""

    def decode_partial(self, audio: np.ndarray) -> str:
        """Return a quick hypothesis for ``audio`` (may be empty)."""
        ...

    def decode_final(self, audio: np.ndarray, *, word_times: bool) -> tuple[str, Sequence[WordTime]]:
        """Return the careful transcript of ``audio`` and, when asked, word times relative to its start."""
        ...


class SegmentedStream(RecognizerStream):
    """VAD-gated utterance segmentation around an `UtteranceDecoder`.

    Args:
        decoder: Decodes utterance buffers; may be shared between streams (it serialises itself).
        vad: A fresh per-stream VAD.
        samplerate: Input rate in Hz.
        word_times: Whether finals carry word times.
        partials: Whether to emit partials.
        endpointing: Segmentation settings.
        cadence: RecognizedPartial pacing; one per stream.
    """

    def __init__(
        self,
        *,
        decoder: UtteranceDecoder,
        vad: FrameVad,
        samplerate: int,
        word_times: bool,
        partials: bool,
        endpointing: Endpointing,
        cadence: PartialCadence,
    ) -> None:
        super().__init__(samplerate=samplerate, word_times=word_times, partials=partials)
        self._decoder = decoder
        self._vad = vad
        self.endpointing = endpointing
        self.cadence = cadence
        self._frame = vad.frame_samples
        self._endpointer = Endpointer(
            frame_seconds=self._frame / ENGINE_RATE,
            min_speech=endpointing.min_speech,
            hangover=endpointing.hangover,
            threshold=endpointing.threshold,
        )
        self._preroll = int(round(endpointing.preroll * ENGINE_RATE))
        self._max_utt = (
            None if endpointing.max_utterance is None else int(round(endpointing.max_utterance * ENGINE_RATE))
        )
        self._pending = np.zeros(0, dtype=np.float32)  # received, not yet through the VAD
        self._chunks: list[np.ndarray] = []  # VAD'd audio from sample _buf_start to _done
        self._buf_start = 0
        self._done = 0  # samples through the VAD
        self._utt_start: int | None = None  # first sample of the utterance buffer (with pre-roll)
        self._utt_onset = 0.0  # RecognizedFinal.start of the current utterance
        self._probs: list[tuple[int, float]] = []  # (frame end sample, probability) in the utterance
        self._partial_text = ""
        self._partial_end = 0
        self._decoded_until = 0  # end of the audio of the last final: never decoded twice

    # ----------------------------------------------------------------- RecognizerStream

    def _process(self, samples: np.ndarray, *, now: float) -> list[RecognizerEvent]:
        events: list[RecognizerEvent] = []
        # a copy: the frames are kept, and the caller may reuse its buffer
        pending = np.concatenate((self._pending, samples)) if len(self._pending) else samples.copy()
        n_frames = len(pending) // self._frame
        for i in range(n_frames):
            frame = pending[i * self._frame : (i + 1) * self._frame]
            probability = self._vad.probability(frame)
            self._chunks.append(frame)
            self._done += self._frame
            found = self._endpointer.update(probability)
            if self._utt_start is not None:
                self._probs.append((self._done, probability))
            if found is not None and found.kind == "start":
                onset = int(round(found.t * ENGINE_RATE))
                # the pre-roll never reaches back into audio a final (e.g. a flush) already used
                self._utt_start = max(self._buf_start, onset - self._preroll, self._decoded_until)
                self._utt_onset = max(found.t, self._decoded_until / ENGINE_RATE)
                self._probs = []
                self._partial_text = ""
                self._partial_end = self._utt_start
                self.cadence.start(now=now)
                events.append(SpeechStart(found.t))
            elif found is not None and found.kind == "end":
                end = int(round(found.t * ENGINE_RATE))
                events.extend(
                    self._finalize(stop=min(self._done, end + int(FINAL_TAIL * ENGINE_RATE)), end=found.t)
                )
                events.append(SpeechEnd(found.t))
            elif (
                self._utt_start is not None
                and self._max_utt is not None
                and self._done - self._utt_start >= self._max_utt
                and probability >= self._endpointer.release  # in a pause, the endpointer ends it soon
            ):
                events.extend(self._cut(now=now))
            if self._utt_start is None:
                self._trim()
        self._pending = pending[n_frames * self._frame :].copy()
        if self._should_partial(now):
            events.extend(self._partial(now=now))
        return events

    def _flush(self, *, now: float) -> list[RecognizerEvent]:
        if self._utt_start is None:
            return []
        stop = self._done + len(self._pending)
        events = self._finalize(stop=stop, end=stop / ENGINE_RATE, extra=self._pending)
        events.append(SpeechEnd(self._endpointer.last_speech_end))
        self._endpointer.reset()
        self._trim()
        return events

    def _close(self) -> None:
        self._chunks = []
        self._pending = np.zeros(0, dtype=np.float32)
        self._utt_start = None

    # ----------------------------------------------------------------- internals

    def _audio(self, start: int, stop: int, extra: np.ndarray | None = None) -> np.ndarray:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
        if extra is not None and len(extra):
            audio = np.concatenate((audio, extra))
        return audio[start - self._buf_start : stop - self._buf_start]

    def _trim(self) -> None:
        """Outside an utterance, keep only the pre-roll."""
        keep = self._done - self._preroll
        while self._chunks and self._buf_start + len(self._chunks[0]) <= keep:
            self._buf_start += len(self._chunks.pop(0))

    def _should_partial(self, now: float) -> bool:
        if not self.partials or self._utt_start is None:
            return False
        if self._done - self._partial_end < MIN_NEW_AUDIO * ENGINE_RATE:
            return False
        if self._done - self._utt_start < MIN_PARTIAL_AUDIO * ENGINE_RATE:
            return False
        if self._partial_end >= self._endpointer.last_speech_end * ENGINE_RATE:
            return False  # in the hangover, and the last partial already heard all the speech
        return self.cadence.due(now=now, backlog=self.backlog)

    def _partial(self, *, now: float) -> list[RecognizerEvent]:
        assert self._utt_start is not None
        audio = self._audio(self._utt_start, self._done)
        started = time.monotonic()
        text = self._decoder.decode_partial(audio).strip()
        cost = time.monotonic() - started
        self.cadence.record(now=now, cost=cost, backlog=self.backlog + cost)
        self._partial_end = self._done
        if not text and not self._partial_text:
            self.cadence.start(now=now)  # no words yet: the next try is due after first_delay, not interval
            return []
        if not text or text == self._partial_text:
            return []
        self._partial_text = text
        return [RecognizedPartial(text, self._done / ENGINE_RATE)]

    def _finalize(self, *, stop: int, end: float, extra: np.ndarray | None = None) -> list[RecognizerEvent]:
        """Decode the utterance up to sample ``stop`` and leave the idle state; returns [RecognizedFinal] or []."""
        assert self._utt_start is not None
        start_sample, onset = self._utt_start, self._utt_onset
        self._utt_start = None
        self._decoded_until = max(self._decoded_until, stop)
        self._probs = []
        audio = self._audio(start_sample, stop, extra)
        started = time.monotonic()
        text, words = self._decoder.decode_final(audio, word_times=self.word_times)
        logger.debug(
            "final of %.2f s audio decoded in %.3f s: %r",
            len(audio) / ENGINE_RATE,
            time.monotonic() - started,
            text,
        )
        text = text.strip()
        if not text:
            return []
        start = min(onset, end)
        placed = _place_words(words, offset=start_sample / ENGINE_RATE, start=start, end=end)
        return [RecognizedFinal(text, start, end, placed if self.word_times else ())]

    def _cut(self, *, now: float) -> list[RecognizerEvent]:
        """Force a final at the quietest frame of the utterance's last seconds; speech goes on."""
        assert self._utt_start is not None
        # the quietest frame of the last CUT_SEARCH seconds, but in the utterance's second half
        low = max(self._done - int(CUT_SEARCH * ENGINE_RATE), (self._utt_start + self._done) // 2)
        candidates = [(p, s) for s, p in self._probs if s >= low] or [(1.0, self._done)]
        cut = min(candidates)[1]
        logger.debug("utterance reached max_utterance; forced final at %.2f s", cut / ENGINE_RATE)
        events = self._finalize(stop=cut, end=cut / ENGINE_RATE)
        self._utt_start = cut
        self._utt_onset = cut / ENGINE_RATE
        self._probs = [(s, p) for s, p in self._probs if s > cut]
        self._partial_text = ""
        self._partial_end = cut
        self.cadence.start(now=now)
        return events


def _place_words(
    words: Sequence[WordTime], *, offset: float, start: float, end: float
) -> tuple[WordTime, ...]:
    """Shift words by ``offset``, clamp them into [start, end] and make them monotonic."""
    placed: list[WordTime] = []
    cursor = start
    for word in words:
        text = word.word.strip()
        if not text:
            continue
        w_start = min(max(word.start + offset, cursor), end)
        w_end = min(max(word.end + offset, w_start), end)
        placed.append(WordTime(text, w_start, w_end, float(min(max(word.confidence, 0.0), 1.0))))
        cursor = w_end
    return tuple(placed)
