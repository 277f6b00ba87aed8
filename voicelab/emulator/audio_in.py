"""Streaming decoders for the audio a client sends, one frame at a time.

Every Pulse encoding is covered: ``linear16``/``linear32``/``alaw``/``mulaw`` (a sample cut
between two frames is carried over), ``opus`` (one raw Opus packet per binary frame, one
stateful libopus decoder per session) and ``ogg_opus`` (an Ogg Opus byte stream cut anywhere;
pages are reassembled, the headers skipped, pre-skip honoured). Output is float32 mono at
`StreamDecoder.output_rate`; the recognizer resamples it.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from voicelab.audio.codecs import decode_pcm
from voicelab.errors import CodecError

__all__ = ["StreamDecoder", "make_decoder"]

_BYTES = {"linear16": 2, "linear32": 4, "alaw": 1, "mulaw": 1}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_OGG_HEADER = struct.Struct("<4sBBqIIIB")


class StreamDecoder(Protocol):
    """Turns successive frames into float32 samples."""

    output_rate: int

    def decode(self, data: bytes) -> npt.NDArray[np.float32]:
        """Decode one frame; raises `CodecError` on data that cannot be this encoding."""
        ...


class PcmDecoder:
    """Headerless PCM or G.711 bytes; a partial sample is kept for the next frame."""

    def __init__(self, *, encoding: str, samplerate: int) -> None:
        self.encoding = encoding
        self.output_rate = samplerate
        self._width = _BYTES[encoding]
        self._rest = b""

    def decode(self, data: bytes) -> npt.NDArray[np.float32]:
        """Decode the whole samples of ``rest + data``."""
        buf = self._rest + data if self._rest else data
        usable = len(buf) - len(buf) % self._width
        self._rest = buf[usable:]
        return decode_pcm(buf[:usable], encoding=self.encoding)


def _opus_rate(samplerate: int) -> int:
    """The libopus output rate for a declared rate (22050/44100 decode at 48000 and are resampled later)."""
    return samplerate if samplerate in _OPUS_RATES else 48000


class OpusPacketDecoder:
    """One raw Opus packet per frame, decoded by one stateful libopus decoder."""

    def __init__(self, *, samplerate: int) -> None:
        try:
            import opuslib
            import opuslib.api.decoder
        except Exception as exc:  # opuslib raises a bare Exception when libopus is missing
            raise CodecError(f"raw Opus needs libopus and opuslib ({exc}); apt-get install libopus0") from exc
        self.output_rate = _opus_rate(samplerate)
        self._api = opuslib.api.decoder
        self._decoder: Any = opuslib.Decoder(self.output_rate, 1)
        self._max_frame = self.output_rate * 120 // 1000

    def decode(self, data: bytes) -> npt.NDArray[np.float32]:
        """Decode one packet."""
        if not data:
            return np.zeros(0, dtype=np.float32)
        try:
            pcm = self._api.decode(self._decoder.decoder_state, data, len(data), self._max_frame, False, channels=1)
        except Exception as exc:  # opuslib.OpusError
            raise CodecError(
                f"a {len(data)}-byte binary frame is not a raw Opus packet ({exc}); with encoding=opus send "
                "exactly one Opus packet per frame (use ogg_opus for an Ogg file)"
            ) from exc
        return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / np.float32(32768.0)


class OggOpusDecoder:
    """An Ogg Opus byte stream cut at arbitrary points; packets are reassembled across pages."""

    def __init__(self, *, samplerate: int) -> None:
        self._buf = b""
        self._packet = b""
        self._packets_seen = 0
        self._preskip = 0
        self._declared = samplerate
        self._opus: OpusPacketDecoder | None = None
        self.output_rate = _opus_rate(samplerate)

    def decode(self, data: bytes) -> npt.NDArray[np.float32]:
        """Consume bytes; decode every complete packet."""
        self._buf += data
        out: list[npt.NDArray[np.float32]] = []
        while True:
            if len(self._buf) < _OGG_HEADER.size:
                break
            capture, _version, _kind, _granule, _serial, _seq, _crc, nseg = _OGG_HEADER.unpack_from(self._buf)
            if capture != b"OggS":
                raise CodecError(
                    f"ogg_opus data must be an Ogg stream (pages start with b'OggS'), got {self._buf[:4]!r}; "
                    "send the .opus/.ogg file bytes, or use encoding=opus for raw packets"
                )
            head = _OGG_HEADER.size + nseg
            if len(self._buf) < head:
                break
            lacing = self._buf[_OGG_HEADER.size : head]
            total = head + sum(lacing)
            if len(self._buf) < total:
                break
            pos = head
            for size in lacing:
                self._packet += self._buf[pos : pos + size]
                pos += size
                if size < 255:
                    out.extend(self._on_packet(self._packet))
                    self._packet = b""
            self._buf = self._buf[total:]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def _on_packet(self, packet: bytes) -> list[npt.NDArray[np.float32]]:
        self._packets_seen += 1
        if self._packets_seen == 1:
            if not packet.startswith(b"OpusHead") or len(packet) < 19:
                raise CodecError("the Ogg stream does not start with an OpusHead packet: it is not Ogg Opus")
            self._preskip = struct.unpack_from("<H", packet, 10)[0] * self.output_rate // 48000
            self._opus = OpusPacketDecoder(samplerate=self._declared)
            return []
        if self._packets_seen == 2 or self._opus is None:  # OpusTags
            return []
        samples = self._opus.decode(packet)
        if self._preskip:
            cut = min(self._preskip, len(samples))
            samples, self._preskip = samples[cut:], self._preskip - cut
        return [samples]


def make_decoder(*, encoding: str, samplerate: int) -> StreamDecoder:
    """Return the streaming decoder for a Pulse ``encoding`` at ``samplerate`` Hz.

    Raises:
        CodecError: Unknown encoding, or libopus missing for ``opus``/``ogg_opus``.
    """
    if encoding in _BYTES:
        return PcmDecoder(encoding=encoding, samplerate=samplerate)
    if encoding == "opus":
        return OpusPacketDecoder(samplerate=samplerate)
    if encoding == "ogg_opus":
        return OggOpusDecoder(samplerate=samplerate)
    raise CodecError(
        f"encoding {encoding!r} is not a Pulse encoding; use linear16, linear32, alaw, mulaw, opus or ogg_opus"
    )
