"""A tiny RIFF/WAVE header reader: what a WAV header *claims*, to compare with what is there.

libsndfile quietly reads whatever frames a truncated WAV still holds; this
module lets voicelab say "the header promises 5.5 s but the file holds 3.3 s".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["WavHeader", "find_riff", "parse_wav_header"]


@dataclass(frozen=True)
class WavHeader:
    """Facts read from a RIFF/WAVE header.

    Attributes:
        offset: Byte offset of ``RIFF`` within the data that was searched.
        format_tag: 1 for PCM, 3 for IEEE float, 6 A-law, 7 mu-law, 0xFFFE extensible.
        channels: Channels per frame.
        samplerate: Sample rate in Hz.
        bits_per_sample: Bits per sample.
        data_offset: Byte offset of the sample data, or ``None`` if no ``data`` chunk was found.
        data_size: Bytes of sample data the header declares.
        available: Bytes of sample data actually present after ``data_offset``.
    """

    offset: int
    format_tag: int
    channels: int
    samplerate: int
    bits_per_sample: int
    data_offset: int | None
    data_size: int | None
    available: int | None

    @property
    def block_align(self) -> int:
        """Bytes per frame."""
        return max(1, self.channels * self.bits_per_sample // 8)

    @property
    def declared_frames(self) -> int | None:
        """Frames the header declares, or ``None`` when unknown (streamed WAVs write 0 or 0xFFFFFFFF)."""
        if self.data_size is None or self.data_size in (0, 0xFFFFFFFF):
            return None
        return self.data_size // self.block_align

    @property
    def truncated(self) -> bool:
        """True when the header declares more sample bytes than the data holds."""
        frames = self.declared_frames
        return frames is not None and self.available is not None and self.available < self.data_size  # type: ignore[operator]


def find_riff(data: bytes, *, limit: int = 1 << 16) -> int | None:
    """Return the offset of a ``RIFF....WAVE`` signature in the first ``limit`` bytes, or ``None``."""
    start = 0
    head = data[: limit + 12]
    while True:
        i = head.find(b"RIFF", start)
        if i < 0 or i + 12 > len(head):
            return None
        if head[i + 8 : i + 12] == b"WAVE":
            return i
        start = i + 1


def parse_wav_header(data: bytes, *, offset: int = 0) -> WavHeader | None:
    """Parse the RIFF/WAVE header at ``offset``; ``None`` if there is none or it is unreadable.

    Args:
        data: The file's bytes (the whole file, so the available size can be measured).
        offset: Where ``RIFF`` starts.

    Returns:
        The header facts, or ``None``.
    """
    if data[offset : offset + 4] != b"RIFF" or data[offset + 8 : offset + 12] != b"WAVE":
        return None
    pos = offset + 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = pos + 8
        if cid == b"fmt " and size >= 16 and body + 16 <= len(data):
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            if fmt is None:
                return None
            return WavHeader(
                offset=offset,
                format_tag=fmt[0],
                channels=fmt[1],
                samplerate=fmt[2],
                bits_per_sample=fmt[3],
                data_offset=body,
                data_size=size,
                available=max(0, len(data) - body),
            )
        pos = body + size + (size & 1)
    if fmt is None:
        return None
    return WavHeader(offset, fmt[0], fmt[1], fmt[2], fmt[3], None, None, None)
