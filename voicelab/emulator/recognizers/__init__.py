"""Offline speech recognizers behind the local emulator.

Two engines share one interface (`Recognizer` → `RecognizerStream` → events):

- ``"whisper"`` (default): faster-whisper + tiny.en, VAD-segmented, partials by
  re-decoding; accurate (WER ~0.1 on synthetic speech, ~0 on clean human
  speech), about one real-time session per 2 cores with 0.5 s partials.
- ``"sphinx"``: pocketsphinx with its bundled model; native streaming, cheap
  (6+ real-time sessions on 2 cores), poor text on synthetic speech.

Example::

    from voicelab.emulator.recognizers import get_recognizer

    recognizer = get_recognizer("whisper")          # loaded once, cached, thread-safe
    with recognizer.open(samplerate=16000, word_times=True) as stream:
        for event in stream.accept(samples, now=time.monotonic()):
            ...
        events = stream.flush(now=time.monotonic())
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from voicelab.emulator.recognizers.base import (
    ENGINE_RATE,
    Endpointing,
    PartialCadence,
    RecognizedFinal,
    RecognizedPartial,
    Recognizer,
    RecognizerEvent,
    RecognizerStream,
    SpeechEnd,
    SpeechStart,
    WordTime,
)
from voicelab.emulator.recognizers.errors import (
    EngineUnavailableError,
    ModelNotFoundError,
    RecognizerError,
    RecognizerOptionError,
    StreamClosedError,
)

__all__ = [
    "ENGINE_RATE",
    "ENGINES",
    "EngineName",
    "Endpointing",
    "EngineUnavailableError",
    "RecognizedFinal",
    "ModelNotFoundError",
    "RecognizedPartial",
    "PartialCadence",
    "Recognizer",
    "RecognizerError",
    "RecognizerEvent",
    "RecognizerOptionError",
    "RecognizerStream",
    "SpeechEnd",
    "SpeechStart",
    "StreamClosedError",
    "WordTime",
    "get_recognizer",
]

logger = logging.getLogger("voicelab.emulator.recognizers")

EngineName = Literal["whisper", "sphinx"]
#: The engine names `get_recognizer` accepts.
ENGINES: tuple[str, ...] = ("whisper", "sphinx")

_cache: dict[tuple[str, tuple[tuple[str, str], ...]], Recognizer] = {}
_cache_lock = threading.Lock()


def get_recognizer(name: EngineName | str = "whisper", *, cache: bool = True, **options: Any) -> Recognizer:
    """Return a loaded recognizer, shared between callers that ask for the same engine and options.

    ``"whisper"`` falls back to ``"sphinx"`` (with a logged warning) when faster-whisper is not
    installed; a missing *model* is an error, not a fallback.

    Args:
        name: ``"whisper"`` or ``"sphinx"``.
        cache: Reuse a recognizer made earlier with the same name and options (models load once).
        **options: Keyword options of `WhisperRecognizer` or `SphinxRecognizer`
            (e.g. ``endpointing=Endpointing(hangover=0.7)``, ``model_path=...``, ``vad="webrtc"``).

    Returns:
        A `Recognizer`; call ``.open(samplerate=..., word_times=...)`` once per session.

    Raises:
        RecognizerOptionError: Unknown engine name or option.
        EngineUnavailableError: The engine (and, for whisper, the sphinx fallback) is not installed.
        ModelNotFoundError: faster-whisper is installed but no Whisper model can be loaded offline.
    """
    if name not in ENGINES:
        raise RecognizerOptionError(
            f"recognizer {name!r} is unknown; use one of {', '.join(map(repr, ENGINES))}."
        )
    key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _cache_lock:
        if cache and key in _cache:
            return _cache[key]
        recognizer = _create(name, options)
        if cache:
            _cache[key] = recognizer
        return recognizer


def _create(name: str, options: dict[str, Any]) -> Recognizer:
    try:
        if name == "whisper":
            try:
                from voicelab.emulator.recognizers.whisper import WhisperRecognizer

                return WhisperRecognizer(**options)
            except EngineUnavailableError as exc:
                logger.warning("%s Falling back to the sphinx engine.", exc)
                sphinx_options = {k: v for k, v in options.items() if k == "endpointing"}
                return _create("sphinx", sphinx_options)
        from voicelab.emulator.recognizers.sphinx import SphinxRecognizer

        return SphinxRecognizer(**options)
    except TypeError as exc:
        raise RecognizerOptionError(
            f"{name} recognizer options {sorted(options)} were rejected ({exc}); see the docstring of "
            f"{'WhisperRecognizer' if name == 'whisper' else 'SphinxRecognizer'} for the valid keywords."
        ) from exc
