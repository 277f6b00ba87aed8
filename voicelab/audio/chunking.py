"""Splitting a Clip into encoded chunks, and checking a chunk before it is sent.

Every chunk carries its audio-time span, so the client can later map each
message it receives back to the audio it covers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from voicelab.audio import codecs
from voicelab.audio.clip import Clip
from voicelab.audio.findings import Finding
from voicelab.audio.formats import BYTES_PER_SAMPLE, RawFormat, check_encoding
from voicelab.audio.sniff import sniff_bytes
from voicelab.audio.targets import Target, get_target
from voicelab.errors import ChunkError, CodecError

__all__ = ["OPUS_FRAME_SECONDS", "PCM_BLOCK_SECONDS", "Chunk", "chunk", "validate_chunk"]

#: Audio seconds of PCM encoded per numpy call when chunking (whole chunks; at least one chunk).
PCM_BLOCK_SECONDS = 1.0
#: Packet durations libopus can encode, in seconds.
OPUS_FRAME_SECONDS = (0.0025, 0.005, 0.01, 0.02, 0.04, 0.06)


@dataclass(frozen=True)
class Chunk:
    """One piece of encoded audio, ready to send.

    Attributes:
        seq: 0-based position in the stream.
        data: The encoded bytes.
        encoding: Encoding of ``data`` (voicelab names).
        samplerate: Sample rate of the audio, Hz.
        channels: Channels of the audio.
        start: Audio time where the chunk starts, seconds from the clip's start.
        end: Audio time where it ends, seconds.
    """

    seq: int
    data: bytes
    encoding: str
    samplerate: int
    channels: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Seconds of audio in the chunk."""
        return self.end - self.start

    @property
    def nbytes(self) -> int:
        """Size of ``data`` in bytes."""
        return len(self.data)

    def b64(self) -> str:
        """``data`` as base64 text, for JSON APIs (AssemblyAI ``input.audio``)."""
        return codecs.b64encode(self.data)

    def __repr__(self) -> str:
        return (f"Chunk(seq={self.seq}, {self.nbytes} B {self.encoding} @ {self.samplerate} Hz, "
                f"{self.start:.3f}-{self.end:.3f} s)")


def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ChunkError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def chunk(
    clip: Clip,
    *,
    encoding: str = "linear16",
    chunk_bytes: int | None = None,
    chunk_seconds: float | None = None,
    target: str | Target | None = None,
) -> Iterator[Chunk]:
    """Split ``clip`` into encoded chunks, lazily (PCM: about a second of audio is encoded at a time).

    Give ``chunk_bytes`` or ``chunk_seconds`` (not both). With neither, the
    target's recommendation is used (Pulse: 4096 bytes; AssemblyAI: 50 ms),
    else 0.1 s.

    Args:
        clip: Mono audio at the rate to send (multichannel PCM is interleaved).
        encoding: ``linear16``, ``linear32``, ``float32``, ``alaw``, ``mulaw``,
            ``opus`` (one raw packet per chunk) or ``ogg_opus`` (an Ogg stream
            cut at page boundaries).
        chunk_bytes: Bytes per chunk; must hold whole sample frames.
        chunk_seconds: Audio seconds per chunk.
        target: An API preset whose recommended chunk size is the default.

    Yields:
        Chunks in order; their spans tile the clip without gaps.
    """
    enc = check_encoding(encoding)
    if chunk_bytes is not None and chunk_seconds is not None:
        raise ChunkError("give chunk_bytes or chunk_seconds, not both")
    if chunk_bytes is None and chunk_seconds is None:
        tgt = get_target(target) if target is not None else None
        if tgt is not None and tgt.chunk_bytes and enc in ("linear16",) and tgt.transport == "binary":
            chunk_bytes = tgt.chunk_bytes
        else:
            chunk_seconds = tgt.chunk_seconds if tgt is not None and tgt.chunk_seconds else 0.1
    if chunk_bytes is not None:
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes <= 0:
            raise ChunkError(f"chunk_bytes must be a positive whole number, got {chunk_bytes!r}")
    if chunk_seconds is not None:
        _positive(chunk_seconds, "chunk_seconds")
    if enc == "opus":
        return _opus_chunks(clip, chunk_bytes, chunk_seconds)
    if enc == "ogg_opus":
        return _ogg_chunks(clip, chunk_bytes, chunk_seconds)
    return _pcm_chunks(clip, enc, chunk_bytes, chunk_seconds)


def _pcm_chunks(clip: Clip, enc: str, chunk_bytes: int | None, chunk_seconds: float | None) -> Iterator[Chunk]:
    frame_bytes = BYTES_PER_SAMPLE[enc] * clip.channels
    if chunk_bytes is not None:
        if chunk_bytes % frame_bytes:
            lower = max(frame_bytes, chunk_bytes - chunk_bytes % frame_bytes)
            raise ChunkError(
                f"chunk_bytes={chunk_bytes} would split a {frame_bytes}-byte {enc} frame; "
                f"use a multiple of {frame_bytes}, e.g. {lower}"
            )
        frames = chunk_bytes // frame_bytes
    else:
        assert chunk_seconds is not None
        frames = round(chunk_seconds * clip.samplerate)
        if frames < 1:
            raise ChunkError(f"chunk_seconds={chunk_seconds} is shorter than one sample at {clip.samplerate} Hz")
    return _pcm_iter(clip, enc, frames)


def _pcm_iter(clip: Clip, enc: str, frames: int) -> Iterator[Chunk]:
    """Encode about `PCM_BLOCK_SECONDS` of whole chunks at once, then cut the bytes into chunks.

    PCM and G.711 encode sample by sample, so the bytes equal encoding each chunk on its own; one numpy
    call per block instead of per chunk matters when hundreds of real-time streams share one thread.
    """
    rate = clip.samplerate
    frame_bytes = BYTES_PER_SAMPLE[enc] * clip.channels
    step = frames * max(1, math.ceil(PCM_BLOCK_SECONDS * rate / frames))  # whole chunks per block
    seq = 0
    for block_start in range(0, clip.frames, step):
        block_end = min(block_start + step, clip.frames)
        data = codecs.encode_pcm(clip.samples[block_start:block_end], encoding=enc)
        for a in range(block_start, block_end, frames):
            b = min(a + frames, block_end)
            off = (a - block_start) * frame_bytes
            yield Chunk(seq, data[off:off + (b - a) * frame_bytes], enc, rate, clip.channels, a / rate, b / rate)
            seq += 1


def _opus_chunks(clip: Clip, chunk_bytes: int | None, chunk_seconds: float | None) -> Iterator[Chunk]:
    if chunk_bytes is not None:
        raise ChunkError(
            "opus packets vary in size, so they cannot be cut by bytes; give chunk_seconds, "
            f"one of {', '.join(map(str, OPUS_FRAME_SECONDS))}"
        )
    frame = chunk_seconds if chunk_seconds is not None else 0.02
    if not any(abs(frame - f) < 1e-9 for f in OPUS_FRAME_SECONDS):
        raise ChunkError(
            f"chunk_seconds={frame} is not an Opus frame duration; use one of "
            f"{', '.join(map(str, OPUS_FRAME_SECONDS))} (one packet per chunk)"
        )
    packets = codecs.encode_opus_packets(clip, frame_seconds=frame)
    return _opus_iter(clip, packets, frame)


def _opus_iter(clip: Clip, packets: list[bytes], frame: float) -> Iterator[Chunk]:
    step = round(frame * clip.samplerate)
    for seq, pkt in enumerate(packets):
        a, b = seq * step, min((seq + 1) * step, clip.frames)
        yield Chunk(seq, pkt, "opus", clip.samplerate, clip.channels, a / clip.samplerate, b / clip.samplerate)


def _ogg_chunks(clip: Clip, chunk_bytes: int | None, chunk_seconds: float | None) -> Iterator[Chunk]:
    data = codecs.encode(clip, encoding="ogg_opus")  # raises here, not on first next(), for a bad rate
    return _ogg_iter(clip, data, chunk_bytes, chunk_seconds)


def _ogg_iter(clip: Clip, data: bytes, chunk_bytes: int | None, chunk_seconds: float | None) -> Iterator[Chunk]:
    pages = codecs.ogg_pages(data)
    preskip = codecs.opus_preskip(data)
    seq, start_byte, start_t = 0, 0, 0.0
    for i, page in enumerate(pages):
        end_byte = page.offset + page.length
        t = max(0.0, min((page.granule - preskip) / 48000.0, clip.duration)) if page.granule >= 0 else start_t
        last = i == len(pages) - 1
        size_ok = chunk_bytes is not None and end_byte - start_byte >= chunk_bytes
        time_ok = chunk_seconds is not None and t - start_t >= chunk_seconds
        if last or ((size_ok or time_ok) and page.granule > 0):
            end_t = clip.duration if last else t
            yield Chunk(seq, data[start_byte:end_byte], "ogg_opus", clip.samplerate, clip.channels, start_t, end_t)
            seq, start_byte, start_t = seq + 1, end_byte, end_t


def validate_chunk(
    data: bytes | bytearray | memoryview | str,
    *,
    target: str | Target,
    encoding: str | None = None,
    samplerate: int | None = None,
    seq: int | None = None,
) -> list[Finding]:
    """Check one chunk as it is about to be sent to ``target``.

    Args:
        data: The chunk: bytes for binary APIs; for JSON APIs either the PCM
            bytes or the base64 text that will go in the message.
        target: ``pulse`` or ``assemblyai-agent`` (or a `Target`).
        encoding: The declared encoding; defaults to the target's recommended one.
        samplerate: The declared rate in Hz; defaults to the target's recommended one.
        seq: The chunk's position, used in messages.

    Returns:
        Findings in the same format as `inspect`; empty when the chunk is fine.
    """
    tgt = get_target(target)
    fmt = RawFormat(encoding=encoding or tgt.recommended_encoding,
                    samplerate=samplerate or tgt.recommended_samplerate)
    where = f"chunk {seq}" if seq is not None else "the chunk"
    out: list[Finding] = []
    if isinstance(data, str):
        if tgt.transport == "binary":
            text = data.encode("utf-8", "replace")
            found = sniff_bytes(text, fmt, where=where)
            return found or [Finding("text_chunk", "error", f"{where} is a str; {tgt.title} wants binary frames",
                                     "no_transcripts", "send bytes: ws.send(chunk.data)")]
        try:
            raw = codecs.b64decode(data)
        except CodecError as exc:
            return [Finding("invalid_base64", "error", f"{where}: {exc}", "invalid_audio",
                            "encode the PCM bytes with vl.audio.b64encode(pcm) (standard alphabet, with padding)")]
    else:
        raw = bytes(data)
        if tgt.transport == "base64-json":
            out.append(Finding("binary_chunk", "info", f"{where} is bytes; {tgt.title} takes base64 text in JSON",
                               "invalid_format", "wrap it: {'type': 'input.audio', 'audio': vl.audio.b64encode(pcm)}"))
    out += sniff_bytes(raw, fmt, where=where)
    if raw and tgt.chunk_bytes_range is not None:
        low, high = tgt.chunk_bytes_range
        if len(raw) > high:
            out.append(Finding("chunk_too_large", "warning",
                               f"{where} is {len(raw)} bytes; {tgt.title} recommends {tgt.chunk_bytes} "
                               f"(acceptable {low}-{high})", "latency",
                               f"use smaller chunks: vl.audio.chunk(clip, chunk_bytes={tgt.chunk_bytes})"))
        elif len(raw) < low:
            out.append(Finding("chunk_too_small", "info",
                               f"{where} is {len(raw)} bytes; below {low} bytes per frame the overhead grows",
                               "latency", f"use vl.audio.chunk(clip, chunk_bytes={tgt.chunk_bytes})"))
    bps = fmt.bytes_per_second
    if raw and bps and tgt.chunk_seconds and tgt.transport == "base64-json" and len(raw) / bps > 4 * tgt.chunk_seconds:
        out.append(Finding("chunk_too_large", "warning",
                           f"{where} holds {len(raw) / bps * 1000:.0f} ms of audio; {tgt.title} expects about "
                           f"{tgt.chunk_seconds * 1000:.0f} ms per message", "latency",
                           f"vl.audio.chunk(clip, chunk_seconds={tgt.chunk_seconds})"))
    return out
