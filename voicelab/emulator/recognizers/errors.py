"""Errors raised by the offline speech recognizers.

Every class derives from `voicelab.errors.VoicelabError`; each message names
the offending value and how to fix it.
"""

from __future__ import annotations

from voicelab.errors import VoicelabError

__all__ = [
    "EngineUnavailableError",
    "ModelNotFoundError",
    "RecognizerError",
    "RecognizerOptionError",
    "StreamClosedError",
]


class RecognizerError(VoicelabError):
    """Root of the errors raised by `voicelab.emulator.recognizers`."""


class RecognizerOptionError(RecognizerError, ValueError):
    """An option (engine name, sample rate, endpointing value, audio array) is invalid."""


class EngineUnavailableError(RecognizerError, ImportError):
    """The Python package an engine needs is not installed."""


class ModelNotFoundError(RecognizerError, FileNotFoundError):
    """No speech model could be loaded from the local disk (the emulator never downloads at run time)."""


class StreamClosedError(RecognizerError, RuntimeError):
    """`accept` or `flush` was called on a stream after `close`."""
