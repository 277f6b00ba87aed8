"""Names of sample encodings and the declared format of headerless ("raw") audio.

The encoding names are the ones Smallest Pulse uses on the wire (``linear16``,
``linear32``, ``alaw``, ``mulaw``, ``opus``, ``ogg_opus``) plus ``float32`` for
raw IEEE float data, which no API accepts but which users often have.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

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
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: not "16k", "16_000", "1.6e4" or full-width digits


def check_encoding(encoding: str) -> str:
    """Return the canonical name of ``encoding`` or raise `AudioFormatError`.

    Args:
        encoding: An encoding name such as ``"linear16"``; common aliases
            (``"pcm_s16le"``, ``"ulaw"``, ``"pcmu"``) are accepted.

    Returns:
        The canonical name, one of `ENCODINGS`.
    """
    if not isinstance(encoding, str):
        raise AudioFormatError(f"encoding must be a string such as 'linear16', got {_short(encoding)}")
    key = encoding.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in ENCODINGS:
        raise AudioFormatError(
            f"unknown encoding {_short(encoding)}; use one of {', '.join(ENCODINGS)}"
        )
    return key


def check_samplerate(samplerate: object, *, what: str = "samplerate") -> int:
    """Validate a sample rate in Hz and return it as an int.

    Args:
        samplerate: The rate in Hz; must be a positive whole number up to 768 kHz (numpy integers and
            whole floats such as ``16000.0`` are accepted).
        what: How to name the value in the error message.

    Returns:
        The rate as an ``int``.

    Raises:
        AudioFormatError: Not a number, not whole, not finite, or outside 1-768000 Hz.
    """
    if isinstance(samplerate, (bool, np.bool_)) or not isinstance(samplerate, (numbers.Integral, numbers.Real)):
        raise AudioFormatError(
            f"{what} must be a whole number of Hz such as 16000, got {_short(samplerate)}"
        )
    value = float(samplerate) if not isinstance(samplerate, numbers.Integral) else int(samplerate)
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= 768_000:
        raise AudioFormatError(
            f"{what} must be a whole number of Hz between 1 and 768000, got {_short(samplerate)}"
        )
    return int(value)


def _short(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters so a huge bad value cannot flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


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

        RATE and CHANNELS are plain ASCII digits (``16000``, not ``16k``, ``16_000`` or ``1.6e4``);
        spaces around the parts are ignored.

        Args:
            text: The spec, as given on the command line (``--raw``).

        Returns:
            The parsed format.

        Raises:
            AudioFormatError: The spec is not a string, has the wrong number of parts, a RATE or
                CHANNELS that is not a whole number, an unknown encoding, or a value out of range; the
                message quotes the spec (cut to 60 characters) and shows the expected form.
        """
        example = "e.g. linear16:16000:1"
        if not isinstance(text, str):
            raise AudioFormatError(
                f"a raw format must be a string ENCODING:RATE[:CHANNELS] ({example}), got {_short(text)}"
            )
        shown = _short(text)
        parts = [p.strip() for p in text.split(":")]
        if not 2 <= len(parts) <= 3:
            raise AudioFormatError(
                f"raw format {shown} has {len(parts)} part{'s' if len(parts) != 1 else ''}; it must look like "
                f"ENCODING:RATE[:CHANNELS], {example}"
            )
        if not parts[0]:
            raise AudioFormatError(f"raw format {shown} names no encoding; {example}")
        names = ("RATE", "CHANNELS")
        for name, part in zip(names, parts[1:], strict=False):
            if not _DIGITS.fullmatch(part):
                raise AudioFormatError(
                    f"raw format {shown}: {name} {_short(part, 24)} is not a whole number"
                    + (" of Hz (write 16000, not 16k)" if name == "RATE" else "")
                    + f"; {example}"
                )
            if len(part) > 9:
                raise AudioFormatError(
                    f"raw format {shown}: {name} {_short(part, 24)} is far out of range "
                    + ("(1-768000 Hz)" if name == "RATE" else "(1-64 channels)") + f"; {example}"
                )
        rate = int(parts[1])
        channels = int(parts[2]) if len(parts) == 3 else 1
        try:
            return cls(encoding=parts[0], samplerate=rate, channels=channels)
        except AudioFormatError as exc:
            raise AudioFormatError(f"raw format {shown}: {exc}") from None

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
