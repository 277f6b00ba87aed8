"""The light engine: pocketsphinx 5 with the US English model bundled in its wheel.

pocketsphinx streams natively: each stream owns a fresh `Decoder` (fresh per
session, so results do not depend on earlier sessions' cepstral mean) and a
pocketsphinx `Endpointer` (WebRTC VAD) that gates the decoder, so silence is
never decoded. Partials come from ``hyp()`` after every accepted chunk; finals
from ``end_utt()`` when the Endpointer ends speech, with word times from
``seg()`` (10 ms frames). It is cheap (about a fifth of a core per real-time
stream) but its transcripts are poor on synthetic speech.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from voicelab.emulator.recognizers.base import (
    ENGINE_RATE,
    Endpointing,
    Final,
    Partial,
    Recognizer,
    RecognizerEvent,
    RecognizerStream,
    SpeechEnd,
    SpeechStart,
    WordTime,
)
from voicelab.emulator.recognizers.errors import EngineUnavailableError, RecognizerOptionError

__all__ = ["SphinxRecognizer", "SphinxStream"]

logger = logging.getLogger("voicelab.emulator.recognizers.sphinx")

#: pocketsphinx frames are 10 ms.
FRAME_SECONDS = 0.01
_ALTERNATE = re.compile(r"\(\d+\)$")


class SphinxRecognizer(Recognizer):
    """pocketsphinx with its bundled en-us model; one Decoder per stream.

    Args:
        endpointing: Default segmentation. ``hangover`` is the Endpointer's window (speech
            starts and ends when ``ratio`` of a window agrees; default 0.3 s, pocketsphinx's own);
            ``max_utterance`` forces a final; ``min_speech``, ``threshold`` and ``preroll`` do not
            apply to this engine.
        vad_mode: WebRTC VAD aggressiveness, 0 (loose, default) to 3 (strict).
        ratio: Share of the window that must agree before the Endpointer changes state.
        decoder_options: Extra pocketsphinx `Config` options (``hmm``, ``lm``, ``dict`` …).

    Raises:
        EngineUnavailableError: pocketsphinx is not installed.
    """

    name = "sphinx"

    def __init__(
        self,
        *,
        endpointing: Endpointing | None = None,
        vad_mode: int = 0,
        ratio: float = 0.9,
        decoder_options: dict[str, Any] | None = None,
    ) -> None:
        try:
            import pocketsphinx
        except ImportError as exc:
            raise EngineUnavailableError(
                "pocketsphinx is not installed; install it with `pip install pocketsphinx` (40 MB, model included)."
            ) from exc
        if vad_mode not in (0, 1, 2, 3):
            raise RecognizerOptionError(f"vad_mode={vad_mode!r} is invalid; use 0 (loose) to 3 (strict).")
        if not 0.5 <= ratio < 1.0:
            raise RecognizerOptionError(f"ratio={ratio!r} must be at least 0.5 and below 1.0 (0.9 is usual).")
        self.endpointing = endpointing or Endpointing(hangover=0.3)
        self.vad_mode = vad_mode
        self.ratio = ratio
        self._ps = pocketsphinx
        options = {"loglevel": "FATAL", **(decoder_options or {}), "samprate": ENGINE_RATE}
        try:
            self._config = pocketsphinx.Config(**options)
        except Exception as exc:
            raise RecognizerOptionError(
                f"decoder_options={decoder_options!r} were rejected by pocketsphinx ({exc}); check the option "
                "names (hmm, lm, dict …) and that the files exist."
            ) from exc

    def open(
        self,
        *,
        samplerate: int = ENGINE_RATE,
        word_times: bool = False,
        partials: bool = True,
        endpointing: Endpointing | None = None,
    ) -> SphinxStream:
        """Open a stream with a fresh Decoder (about 0.3 s and 120 MB); see `Recognizer.open`."""
        endpointing = endpointing or self.endpointing
        decoder = self._ps.Decoder(self._config)

        def make_endpointer() -> Any:
            return self._ps.Endpointer(
                window=endpointing.hangover, ratio=self.ratio, vad_mode=self.vad_mode, sample_rate=ENGINE_RATE
            )

        return SphinxStream(
            decoder=decoder,
            make_endpointer=make_endpointer,
            samplerate=samplerate,
            word_times=word_times,
            partials=partials,
            endpointing=endpointing,
        )


class SphinxStream(RecognizerStream):
    """One pocketsphinx session: Endpointer-gated Decoder with native partials.

    Created by `SphinxRecognizer.open`; not meant to be built directly.
    """

    def __init__(
        self,
        *,
        decoder: Any,
        make_endpointer: Any,
        samplerate: int,
        word_times: bool,
        partials: bool,
        endpointing: Endpointing,
    ) -> None:
        super().__init__(samplerate=samplerate, word_times=word_times, partials=partials)
        self._decoder = decoder
        self._make_endpointer = make_endpointer
        self._endpointer = make_endpointer()
        self._ep_offset = 0.0  # audio time of the current Endpointer's first frame
        self._ep_samples = 0  # samples given to the current Endpointer
        self._frame_bytes = int(self._endpointer.frame_bytes)
        self._pending = b""
        self._max_utt = endpointing.max_utterance
        self._in_utt = False
        self._utt_start = 0.0  # audio time of the first sample in the decoder's utterance
        self._utt_fed = 0  # samples fed to the decoder in this utterance
        self._partial_text = ""

    def _process(self, samples: np.ndarray, *, now: float) -> list[RecognizerEvent]:
        events: list[RecognizerEvent] = []
        pcm = self._pending + (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        size = self._frame_bytes
        n_frames = len(pcm) // size
        for i in range(n_frames):
            was_in_speech = self._endpointer.in_speech
            speech = self._endpointer.process(pcm[i * size : (i + 1) * size])
            self._ep_samples += size // 2
            if speech is None:
                continue
            if not was_in_speech and not self._in_utt:
                start = self._ep_offset + float(self._endpointer.speech_start)
                events.append(SpeechStart(start))
                self._start_utt(start)
            self._feed(speech)
            if not self._endpointer.in_speech:
                end = self._ep_offset + float(self._endpointer.speech_end)
                events.extend(self._end_utt(end))
                events.append(SpeechEnd(end))
            elif self._max_utt is not None and self._utt_fed / ENGINE_RATE >= self._max_utt:
                cut = self._utt_start + self._utt_fed / ENGINE_RATE
                events.extend(self._end_utt(cut))
                self._start_utt(cut)
        self._pending = pcm[n_frames * size :]
        if self.partials and self._in_utt:
            hyp = self._decoder.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            if text and text != self._partial_text:
                self._partial_text = text
                events.append(Partial(text, self._utt_start + self._utt_fed / ENGINE_RATE))
        return events

    def _flush(self, *, now: float) -> list[RecognizerEvent]:
        if not self._in_utt:
            return []
        speech = self._endpointer.end_stream(self._pending) if self._endpointer.in_speech else None
        if speech:
            self._feed(speech)
        end = self._utt_start + self._utt_fed / ENGINE_RATE
        events = self._end_utt(end)
        events.append(SpeechEnd(end))
        # The Endpointer cannot go on after end_stream: start a new one where the audio is now.
        self._ep_offset += (self._ep_samples + len(self._pending) // 2) / ENGINE_RATE
        self._ep_samples = 0
        self._pending = b""
        self._endpointer = self._make_endpointer()
        return events

    def _close(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()
            self._in_utt = False
        self._pending = b""

    def _start_utt(self, start: float) -> None:
        self._decoder.start_utt()
        self._in_utt = True
        self._utt_start = start
        self._utt_fed = 0
        self._partial_text = ""

    def _feed(self, speech: bytes) -> None:
        self._decoder.process_raw(speech, False, False)
        self._utt_fed += len(speech) // 2

    def _end_utt(self, end: float) -> list[RecognizerEvent]:
        self._decoder.end_utt()
        self._in_utt = False
        hyp = self._decoder.hyp()
        text = hyp.hypstr.strip() if hyp is not None else ""
        if not text:
            return []
        start = self._utt_start
        end = max(end, start)
        words: list[WordTime] = []
        if self.word_times:
            cursor = start
            for seg in self._decoder.seg():
                word = _ALTERNATE.sub("", seg.word)
                if word.startswith(("<", "[")) or word == "":
                    continue
                w_start = min(max(start + seg.start_frame * FRAME_SECONDS, cursor), end)
                w_end = min(max(start + (seg.end_frame + 1) * FRAME_SECONDS, w_start), end)
                words.append(WordTime(word, w_start, w_end, float(min(max(seg.prob, 0.0), 1.0))))
                cursor = w_end
        return [Final(text, start, end, tuple(words))]
