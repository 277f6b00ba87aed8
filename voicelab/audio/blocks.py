"""Reading an audio file block by block and encoding it into chunks, without holding the file in memory.

`file_chunks(path, encoding=..., samplerate=...)` gives the same `Chunk` objects, byte for byte and with
the same audio spans, as ``chunk(load(path).to_mono().resample(samplerate), ...)``, but holds only about
`BLOCK_SECONDS` of audio at a time: soundfile reads a block of float32 frames, the channels are averaged
(as `Clip.to_mono`), soxr's streaming resampler (``soxr.ResampleStream``, the same filter as
``soxr.resample``; its output is bit-identical, tested on every file in ``data/speech`` at 8–48 kHz)
converts the rate, and whole chunks are encoded as they fill up. Memory therefore stays flat however
long the file (``benchmarks/stream_memory.py``).

PCM and G.711 encodings only (``linear16``, ``linear32``, ``float32``, ``alaw``, ``mulaw``): Opus packets
and Ogg Opus pages are encoded from a whole Clip (`voicelab.audio.chunk`).

`read_head` reads the first seconds of a file as a Clip (for checks that need samples before sending).

Pure: numpy, soundfile, soxr; no asyncio.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from voicelab.audio.chunking import Chunk, chunk
from voicelab.audio.clip import Clip, Provenance
from voicelab.audio.convert import QUALITIES
from voicelab.audio.findings import Finding
from voicelab.audio.formats import BYTES_PER_SAMPLE, PCM_ENCODINGS, check_encoding, check_samplerate
from voicelab.audio.riff import parse_wav_header
from voicelab.audio.targets import Target, get_target
from voicelab.errors import AudioFormatError, AudioLoadError, ChunkError

__all__ = ["BLOCK_SECONDS", "HEAD_SECONDS", "FileInfo", "chunk_frames", "file_chunks", "file_info", "read_head"]

#: Seconds of source audio read, mixed down, resampled and encoded per step.
BLOCK_SECONDS = 1.0
#: `voicelab.stream` loads a file up to this many seconds long whole (as any Clip) and streams a longer one
#: block by block, pre-flight checking its first this many seconds (`read_head`).
HEAD_SECONDS = 60.0
_SF_DTYPE = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32", "PCM_U8": "uint8", "PCM_S8": "int8",
             "FLOAT": "float32", "DOUBLE": "float64", "ULAW": "uint8", "ALAW": "uint8"}
_HEADER_BYTES = 1 << 16


@dataclass(frozen=True)
class FileInfo:
    """What a file's header says, read without decoding its audio.

    Attributes:
        path: The file.
        samplerate: Its rate, Hz.
        channels: Its channels.
        frames: Frames present (soundfile's count).
        container: ``WAV``, ``FLAC``, ``OGG`` …
        subtype: ``PCM_16``, ``FLOAT`` …
        endian: soundfile's endianness name.
        declared_frames: Frames a WAV header declares (more than ``frames`` when the file was cut short).
    """

    path: Path
    samplerate: int
    channels: int
    frames: int
    container: str
    subtype: str
    endian: str
    declared_frames: int | None

    @property
    def duration(self) -> float:
        """Seconds of audio present."""
        return self.frames / self.samplerate


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(path)
    except FileNotFoundError:
        raise AudioLoadError(f"no such file: {str(path)!r} (current directory: {os.getcwd()})") from None
    except IsADirectoryError:
        raise AudioLoadError(f"{str(path)!r} is a directory; pass an audio file inside it") from None
    except PermissionError:
        raise AudioLoadError(f"permission denied reading {str(path)!r}") from None
    except sf.LibsndfileError as exc:
        if not path.exists():
            raise AudioLoadError(f"no such file: {str(path)!r} (current directory: {os.getcwd()})") from None
        raise AudioLoadError(f"could not read {str(path)!r} as audio: {exc.error_string}; if it is headerless "
                             "PCM, declare its format: vl.load(source, raw='linear16:16000:1')") from None


def file_info(path: str | os.PathLike[str]) -> FileInfo:
    """Read a file's header (rate, channels, frames, container) without decoding its audio.

    Raises:
        AudioLoadError: Missing, unreadable, or not an audio container soundfile knows.
    """
    p = Path(path)
    with _open(p) as f:
        info = FileInfo(p, int(f.samplerate), int(f.channels), int(f.frames), str(f.format), str(f.subtype),
                        str(f.endian), None)
    if info.container in ("WAV", "WAVEX"):
        with open(p, "rb") as fh:
            hdr = parse_wav_header(fh.read(_HEADER_BYTES))
        info = replace(info, declared_frames=hdr.declared_frames if hdr is not None else None)
    return info


def _provenance(info: FileInfo) -> Provenance:
    from voicelab.audio.io import _byteorder

    order = _byteorder(info.container, info.subtype, info.endian)
    return Provenance(source="path", name=str(info.path), container=info.container, subtype=info.subtype,
                      dtype=_SF_DTYPE.get(info.subtype), byteorder=order, samplerate=info.samplerate,
                      channels=info.channels)


def read_head(path: str | os.PathLike[str], *, seconds: float) -> Clip:
    """The first ``seconds`` of a file as a Clip, at its own rate and channels (only they are read).

    When the file is longer, the Clip's provenance name says it is a part (``"the first 60 s of
    'x.flac'"``), so findings about it do not speak for the whole file. A WAV whose header declares
    more frames than it holds carries a ``truncated`` finding (as `voicelab.inspect` reports it).

    Args:
        path: The audio file.
        seconds: Seconds to read from the start.
    """
    info = file_info(path)
    n = min(info.frames, max(0, math.ceil(seconds * info.samplerate)))
    with _open(info.path) as f:
        samples = f.read(n, dtype="float32", always_2d=False)
    prov = _provenance(info)
    if n < info.frames:
        prov = replace(prov, name=f"the first {seconds:g} s of {str(info.path)!r}")
    declared = info.declared_frames
    if declared is not None and declared > info.frames:
        rate = info.samplerate
        prov = replace(prov, findings=(Finding(
            "truncated", "error",
            f"the file's header declares {declared / rate:.2f} s ({declared} frames) but only "
            f"{info.duration:.2f} s ({info.frames} frames) are present: the file was cut short",
            "lost_audio", "re-export or re-download the file; voicelab streams the part that is present",
            {"declared_frames": declared, "frames": info.frames}),))
    return Clip(samples, samplerate=info.samplerate, provenance=prov)


def chunk_frames(*, encoding: str, samplerate: int, chunk_bytes: int | None = None,
                 chunk_seconds: float | None = None, target: str | Target | None = None) -> int:
    """Sample frames per mono chunk, as `voicelab.audio.chunk` cuts them (the same defaults and checks).

    Raises:
        ChunkError: Both sizes given, a size that is not positive, or bytes that split a sample.
    """
    enc = check_encoding(encoding)
    if enc not in PCM_ENCODINGS:
        raise ChunkError(f"block-by-block chunking takes {', '.join(PCM_ENCODINGS)}, not {enc!r}; "
                         "encode Opus from a whole Clip with vl.audio.chunk(clip, ...)")
    # an empty probe clip: chunk() validates the sizes and resolves the target's defaults lazily,
    # so ask it with exactly one chunk's worth of silence and read the chunk's length back
    probe_frames = _probe_frames(enc, samplerate, chunk_bytes, chunk_seconds, target)
    probe = Clip(np.zeros(probe_frames, np.float32), samplerate=samplerate)
    first = next(chunk(probe, encoding=enc, chunk_bytes=chunk_bytes, chunk_seconds=chunk_seconds, target=target))
    return len(first.data) // BYTES_PER_SAMPLE[enc]


def _probe_frames(enc: str, rate: int, chunk_bytes: int | None, chunk_seconds: float | None,
                  target: str | Target | None) -> int:
    """Enough frames for one full chunk of any size the arguments can ask for."""
    candidates = [rate]  # the 0.1 s default fits in a second
    if isinstance(chunk_bytes, int) and chunk_bytes > 0:
        candidates.append(chunk_bytes // BYTES_PER_SAMPLE[enc] + 1)
    if isinstance(chunk_seconds, (int, float)) and math.isfinite(chunk_seconds) and chunk_seconds > 0:
        candidates.append(math.ceil(chunk_seconds * rate) + 1)
    if target is not None:
        tgt = get_target(target)
        candidates.append((tgt.chunk_bytes or 0) // BYTES_PER_SAMPLE[enc] + 1)
        candidates.append(math.ceil((tgt.chunk_seconds or 0) * rate) + 1)
    return max(candidates)


def _mono(block: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Average the channels of ``(frames, channels)`` float32, as `Clip.to_mono` does."""
    out = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1)
    if not np.all(np.isfinite(out)):
        raise AudioFormatError("samples contain NaN or infinity; clean them first, e.g. np.nan_to_num(samples)")
    return np.ascontiguousarray(out, dtype=np.float32)


def file_chunks(path: str | os.PathLike[str], *, encoding: str, samplerate: int, chunk_bytes: int | None = None,
                chunk_seconds: float | None = None, target: str | Target | None = None, quality: str = "HQ",
                block_seconds: float = BLOCK_SECONDS) -> Iterator[Chunk]:
    """Chunks of a file, mono at ``samplerate``, read and encoded block by block (see the module docs).

    The same chunks as ``chunk(load(path).to_mono().resample(samplerate, quality=quality), ...)``.
    The file is opened (and its errors raised) when this is called; it is read as the chunks are taken.

    Args:
        path: An audio file soundfile can read (WAV, FLAC, OGG, MP3 …).
        encoding: A PCM or G.711 encoding (``linear16``, ``linear32``, ``float32``, ``alaw``, ``mulaw``).
        samplerate: The rate to send, Hz.
        chunk_bytes: Bytes per chunk (as `voicelab.audio.chunk`).
        chunk_seconds: Seconds per chunk.
        target: An API preset whose recommended chunk size is the default.
        quality: soxr quality preset, one of `voicelab.audio.convert.QUALITIES`.
        block_seconds: Seconds of source audio per read.

    Yields:
        Chunks in order; their spans tile the audio without gaps.
    """
    info = file_info(path)
    rate = check_samplerate(samplerate, what="target samplerate")
    q = str(quality).upper()
    if q not in QUALITIES:
        raise AudioFormatError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    if not (isinstance(block_seconds, (int, float)) and math.isfinite(block_seconds) and block_seconds > 0):
        raise ChunkError(f"block_seconds must be a positive number of seconds, got {block_seconds!r}")
    enc = check_encoding(encoding)
    frames = chunk_frames(encoding=enc, samplerate=rate, chunk_bytes=chunk_bytes, chunk_seconds=chunk_seconds,
                          target=target)
    return _file_iter(info, enc, rate, frames, q, max(1, round(block_seconds * info.samplerate)))


def _file_iter(info: FileInfo, enc: str, rate: int, frames: int, quality: str, block: int) -> Iterator[Chunk]:
    resampler = None if rate == info.samplerate else soxr.ResampleStream(
        info.samplerate, rate, 1, dtype="float32", quality=quality)
    bps = BYTES_PER_SAMPLE[enc]
    pending = np.zeros(0, np.float32)
    done = 0  # frames (at ``rate``) already sent as chunks
    seq = 0
    with _open(info.path) as f:
        while True:
            raw = f.read(block, dtype="float32", always_2d=True)
            last = len(raw) < block
            x = _mono(raw)
            if resampler is not None:
                x = resampler.resample_chunk(x, last=last)
            pending = np.concatenate([pending, x]) if len(pending) else x
            whole = len(pending) if last else len(pending) // frames * frames
            if whole:
                for c in chunk(Clip(pending[:whole], samplerate=rate), encoding=enc, chunk_bytes=frames * bps):
                    a = done + round(c.start * rate)
                    b = a + len(c.data) // bps
                    yield Chunk(seq, c.data, enc, rate, 1, a / rate, b / rate)
                    seq += 1
                done += whole
                pending = pending[whole:]
            if last:
                return


def long_file_head(source: object, *, encoding: str, seconds: float = HEAD_SECONDS) -> Clip | None:
    """The first ``seconds`` of ``source`` if it is an audio file longer than that to stream block by block.

    ``None`` (load it whole, as before) for anything else: not a path, a headerless ``.raw``/``.pcm`` …
    file, a file soundfile cannot open (loading it whole then raises the usual error), a file no longer
    than ``seconds``, or an Opus encoding (packets are encoded from a whole Clip).

    Args:
        source: What `voicelab.stream` was given.
        encoding: The encoding the stream sends.
        seconds: Files up to this long are loaded whole.
    """
    from voicelab.audio.io import RAW_SUFFIXES

    if not isinstance(source, (str, os.PathLike)) or encoding not in PCM_ENCODINGS:
        return None
    if str(source).lower().endswith(RAW_SUFFIXES):
        return None
    try:
        info = file_info(source)
    except AudioLoadError:
        return None
    if info.duration <= seconds:
        return None
    return read_head(source, seconds=seconds)
