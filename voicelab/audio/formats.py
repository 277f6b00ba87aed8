"""Names of sample encodings and the declared format of headerless ("raw") audio.

The encoding names are the ones Smallest Pulse uses on the wire (``linear16``,
``linear32``, ``alaw``, ``mulaw``, ``opus``, ``ogg_opus``) plus ``float32`` for
raw IEEE float data, which no API accepts but which users often have.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicelab.encoding_names import ENCODING_ALIASES
from voicelab.errors import AudioFormatError

__all__ = [
    "BYTES_PER_SAMPLE",
    "ENCODINGS",
    "PCM_ENCODINGS",
    "RawFormat",
    "check_encoding",
    "check_samplerate",
]

#: Encodings with a fixed number of bytes per sample (little-endian where it matters).
BYTES_PER_SAMPLE: dict[str, int] = {
    "linear16": 2,  # signed 16-bit PCM, little-endian
    "linear32": 4,  # signed 32-bit PCM, little-endian (see docs/unknowns: Deepgram-style naming)
    "float32": 4,  # IEEE 754 float32 in [-1, 1], little-endian
    "alaw": 1,  # ITU-T G.711 A-law
    "mulaw": 1,  # ITU-T G.711 mu-law
}
PCM_ENCODINGS: tuple[str, ...] = tuple(BYTES_PER_SAMPLE)
#: Every encoding voicelab can encode and decode.
ENCODINGS: tuple[str, ...] = (*PCM_ENCODINGS, "opus", "ogg_opus")

_ALIASES = ENCODING_ALIASES


def check_encoding(encoding: str) -> str:
    """Return the canonical name of ``encoding`` or raise `AudioFormatError`.

    Args:
        encoding: An encoding name such as ``"linear16"``; common aliases
            (``"pcm_s16le"``, ``"ulaw"``, ``"pcmu"``) are accepted.

    Returns:
        The canonical name, one of `ENCODINGS`.
    """
    if not isinstance(encoding, str):
        raise AudioFormatError(f"encoding must be a string such as 'linear16', got {encoding!r}")
    key = encoding.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in ENCODINGS:
        raise AudioFormatError(
            f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}"
        )
    return key


def check_samplerate(samplerate: object, *, what: str = "samplerate") -> int:
    """Validate a sample rate in Hz and return it as an int.

    Args:
        samplerate: The rate in Hz; must be a positive whole number up to 768 kHz.
        what: How to name the value in the error message.

    Returns:
        The rate as an ``int``.
    """
    if isinstance(samplerate, bool) or not isinstance(samplerate, (int, float)):
        raise AudioFormatError(
            f"{what} must be a whole number of Hz such as 16000, got {samplerate!r}"
        )
    if samplerate != int(samplerate) or not 1 <= samplerate <= 768_000:
        raise AudioFormatError(
            f"{what} must be a whole number of Hz between 1 and 768000, got {samplerate!r}"
        )
    return int(samplerate)


@dataclass(frozen=True)
class RawFormat:
    """The declared format of headerless audio bytes.

    Attributes:
        encoding: One of `ENCODINGS` (aliases are normalised).
        samplerate: Samples per second per channel, in Hz.
        channels: Interleaved channels (1 for every streaming API here).
    """

    encoding: str = "linear16"
    samplerate: int = 16000
    channels: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoding", check_encoding(self.encoding))
        object.__setattr__(self, "samplerate", check_samplerate(self.samplerate))
        if isinstance(self.channels, bool) or not isinstance(self.channels, int) or not 1 <= self.channels <= 64:
            raise AudioFormatError(
                f"channels must be a whole number from 1 to 64, got {self.channels!r}"
            )

    @classmethod
    def parse(cls, text: str) -> RawFormat:
        """Parse ``"ENCODING:RATE[:CHANNELS]"``, e.g. ``"linear16:16000:1"``.

        Args:
            text: The spec, as given on the command line (``--raw``).

        Returns:
            The parsed format.
        """
        parts = text.split(":")
        if not 2 <= len(parts) <= 3:
            raise AudioFormatError(
                f"raw format {text!r} must look like ENCODING:RATE[:CHANNELS], e.g. linear16:16000:1"
            )
        try:
            rate = int(parts[1])
            channels = int(parts[2]) if len(parts) == 3 else 1
        except ValueError:
            raise AudioFormatError(
                f"raw format {text!r}: RATE and CHANNELS must be whole numbers, e.g. linear16:16000:1"
            ) from None
        return cls(encoding=parts[0], samplerate=rate, channels=channels)

    @property
    def bytes_per_sample(self) -> int | None:
        """Bytes per sample per channel, or ``None`` for compressed encodings."""
        return BYTES_PER_SAMPLE.get(self.encoding)

    @property
    def bytes_per_second(self) -> int | None:
        """Bytes per second of audio, or ``None`` for compressed encodings."""
        bps = self.bytes_per_sample
        return None if bps is None else bps * self.samplerate * self.channels

    def __str__(self) -> str:
        return f"{self.encoding}:{self.samplerate}:{self.channels}"
