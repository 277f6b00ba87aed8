"""Reading audio from anything a user holds, and writing it back.

`load` accepts a path, a file-like object, bytes of a container (WAV, FLAC,
OGG/Vorbis, OGG/Opus, MP3 …), a numpy array (rate required), an existing
`Clip`, or headerless bytes with a declared `RawFormat` — the form in which
audio travels to Pulse.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile as sf

from voicelab.audio.clip import Clip, Provenance, SourceKind
from voicelab.audio.formats import RawFormat
from voicelab.audio.riff import parse_wav_header
from voicelab.audio.sniff import BLOCKING, sniff_bytes
from voicelab.errors import AudioFormatError, AudioLoadError, EmptyAudioError, OutputIsInputError
from voicelab.files import atomic_path

__all__ = ["RAW_SUFFIXES", "Source", "check_output_path", "load", "read_source_bytes", "require_audio", "save"]

log = logging.getLogger("voicelab.audio")

#: File name endings taken as headerless PCM (a raw= format is then required).
RAW_SUFFIXES = (".raw", ".pcm", ".s16", ".f32", ".ulaw", ".alaw", ".mulaw")
Source = Clip | str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | np.ndarray
_SF_DTYPE = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32", "PCM_U8": "uint8", "PCM_S8": "int8",
             "FLOAT": "float32", "DOUBLE": "float64", "ULAW": "uint8", "ALAW": "uint8"}
_MAX_RAW_BYTES = 4 << 30


def _as_raw(raw: RawFormat | str | None, encoding: str | None, samplerate: int | None, channels: int | None
            ) -> RawFormat | None:
    if raw is not None:
        if encoding is not None:
            raise AudioFormatError("give either raw= or encoding=, not both")
        fmt = RawFormat.parse(raw) if isinstance(raw, str) else raw
        if not isinstance(fmt, RawFormat):
            raise AudioFormatError(f"raw must be a RawFormat or 'ENCODING:RATE[:CHANNELS]', got {raw!r}")
        return fmt
    if encoding is not None:
        if samplerate is None:
            raise AudioFormatError(
                f"encoding={encoding!r} needs samplerate= too: raw bytes carry no rate (e.g. samplerate=16000)"
            )
        return RawFormat(encoding=encoding, samplerate=samplerate, channels=channels or 1)
    return None


def read_source_bytes(source: Any) -> tuple[bytes, SourceKind, str | None]:
    """Read all bytes of a path, file object or bytes-like source.

    Returns:
        ``(data, kind, name)``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "bytes", None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > _MAX_RAW_BYTES:
                raise AudioLoadError(f"{str(path)!r} is larger than 4 GiB; stream it in chunks instead")
            return path.read_bytes(), "path", str(path)
        except FileNotFoundError:
            raise AudioLoadError(f"no such file: {str(path)!r} (current directory: {os.getcwd()})") from None
        except IsADirectoryError:
            raise AudioLoadError(f"{str(path)!r} is a directory; pass an audio file inside it") from None
        except PermissionError:
            raise AudioLoadError(f"permission denied reading {str(path)!r}") from None
    if hasattr(source, "read"):
        text_mode = AudioLoadError(
            "the file object is open in text mode; open audio files in binary mode: open(path, 'rb')"
        )
        if isinstance(source, io.TextIOBase):
            raise text_mode
        try:
            data = source.read()
        except UnicodeDecodeError:  # a text wrapper that io.TextIOBase does not cover
            raise text_mode from None
        except (OSError, ValueError) as exc:  # a closed file, a socket error
            raise AudioLoadError(f"could not read the file object: {exc}") from None
        if isinstance(data, str):
            raise text_mode
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise AudioLoadError(f"the file object's read() returned a {type(data).__name__}, not bytes")
        fname = getattr(source, "name", None)
        return bytes(data), "file", fname if isinstance(fname, str) else None
    raise AudioLoadError(
        f"cannot load audio from a {type(source).__name__}; pass a path, bytes, a binary file object, "
        "a numpy array (with samplerate=) or a Clip"
    )


def load(
    source: Source,
    *,
    samplerate: int | None = None,
    raw: RawFormat | str | None = None,
    encoding: str | None = None,
    channels: int | None = None,
) -> Clip:
    """Load audio from a path, file object, bytes, array or raw PCM into a `Clip`.

    Args:
        source: A path; a binary file object; bytes of a container file; a
            numpy array of shape (frames,) or (frames, channels); a `Clip`;
            or headerless bytes (then give ``raw`` or ``encoding``).
        samplerate: Required for arrays (Hz). For raw bytes, used with ``encoding``.
        raw: The declared format of headerless bytes: a `RawFormat` or
            ``"ENCODING:RATE[:CHANNELS]"`` such as ``"linear16:16000:1"``.
        encoding: Shorthand for ``raw``: the raw encoding, with ``samplerate``
            and ``channels``.
        channels: Channels of raw bytes (default 1).

    Returns:
        A Clip whose provenance records the source, container, subtype,
        original dtype and byte order. Integer arrays follow `Clip`'s dtype
        rules (int16/int32 by full scale; int8/uint8 with a warning; int64,
        uint16/32/64 refused).

    Empty audio: an empty array (0 frames) and 0 bytes (raw or container)
    are refused; a container file whose header is valid but holds 0 frames
    loads as a 0-frame Clip, so ``inspect()`` can report it (``empty``).
    `voicelab.stream` and ``voicelab convert`` refuse 0-frame audio.

    Raises:
        EmptyAudioError: ``source`` is an empty array.
        AudioLoadError: The source cannot be read (missing file, unknown
            container, truncated data …).
        AudioFormatError: The declared format is invalid, or the bytes are
            clearly not what was declared (text, a WAV header, float32 declared
            as int16 …); the message names the fix.
    """
    fmt = _as_raw(raw, encoding, samplerate if encoding is not None else None, channels)
    if isinstance(source, Clip):
        if fmt is not None:
            raise AudioFormatError("source is already a Clip; raw=/encoding= apply only to bytes")
        return source
    if isinstance(source, np.ndarray):
        if fmt is not None:
            raise AudioFormatError("raw=/encoding= apply to bytes; for an array give samplerate= only")
        if samplerate is None:
            raise AudioFormatError(
                "a numpy array carries no sample rate; pass it: vl.load(array, samplerate=16000)"
            )
        if source.size == 0 or (source.ndim >= 1 and source.shape[0] == 0):
            raise EmptyAudioError(
                f"the array is empty (shape {source.shape}): there is no audio to load; check the code that "
                "filled it (for an intentionally empty clip use vl.Clip(np.zeros(0, np.float32), samplerate=...))"
            )
        return Clip(source, samplerate=samplerate)
    if (fmt is None and isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(RAW_SUFFIXES)
            and not _starts_with_wav_header(source)):  # a WAV file named .raw loads as the WAV it is
        raise AudioFormatError(
            f"{str(source)!r} looks like headerless audio ({Path(source).suffix}); declare its format, "
            "e.g. vl.load(path, raw='linear16:16000:1')"
        )
    data, kind, name = read_source_bytes(source)
    if fmt is not None:
        return _load_raw(data, fmt, kind=kind, name=name)
    return _load_container(data, kind=kind, name=name)


def _starts_with_wav_header(path: str | os.PathLike[str]) -> bool:
    """Whether a file begins with a RIFF/WAVE header (``False`` when it cannot be read: load reports that)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def require_audio(clip: Clip, *, purpose: str) -> Clip:
    """Return ``clip`` if it has samples; refuse a 0-frame clip where that can only be a mistake.

    Args:
        clip: The loaded clip.
        purpose: What it is for, in the message (``"stream"``, ``"convert"``).

    Returns:
        ``clip`` unchanged.

    Raises:
        EmptyAudioError: The clip has 0 frames.
    """
    if clip.frames == 0:
        name = clip.provenance.name
        what = repr(name) if name else "the audio"
        raise EmptyAudioError(
            f"{what} holds no audio (0 frames, {clip.provenance.describe()}); there is nothing to {purpose}. "
            "Check the source: a recording that captured nothing, or a file that was written empty"
        )
    return clip


def check_output_path(output: str | os.PathLike[str], *inputs: object, what: str = "output") -> Path:
    """Refuse an output path that is one of the inputs (the same path, a symlink or a hard link to it).

    Args:
        output: Where something is about to be written.
        inputs: The inputs being read (non-path inputs such as arrays or bytes are ignored).
        what: How to name the output in the message (``"output"``, ``"--record"``).

    Returns:
        ``output`` as a `Path`.

    Raises:
        OutputIsInputError: Writing ``output`` would replace an input.
    """
    out = Path(output)
    for src in inputs:
        if not isinstance(src, (str, os.PathLike)):
            continue
        inp = Path(src)
        try:
            same = os.path.samefile(out, inp)
        except (OSError, ValueError):  # one of them does not exist (yet), or an unusable name
            same = False
        if not same:
            try:
                same = out.resolve() == inp.resolve()
            except (OSError, RuntimeError):  # a symlink loop
                same = False
        if same:
            link = "" if out.absolute() == inp.absolute() else " (the same file, through a link)"
            other = out.with_name(f"{out.stem}_out{out.suffix}")
            raise OutputIsInputError(
                f"{what} {str(out)!r} is the input {str(inp)!r}{link}: writing it would destroy the input, "
                f"so nothing was written; choose another path, e.g. {str(other)!r}"
            )
    return out


def _load_raw(data: bytes, fmt: RawFormat, *, kind: SourceKind, name: str | None) -> Clip:
    from voicelab.audio import codecs

    where = repr(name) if name else (f"the {len(data)} bytes" if data else "the data")
    findings = sniff_bytes(data, fmt, where=where)
    blocking = [f for f in findings if f.code in BLOCKING]
    if blocking:
        f = blocking[0]
        raise AudioFormatError(f"{f.message}. Fix: {f.fix}")
    for f in findings:  # kept on the clip's provenance; inspect() reports them
        log.debug("%s", f)
    if fmt.encoding == "opus":
        raise AudioFormatError(
            "raw Opus packets have no framing in a byte stream, so they cannot be loaded from bytes; "
            "decode a list of packets with vl.audio.decode_opus_packets(packets, samplerate=...), "
            "or use an Ogg Opus file (raw='ogg_opus:48000')"
        )
    if fmt.encoding == "ogg_opus":
        clip = codecs.decode(data, encoding="ogg_opus", samplerate=fmt.samplerate, channels=fmt.channels)
        samples, rate = clip.samples, clip.samplerate
    else:
        samples = codecs.decode_pcm(data, encoding=fmt.encoding, channels=fmt.channels)
        rate = fmt.samplerate
    dtype = {"linear16": "int16", "linear32": "int32", "float32": "float32", "alaw": "uint8", "mulaw": "uint8"}
    prov = Provenance(
        source="raw" if kind == "bytes" else kind,
        name=name,
        container="RAW" if fmt.encoding != "ogg_opus" else "OGG",
        subtype=fmt.encoding,
        dtype=dtype.get(fmt.encoding),
        byteorder="little" if fmt.bytes_per_sample and fmt.bytes_per_sample > 1 else None,
        samplerate=fmt.samplerate,
        channels=fmt.channels,
        findings=tuple(findings),
    )
    return Clip(samples, samplerate=rate, provenance=prov)


def _load_container(data: bytes, *, kind: SourceKind, name: str | None) -> Clip:
    label = repr(name) if name else f"the {len(data)} bytes"
    if not data:
        raise AudioLoadError(f"{label} is empty (0 bytes)")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            info_format, subtype, endian = f.format, f.subtype, f.endian
            rate, ch = f.samplerate, f.channels
            samples = f.read(dtype="float32", always_2d=False)
    except sf.LibsndfileError as exc:
        hint = (
            "if it is headerless PCM, declare its format: vl.load(source, raw='linear16:16000:1')"
        )
        head = data[:16]
        if head.lstrip()[:1] in (b"{", b"[") or all(32 <= b < 127 or b in (9, 10, 13) for b in head):
            hint = "it looks like text (JSON or base64?), not an audio file; see vl.audio.b64decode"
        raise AudioLoadError(f"could not read {label} as audio: {exc.error_string}; {hint}") from None
    hdr = parse_wav_header(data) if info_format in ("WAV", "WAVEX") else None
    declared = hdr.declared_frames if hdr is not None else None
    prov = Provenance(
        source=kind,
        name=name,
        container=info_format,
        subtype=subtype,
        dtype=_SF_DTYPE.get(subtype),
        byteorder=_byteorder(info_format, subtype, endian),
        samplerate=rate,
        channels=ch,
        declared_frames=declared,
    )
    return Clip(samples, samplerate=rate, provenance=prov)


def _byteorder(container: str, subtype: str, endian: str) -> str | None:
    """Byte order of the stored samples, where it applies (multi-byte uncompressed PCM)."""
    if subtype not in ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE") or container in ("FLAC", "OGG", "MP3"):
        return None
    if endian in ("LITTLE", "BIG"):
        return endian.lower()
    big = ("AIFF", "AU", "CAF", "SD2", "IRCAM", "SVX")
    return "big" if container in big else "little"


def save(clip: Clip, path: str | os.PathLike[str], *, subtype: str | None = None) -> None:
    """Write ``clip`` to ``path``; the container comes from the file name's ending.

    The file is written to a temporary name next to ``path`` and renamed into
    place, so a failure never leaves a partial file behind.

    Args:
        clip: The clip to write.
        path: Destination, e.g. ``out.wav``, ``out.flac``, ``out.ogg``.
        subtype: A soundfile subtype such as ``PCM_16`` (default for WAV/FLAC),
            ``FLOAT``, ``OPUS``, ``VORBIS``.
    """
    dest = Path(path)
    ext = dest.suffix.lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "opus": "OGG", "mp3": "MP3", "aiff": "AIFF", "au": "AU"}
    if ext not in formats:
        raise AudioFormatError(f"cannot tell the format of {str(dest)!r}; use one of: "
                               + ", ".join("." + e for e in formats))
    fmt = formats[ext]
    if subtype is None:
        subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "AIFF": "PCM_16", "AU": "PCM_16", "MP3": "MPEG_LAYER_III"}.get(
            fmt, "OPUS" if ext == "opus" else "VORBIS")
    if not sf.check_format(fmt, subtype):
        raise AudioFormatError(f"{fmt} files cannot hold subtype {subtype!r}; "
                               f"choose one of {', '.join(sf.available_subtypes(fmt))}")
    if not dest.parent.exists():
        raise AudioLoadError(f"directory {str(dest.parent)!r} does not exist")
    try:
        with atomic_path(dest) as tmp:
            sf.write(tmp, np.clip(clip.samples, -1.0, 1.0), clip.samplerate, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioLoadError(f"could not write {str(dest)!r} as {fmt} {subtype}: {exc}") from exc
