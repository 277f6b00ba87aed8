"""Encode and decode the byte formats real-time voice APIs send and receive.

Byte-stream encodings (see `voicelab.audio.formats.ENCODINGS`):

* ``linear16`` - signed 16-bit PCM, little-endian.
* ``linear32`` - signed 32-bit PCM, little-endian.
* ``float32`` - IEEE 754 float32, little-endian, clipped to [-1, 1].
* ``alaw`` / ``mulaw`` - ITU-T G.711, one byte per sample, via int16
  (bit-exact with CPython's ``audioop``; see `voicelab.audio.g711`).
* ``ogg_opus`` - an Ogg Opus file (RFC 7845), written and read by libsndfile.
* ``opus`` - raw Opus packets. A byte stream cannot carry them because raw
  Opus has no framing, so use `encode_opus_packets` / `decode_opus_packets`.

Scaling between float samples and integers uses full scale ``2**15`` for
int16 and ``2**31`` for int32, in both directions, so that an int16 stream
round-trips exactly (bytes -> float -> bytes) and ``Clip(int16_array)``
encodes back to the same array. Encoding rounds to the nearest integer
(ties to even) and clips: +1.0 becomes 32767 and -1.0 becomes -32768.

This module is pure: no I/O, no asyncio, no websockets.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import io
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from voicelab.audio.clip import Clip, Provenance
from voicelab.audio.formats import BYTES_PER_SAMPLE, check_encoding
from voicelab.audio.g711 import ALAW_TO_INT16, MULAW_TO_INT16, int16_to_alaw, int16_to_mulaw
from voicelab.errors import CodecError, CodecUnavailableError

__all__ = [
    "OPUS_APPLICATIONS",
    "OPUS_FRAME_SECONDS",
    "OPUS_SAMPLERATES",
    "OggPage",
    "b64decode",
    "b64encode",
    "decode",
    "decode_opus_packets",
    "decode_pcm",
    "encode",
    "encode_opus_packets",
    "encode_pcm",
    "ogg_pages",
    "opus_preskip",
]

#: Sample rates in Hz that an Opus encoder or decoder accepts.
OPUS_SAMPLERATES: tuple[int, ...] = (8000, 12000, 16000, 24000, 48000)
#: Frame durations in seconds that one Opus packet can hold.
OPUS_FRAME_SECONDS: tuple[float, ...] = (0.0025, 0.005, 0.01, 0.02, 0.04, 0.06)
#: Opus encoder applications accepted by `encode_opus_packets`.
OPUS_APPLICATIONS: tuple[str, ...] = ("voip", "audio", "restricted_lowdelay")

_INT16_SCALE = 32768.0
_INT32_SCALE = 2147483648.0
_DTYPES = {"linear16": "<i2", "linear32": "<i4", "float32": "<f4", "alaw": "u1", "mulaw": "u1"}
_PROVENANCE_DTYPE = {"linear16": "int16", "linear32": "int32", "float32": "float32"}
_ALAW_FLOAT = (ALAW_TO_INT16.astype(np.float32) / np.float32(_INT16_SCALE)).astype(np.float32)
_MULAW_FLOAT = (MULAW_TO_INT16.astype(np.float32) / np.float32(_INT16_SCALE)).astype(np.float32)
_OPUS_MAX_PACKET = 4000  # bytes; libopus' recommended output buffer size
_OGG_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, type, granule, serial, sequence, crc, segments
_B64_ALPHABET = re.compile(rb"[^A-Za-z0-9+/=]")

BytesLike = bytes | bytearray | memoryview


# --------------------------------------------------------------------------------------------
# PCM and G.711
# --------------------------------------------------------------------------------------------
def _pcm_encoding(encoding: str, *, func: str) -> str:
    enc = check_encoding(encoding)
    if enc not in BYTES_PER_SAMPLE:
        other = "encode_opus_packets / decode_opus_packets" if enc == "opus" else "encode / decode"
        raise CodecError(
            f"{func} handles PCM encodings ({', '.join(BYTES_PER_SAMPLE)}), got {enc!r}; use {other}"
        )
    return enc


def _check_channels(channels: object) -> int:
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 64:
        raise CodecError(f"channels must be a whole number from 1 to 64, got {channels!r}")
    return channels


def encode_pcm(samples: npt.ArrayLike, *, encoding: str) -> bytes:
    """Encode float samples as headerless PCM or G.711 bytes.

    Args:
        samples: Float samples in [-1, 1], shape ``(frames,)`` or
            ``(frames, channels)`` (written interleaved, frame by frame).
        encoding: ``linear16`` (int16 LE, scale 32768, rounded, clipped to
            [-32768, 32767]), ``linear32`` (int32 LE, scale 2**31, rounded,
            clipped), ``float32`` (LE, clipped to [-1, 1]), ``alaw`` or
            ``mulaw`` (G.711 of the ``linear16`` value, one byte per sample).

    Returns:
        The encoded bytes: frames x channels x bytes per sample.

    Raises:
        CodecError: If the samples are not float, not finite, or the
            encoding is not a PCM encoding.
    """
    enc = _pcm_encoding(encoding, func="encode_pcm")
    arr = np.asarray(samples)
    if arr.dtype.kind != "f":
        raise CodecError(
            f"encode_pcm needs float samples in [-1, 1], got dtype {arr.dtype}; "
            "wrap integer PCM in Clip(samples, samplerate=...) which scales it, "
            "or divide by the full scale first (e.g. samples / 32768)"
        )
    if arr.ndim not in (1, 2):
        raise CodecError(f"encode_pcm needs shape (frames,) or (frames, channels), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CodecError("samples contain NaN or infinity; clean them first, e.g. np.nan_to_num(samples)")
    flat = arr.reshape(-1)  # row-major (frames, channels) -> interleaved
    if enc == "float32":
        return bytes(np.clip(flat, -1.0, 1.0).astype("<f4").tobytes())
    if enc == "linear32":
        wide = np.rint(flat.astype(np.float64) * _INT32_SCALE)
        return bytes(np.clip(wide, -_INT32_SCALE, _INT32_SCALE - 1).astype("<i4").tobytes())
    # x * 2**15 is exact in the input's own precision, so float32 input needs no float64 detour.
    work = flat if flat.dtype == np.float32 else flat.astype(np.float64)
    scaled = np.rint(work * _INT16_SCALE)
    pcm: npt.NDArray[np.int16] = np.clip(scaled, -32768, 32767).astype(np.int16)
    if enc == "linear16":
        return pcm.astype("<i2").tobytes()
    if enc == "alaw":
        return int16_to_alaw(pcm).tobytes()
    return int16_to_mulaw(pcm).tobytes()


def decode_pcm(data: BytesLike, *, encoding: str, channels: int = 1) -> npt.NDArray[np.float32]:
    """Decode headerless PCM or G.711 bytes to float32 samples.

    Args:
        data: The bytes; must hold a whole number of frames.
        encoding: One of ``linear16``, ``linear32``, ``float32``, ``alaw``,
            ``mulaw`` (aliases such as ``pcm_s16le`` or ``ulaw`` work too).
        channels: Interleaved channels in the data.

    Returns:
        float32 samples, shape ``(frames,)`` for one channel or
        ``(frames, channels)``. Integers are scaled by 1/32768 (int16, G.711)
        or 1/2**31 (int32), so -32768 maps to exactly -1.0.

    Raises:
        CodecError: If the byte count is not a whole number of frames.
    """
    enc = _pcm_encoding(encoding, func="decode_pcm")
    ch = _check_channels(channels)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"decode_pcm needs bytes, got {type(data).__name__}")
    nbytes = memoryview(data).nbytes
    frame_bytes = BYTES_PER_SAMPLE[enc] * ch
    left = nbytes % frame_bytes
    if left:
        layout = f"{BYTES_PER_SAMPLE[enc]}-byte {enc} samples x {ch} channel{'s' if ch > 1 else ''}"
        raise CodecError(
            f"{nbytes} bytes is not a whole number of frames of {layout} ({frame_bytes} bytes per frame): "
            f"{left} byte{'s' if left > 1 else ''} left over; the chunk may have been cut mid-sample - "
            f"keep the last {left} byte{'s' if left > 1 else ''} and prepend them to the next chunk"
        )
    raw = np.frombuffer(data, dtype=_DTYPES[enc])
    if enc == "linear16":
        out = raw.astype(np.float32) * np.float32(1.0 / _INT16_SCALE)
    elif enc == "linear32":
        out = raw.astype(np.float32) * np.float32(1.0 / _INT32_SCALE)  # one rounding, as via float64
    elif enc == "float32":
        out = raw.astype(np.float32)
    elif enc == "alaw":
        out = _ALAW_FLOAT[raw]
    else:
        out = _MULAW_FLOAT[raw]
    return out if ch == 1 else out.reshape(-1, ch)


# --------------------------------------------------------------------------------------------
# Whole clips
# --------------------------------------------------------------------------------------------
def _check_opus_rate(samplerate: int, *, what: str) -> None:
    if samplerate not in OPUS_SAMPLERATES:
        target = min(OPUS_SAMPLERATES, key=lambda r: (r < samplerate, abs(r - samplerate)))
        raise CodecError(
            f"{what} needs 8000, 12000, 16000, 24000 or 48000 Hz, got {samplerate}; "
            f"resample first: clip.resample({target})"
        )


def _check_bitrate(bitrate: object, *, low: int, high: int, what: str) -> int | None:
    if bitrate is None:
        return None
    if isinstance(bitrate, bool) or not isinstance(bitrate, int) or not low <= bitrate <= high:
        raise CodecError(
            f"{what} bitrate must be whole bits per second from {low} to {high} (e.g. 32000), got {bitrate!r}"
        )
    return bitrate


def _check_clip(clip: object, *, func: str) -> None:
    if not isinstance(clip, Clip):
        raise CodecError(
            f"{func} needs a Clip, got {type(clip).__name__}; wrap arrays first: "
            "Clip(samples, samplerate=16000), or use encode_pcm(samples, encoding=...) for PCM"
        )


def _soundfile() -> ModuleType:
    try:
        sf = importlib.import_module("soundfile")
    except (ImportError, OSError) as exc:  # pragma: no cover - soundfile is a dependency
        raise CodecUnavailableError(
            f"ogg_opus needs soundfile with libsndfile >= 1.0.29 ({exc}); pip install --upgrade soundfile"
        ) from exc
    if "OPUS" not in sf.available_subtypes("OGG"):  # pragma: no cover - depends on the build
        raise CodecUnavailableError(
            f"libsndfile {sf.__libsndfile_version__} was built without Ogg Opus; "
            "pip install --upgrade soundfile (its wheels bundle libsndfile with Opus)"
        )
    return sf


def encode(clip: Clip, *, encoding: str, bitrate: int | None = None) -> bytes:
    """Encode a clip for a byte stream.

    Args:
        clip: The audio. PCM encodings ignore its rate (the bytes carry none);
            ``ogg_opus`` needs 8, 12, 16, 24 or 48 kHz and 1 or 2 channels.
        encoding: ``linear16``, ``linear32``, ``float32``, ``alaw``, ``mulaw``
            or ``ogg_opus``. ``opus`` is rejected: see `encode_opus_packets`.
        bitrate: Target Opus bitrate in bits per second for all channels
            together (``ogg_opus`` only; 6000 to 256000 per channel). ``None``
            keeps libopus' automatic choice. libsndfile takes it as a
            "compression level" and truncates to whole bits per second.

    Returns:
        The encoded bytes (headerless for PCM, a complete Ogg file for ``ogg_opus``).

    Raises:
        CodecError: For ``opus``, unsupported rates, channels or bitrates.
        CodecUnavailableError: If libsndfile lacks Opus support.
    """
    _check_clip(clip, func="encode")
    enc = check_encoding(encoding)
    if enc == "opus":
        raise CodecError(
            "encoding 'opus' means raw Opus packets, which have no framing in a byte stream; "
            "use encode_opus_packets(clip) for one packet per frame, or encoding='ogg_opus' for an Ogg file"
        )
    if enc in BYTES_PER_SAMPLE:
        if bitrate is not None:
            raise CodecError(
                f"bitrate applies to ogg_opus only; {enc} has a fixed bitrate, pass bitrate=None"
            )
        return encode_pcm(clip.samples, encoding=enc)
    # ogg_opus
    _check_opus_rate(clip.samplerate, what="ogg_opus")
    if clip.channels > 2:
        raise CodecError(
            f"ogg_opus supports 1 or 2 channels here, got {clip.channels}; mix down first: clip.to_mono()"
        )
    br = _check_bitrate(bitrate, low=6000 * clip.channels, high=256000 * clip.channels, what="ogg_opus")
    sf = _soundfile()
    level: float | None = None
    if br is not None:
        # libsndfile: bitrate = int((1 - level) * 250000 + 6000) * channels; +0.5 guards the truncation.
        per_channel = br / clip.channels
        level = min(max(1.0 - (per_channel - 6000.0 + 0.5) / 250000.0, 0.0), 1.0)
    buf = io.BytesIO()
    try:
        sf.write(buf, clip.samples, clip.samplerate, format="OGG", subtype="OPUS", compression_level=level)
    except (RuntimeError, ValueError) as exc:  # LibsndfileError derives from RuntimeError
        raise CodecError(f"libsndfile could not write Ogg Opus at {clip.samplerate} Hz: {exc}") from exc
    return buf.getvalue()


def _describe_start(data: bytes) -> str:
    head = bytes(data[:12])
    if not head:
        return "the data is empty"
    for magic, name in (
        (b"RIFF", "WAV"),
        (b"fLaC", "FLAC"),
        (b"ID3", "MP3"),
        (b"{", "JSON"),
        (b"\x1aE\xdf\xa3", "WebM"),
    ):
        if head.startswith(magic):
            return f"it starts with {head[:4]!r}, which looks like {name}"
    return f"it starts with {head!r}"


def decode(data: BytesLike, *, encoding: str, samplerate: int | None = None, channels: int = 1) -> Clip:
    """Decode bytes from a byte stream into a Clip.

    Args:
        data: The bytes.
        encoding: ``linear16``, ``linear32``, ``float32``, ``alaw``, ``mulaw``
            or ``ogg_opus``. ``opus`` is rejected: see `decode_opus_packets`.
        samplerate: Sample rate of PCM data in Hz (required for PCM). For
            ``ogg_opus`` the stream is authoritative: libsndfile decodes at
            the original input rate stored in the OpusHead header (8, 12, 16,
            24 or 48 kHz) and the returned Clip has that rate whatever is
            passed here.
        channels: Interleaved channels of PCM data. For ``ogg_opus`` the
            stream's channel count is used.

    Returns:
        A Clip with provenance ``source="raw"``, container ``RAW`` or ``OGG``
        and ``subtype`` set to the encoding. Ogg Opus is trimmed by
        libsndfile to exactly the original samples (pre-skip and end trimming).

    Raises:
        CodecError: For ``opus``, a partial frame, or undecodable Ogg data.
    """
    enc = check_encoding(encoding)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"decode needs bytes, got {type(data).__name__}")
    if enc == "opus":
        raise CodecError(
            "encoding 'opus' means raw Opus packets, which have no framing in a byte stream; "
            "use decode_opus_packets(packets, samplerate=...) with the list of packets"
        )
    if enc in BYTES_PER_SAMPLE:
        if samplerate is None:
            raise CodecError(
                f"decoding {enc} needs the sample rate, e.g. decode(data, encoding={enc!r}, samplerate=16000)"
            )
        ch = _check_channels(channels)
        samples = decode_pcm(data, encoding=enc, channels=ch)
        prov = Provenance(
            source="raw",
            container="RAW",
            subtype=enc,
            dtype=_PROVENANCE_DTYPE.get(enc),
            byteorder="little" if BYTES_PER_SAMPLE[enc] > 1 else None,
            samplerate=samplerate,
            channels=ch,
        )
        return Clip(samples, samplerate=samplerate, provenance=prov)
    # ogg_opus
    raw = bytes(data)
    if not raw.startswith(b"OggS"):
        raise CodecError(
            f"ogg_opus data must start with the Ogg capture pattern b'OggS', but {_describe_start(raw)}; "
            "check the encoding the server actually sent"
        )
    sf = _soundfile()
    try:
        with sf.SoundFile(io.BytesIO(raw)) as f:
            if f.subtype != "OPUS":
                raise CodecError(
                    f"the Ogg stream holds {f.subtype}, not Opus; decode it with voicelab's file loader"
                )
            rate = int(f.samplerate)
            nch = int(f.channels)
            samples = f.read(dtype="float32", always_2d=False)
    except (RuntimeError, sf.SoundFileError) as exc:
        raise CodecError(
            f"could not decode {len(raw)} bytes as Ogg Opus: {exc}; the data may be truncated - "
            "an Ogg stream can only be cut at page boundaries (see ogg_pages)"
        ) from exc
    prov = Provenance(
        source="raw", container="OGG", subtype="ogg_opus", dtype=None, samplerate=rate, channels=nch
    )
    return Clip(samples, samplerate=rate, provenance=prov)


# --------------------------------------------------------------------------------------------
# Raw Opus packets
# --------------------------------------------------------------------------------------------
def _opuslib() -> Any:
    try:
        mod = importlib.import_module("opuslib")
        importlib.import_module("opuslib.api.encoder")
        importlib.import_module("opuslib.api.decoder")
    except Exception as exc:  # opuslib raises a bare Exception when libopus is missing
        raise CodecUnavailableError(
            f"raw Opus needs libopus and opuslib ({exc}); install them: apt-get install libopus0 "
            "and pip install opuslib"
        ) from exc
    return mod


def encode_opus_packets(
    clip: Clip,
    *,
    frame_seconds: float = 0.02,
    bitrate: int | None = None,
    application: str = "voip",
) -> list[bytes]:
    """Encode a clip as raw Opus packets with libopus, one packet per frame.

    Args:
        clip: Mono or stereo audio at 8, 12, 16, 24 or 48 kHz.
        frame_seconds: Frame duration in seconds: 0.0025, 0.005, 0.01, 0.02,
            0.04 or 0.06. The last frame is zero-padded to full length.
        bitrate: Target bitrate in bits per second (6000 to 510000);
            ``None`` keeps libopus' automatic choice.
        application: ``voip`` (speech), ``audio`` (music) or
            ``restricted_lowdelay``.

    Returns:
        The packets, ``ceil(frames / frame_size)`` of them.

    Note:
        Decoding the packets yields the audio delayed by the encoder's
        lookahead (6.5 ms for ``voip``/``audio``, 2.5 ms for
        ``restricted_lowdelay``) and with the zero padding at the end.

    Raises:
        CodecError: For unsupported rates, channels, frame durations,
            applications or bitrates.
        CodecUnavailableError: If libopus is not installed.
    """
    _check_clip(clip, func="encode_opus_packets")
    _check_opus_rate(clip.samplerate, what="opus")
    if clip.channels > 2:
        raise CodecError(
            f"opus packets support 1 or 2 channels, got {clip.channels}; mix down first: clip.to_mono()"
        )
    matches = [s for s in OPUS_FRAME_SECONDS if abs(s - frame_seconds) < 1e-9]
    if isinstance(frame_seconds, bool) or not matches:
        raise CodecError(
            "opus frames last 0.0025, 0.005, 0.01, 0.02, 0.04 or 0.06 s, "
            f"got frame_seconds={frame_seconds!r}; 0.02 is the usual choice"
        )
    if application not in OPUS_APPLICATIONS:
        raise CodecError(
            f"opus application must be one of {', '.join(OPUS_APPLICATIONS)}, got {application!r}"
        )
    br = _check_bitrate(bitrate, low=6000, high=510000, what="opus")
    opuslib = _opuslib()
    rate, ch = clip.samplerate, clip.channels
    frame_size = round(matches[0] * rate)
    samples = clip.samples.reshape(clip.frames, ch)
    n_packets = -(-clip.frames // frame_size)
    padded = np.zeros((n_packets * frame_size, ch), dtype="<f4")
    padded[: clip.frames] = samples
    encoder = opuslib.Encoder(rate, ch, application)
    if br is not None:
        encoder.bitrate = br
    packets: list[bytes] = []
    for i in range(n_packets):
        pcm = padded[i * frame_size : (i + 1) * frame_size].tobytes()
        packets.append(
            bytes(opuslib.api.encoder.encode_float(encoder.encoder_state, pcm, frame_size, _OPUS_MAX_PACKET))
        )
    return packets


def decode_opus_packets(packets: Iterable[BytesLike], *, samplerate: int, channels: int = 1) -> Clip:
    """Decode raw Opus packets with libopus.

    Args:
        packets: The packets in order. An empty packet means a lost one:
            libopus conceals it with audio as long as the previous packet.
        samplerate: Output rate in Hz (8, 12, 16, 24 or 48 kHz); any Opus
            packet can be decoded at any of these rates.
        channels: Output channels, 1 or 2 (libopus up- or down-mixes).

    Returns:
        A Clip with every decoded sample, including the encoder's lookahead
        delay at the start (see `encode_opus_packets`).

    Raises:
        CodecError: For a bad rate, channel count or a corrupt packet.
        CodecUnavailableError: If libopus is not installed.
    """
    _check_opus_rate(samplerate, what="opus")
    if channels not in (1, 2) or isinstance(channels, bool):
        raise CodecError(f"opus decodes to 1 or 2 channels, got channels={channels!r}")
    opuslib = _opuslib()
    decoder = opuslib.Decoder(samplerate, channels)
    max_frame = samplerate * 120 // 1000  # the longest Opus packet holds 120 ms
    chunks: list[npt.NDArray[np.int16]] = []
    last = 0
    for i, packet in enumerate(packets):
        if not isinstance(packet, (bytes, bytearray, memoryview)):
            raise CodecError(f"opus packet {i} is {type(packet).__name__}, expected bytes")
        data = bytes(packet)
        if not data and not last:
            raise CodecError(f"opus packet {i} is empty (lost) before any packet was decoded; drop it")
        try:
            pcm = opuslib.api.decoder.decode(
                decoder.decoder_state,
                data,
                len(data),
                last if not data else max_frame,
                False,
                channels=channels,
            )
        except Exception as exc:  # opuslib.OpusError on corrupt data
            raise CodecError(
                f"opus packet {i} ({len(data)} bytes, starts {data[:8]!r}) is not valid Opus: {exc}; "
                "check that packets were not split or concatenated"
            ) from exc
        arr = np.frombuffer(pcm, dtype=np.int16)
        last = arr.size // channels
        chunks.append(arr)
    ints = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    samples = ints.astype(np.float32) * np.float32(1.0 / _INT16_SCALE)
    if channels == 2:
        samples = samples.reshape(-1, 2)
    prov = Provenance(
        source="raw", container="RAW", subtype="opus", dtype=None, samplerate=samplerate, channels=channels
    )
    return Clip(samples, samplerate=samplerate, provenance=prov)


# --------------------------------------------------------------------------------------------
# Ogg pages
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OggPage:
    """The position and header fields of one Ogg page.

    Attributes:
        offset: Byte offset of the page's ``OggS`` in the data.
        length: Page length in bytes (27-byte header, segment table and body).
        granule: Granule position: for Opus, the 48 kHz sample count at the
            end of the last packet completed on this page, including the
            pre-skip; -1 when no packet ends on the page.
        serial: The logical bitstream serial number.
        sequence: The page sequence number within the bitstream.
    """

    offset: int
    length: int
    granule: int
    serial: int
    sequence: int


def ogg_pages(data: BytesLike) -> list[OggPage]:
    """Parse the page headers of an Ogg stream (CRCs are not checked).

    Audio time at the end of an Opus page is ``(granule - opus_preskip(data)) / 48000`` seconds,
    whatever the input rate was. Cutting an Ogg stream between pages keeps every piece decodable
    by a streaming decoder.

    Args:
        data: Ogg bytes, starting at a page boundary.

    Returns:
        The pages in order.

    Raises:
        CodecError: If a page does not start with ``OggS``, has an unknown
            version, or is truncated.
    """
    buf = memoryview(data).cast("B")
    pages: list[OggPage] = []
    pos, n = 0, len(buf)
    while pos < n:
        if n - pos < _OGG_HEADER.size:
            raise CodecError(
                f"Ogg data is truncated: {n - pos} bytes at offset {pos} are too short for a 27-byte "
                "page header; cut Ogg streams only at page boundaries"
            )
        capture, version, _, granule, serial, sequence, _, nseg = _OGG_HEADER.unpack_from(buf, pos)
        if capture != b"OggS":
            raise CodecError(
                f"no Ogg page at offset {pos}: expected capture pattern b'OggS', got {capture!r}"
                + (
                    "; the data is not Ogg"
                    if pos == 0
                    else "; the previous page's length is wrong or data was cut"
                )
            )
        if version != 0:
            raise CodecError(
                f"Ogg page at offset {pos} has stream structure version {version}; only version 0 exists"
            )
        body_start = pos + _OGG_HEADER.size + nseg
        if body_start > n:
            raise CodecError(
                f"Ogg page at offset {pos} is truncated inside its segment table; data was cut mid-page"
            )
        length = body_start - pos + sum(buf[pos + _OGG_HEADER.size : body_start])
        if pos + length > n:
            raise CodecError(
                f"Ogg page at offset {pos} needs {length} bytes but only {n - pos} remain; "
                "data was cut mid-page"
            )
        pages.append(OggPage(offset=pos, length=length, granule=granule, serial=serial, sequence=sequence))
        pos += length
    return pages


def opus_preskip(data: BytesLike) -> int:
    """Read the pre-skip from the OpusHead packet of an Ogg Opus stream.

    Args:
        data: Ogg Opus bytes starting with the first page (the OpusHead page).

    Returns:
        The number of 48 kHz samples the decoder must discard at the start
        (typically 312 for libopus with libsndfile: 6.5 ms).

    Raises:
        CodecError: If the first page does not hold an OpusHead packet.
    """
    raw = bytes(memoryview(data)[:4096])  # the OpusHead page is at most 27 + 1 + 276 bytes
    if not raw.startswith(b"OggS") or len(raw) < _OGG_HEADER.size:
        raise CodecError(f"opus_preskip needs Ogg data starting with b'OggS', but {_describe_start(raw)}")
    nseg = raw[26]
    body = raw[_OGG_HEADER.size + nseg :]
    if not body.startswith(b"OpusHead") or len(body) < 19:
        raise CodecError(
            f"the first Ogg page does not hold an OpusHead packet (it starts {body[:8]!r}); "
            "pass the stream from its beginning, and check it is Opus (Vorbis starts b'\\x01vorbis')"
        )
    return int(struct.unpack_from("<H", body, 10)[0])


# --------------------------------------------------------------------------------------------
# Base64
# --------------------------------------------------------------------------------------------
def b64encode(data: BytesLike) -> str:
    """Encode bytes as standard base64 text (RFC 4648, with padding, no newlines).

    Args:
        data: The bytes, e.g. one audio chunk.

    Returns:
        ASCII base64 text, 4 characters per 3 bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"b64encode needs bytes, got {type(data).__name__}; encode the audio first")
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | BytesLike) -> bytes:
    """Strictly decode standard base64 text (RFC 4648 alphabet, padding required, no whitespace inside).

    Whitespace after the text (the newline at the end of a file or a line read) is ignored.

    Args:
        text: Base64 text as ``str`` or ASCII bytes.

    Returns:
        The decoded bytes.

    Raises:
        CodecError: Naming the offset and kind of the problem (a character
            outside the alphabet, JSON or a data: URL instead of base64,
            URL-safe base64, whitespace, or bad padding).
    """
    if isinstance(text, str):
        bad = next((i for i, c in enumerate(text) if ord(c) > 127), None)
        if bad is not None:
            raise CodecError(f"not base64: non-ASCII character {text[bad]!r} at offset {bad}")
        raw = text.encode("ascii")
    elif isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
    else:
        raise CodecError(f"b64decode needs str or bytes, got {type(text).__name__}")
    raw = raw.rstrip(b" \t\r\n")  # the newline that ends a file or a line read
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CodecError(_explain_b64(raw, exc)) from exc


def _explain_b64(raw: bytes, exc: Exception) -> str:
    stripped = raw.lstrip()
    if stripped[:1] in (b"{", b"["):
        return (
            f"not base64: character {chr(stripped[0])!r} at offset {len(raw) - len(stripped)} - "
            "this looks like JSON; take the base64 field out first, e.g. json.loads(text)['audio']"
        )
    if stripped[:5].lower() == b"data:":
        return "not base64: this is a data: URL; decode the part after the first comma"
    match = _B64_ALPHABET.search(raw)
    if match is not None:
        pos, char = match.start(), chr(raw[match.start()])
        if char in "-_":
            return (
                f"not base64: character {char!r} at offset {pos} - this looks like URL-safe base64; "
                "use base64.urlsafe_b64decode"
            )
        if char.isspace():
            return f"not base64: whitespace {char!r} at offset {pos}; strip whitespace and newlines first"
        return f"not base64: character {char!r} at offset {pos} is outside the base64 alphabet"
    first_pad = raw.find(b"=")
    if first_pad != -1 and raw[first_pad:].strip(b"=") != b"":
        return (
            f"bad base64 padding: '=' at offset {first_pad} is followed by more data; "
            "were two chunks concatenated?"
        )
    if len(raw) % 4:
        return (
            f"bad base64 padding: length {len(raw)} is not a multiple of 4 "
            f"({len(raw) % 4} extra characters); the text was cut or its '=' padding is missing"
        )
    return f"not valid base64: {exc}"
