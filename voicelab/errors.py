"""The exception hierarchy: every error voicelab raises derives from `VoicelabError`.

Errors are translated once, at the boundary where they happen, and always say
three things: *what* value was wrong, *why* it is wrong, and *how* to fix it.
"""

from __future__ import annotations

__all__ = [
    "AudioFormatError",
    "AudioLoadError",
    "ChunkError",
    "CodecError",
    "CodecUnavailableError",
    "ConversionError",
    "TargetError",
    "VoicelabError",
]


class VoicelabError(Exception):
    """Root of every exception voicelab raises on purpose."""


class AudioLoadError(VoicelabError):
    """A source could not be read as audio (missing file, unknown container, truncated data)."""


class AudioFormatError(VoicelabError, ValueError):
    """A declared audio format (encoding, rate, channels, dtype) is invalid or inconsistent."""


class CodecError(VoicelabError, ValueError):
    """Bytes could not be encoded or decoded with the requested codec."""


class CodecUnavailableError(CodecError):
    """A codec needs a native library that is not installed on this machine."""


class ConversionError(VoicelabError, ValueError):
    """A conversion (resampling, mixdown, dtype, normalisation) got arguments it cannot honour."""


class ChunkError(VoicelabError, ValueError):
    """Chunking was asked for an impossible size or duration."""


class TargetError(VoicelabError, KeyError):
    """An unknown API target preset was named."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""
