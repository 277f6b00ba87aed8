"""Bit-exact ITU-T G.711 A-law and mu-law, vectorised with numpy lookup tables.

The companding follows the Sun reference implementation that CPython's
``audioop`` module uses (``lin2alaw``/``alaw2lin``/``lin2ulaw``/``ulaw2lin``
with ``width=2``), so every one of the 65536 int16 inputs and all 256 codes
give exactly the same result as ``audioop``:

* A-law works on the top 13 bits of the sample (``pcm >> 3``), with even-bit
  inversion (XOR ``0x55``) and the sign bit set for non-negative samples.
* mu-law works on the top 14 bits (``pcm >> 2``), clips the magnitude at 8159,
  adds the bias 33 (``0x84 >> 2``) and inverts all bits of the code.
  Because of the arithmetic shift, negative samples round toward minus
  infinity before companding; this is what ``audioop`` does too.

Both directions are a single table lookup: a 65536-entry table from int16 to
code (indexed by the sample's bit pattern) and a 256-entry table from code to
int16, built once at import time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from voicelab.errors import CodecError

__all__ = [
    "ALAW_TO_INT16",
    "MULAW_TO_INT16",
    "alaw_to_int16",
    "int16_to_alaw",
    "int16_to_mulaw",
    "mulaw_to_int16",
]

# Segment end points of the reference implementation (G.191 / Sun g711.c).
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _search(values: npt.NDArray[np.int32], table: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Index of the first table entry ``>= value`` (8 when there is none), like ``search()`` in C."""
    return np.searchsorted(table, values, side="left").astype(np.int32)


def _alaw_encode_reference(pcm: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """A-law codes for int16 values held in int32 (``st_linear2alaw(pcm >> 3)``)."""
    val = pcm >> 3  # 13-bit two's complement
    nonneg = val >= 0
    mask = np.where(nonneg, 0xD5, 0x55).astype(np.int32)
    val = np.where(nonneg, val, -val - 1)
    seg = _search(val, _SEG_AEND)
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((val >> shift) & 0x0F)
    code = np.where(seg >= 8, 0x7F ^ mask, aval ^ mask)
    return code.astype(np.uint8)


def _mulaw_encode_reference(pcm: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """mu-law codes for int16 values held in int32 (``st_14linear2ulaw(pcm >> 2)``)."""
    val = pcm >> 2  # 14-bit two's complement
    neg = val < 0
    mask = np.where(neg, 0x7F, 0xFF).astype(np.int32)
    val = np.where(neg, -val, val)
    val = np.minimum(val, _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = _search(val, _SEG_UEND)
    uval = (np.minimum(seg, 7) << 4) | ((val >> (np.minimum(seg, 7) + 1)) & 0x0F)
    code = np.where(seg >= 8, 0x7F ^ mask, uval ^ mask)
    return code.astype(np.uint8)


def _alaw_decode_reference(code: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
    """int16 values for A-law codes (``st_alaw2linear16``)."""
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _mulaw_decode_reference(code: npt.NDArray[np.int32]) -> npt.NDArray[np.int16]:
    """int16 values for mu-law codes (``st_ulaw2linear16``)."""
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _encode_table(
    encoder: Callable[[npt.NDArray[np.int32]], npt.NDArray[np.uint8]],
) -> npt.NDArray[np.uint8]:
    """A 65536-entry table indexed by the int16 sample's bit pattern (``pcm.view(uint16)``)."""
    pcm = np.arange(-32768, 32768, dtype=np.int32)
    codes = encoder(pcm)
    table = np.empty(65536, dtype=np.uint8)
    table[pcm & 0xFFFF] = codes
    table.setflags(write=False)
    return table


_INT16_TO_ALAW = _encode_table(_alaw_encode_reference)
_INT16_TO_MULAW = _encode_table(_mulaw_encode_reference)

#: int16 value of each of the 256 A-law codes (read-only).
ALAW_TO_INT16: npt.NDArray[np.int16] = _alaw_decode_reference(np.arange(256, dtype=np.int32))
ALAW_TO_INT16.setflags(write=False)
#: int16 value of each of the 256 mu-law codes (read-only).
MULAW_TO_INT16: npt.NDArray[np.int16] = _mulaw_decode_reference(np.arange(256, dtype=np.int32))
MULAW_TO_INT16.setflags(write=False)


def _as_int16_bits(pcm: npt.ArrayLike, *, what: str) -> npt.NDArray[np.uint16]:
    arr = np.asarray(pcm)
    if arr.dtype.kind != "i" or arr.dtype.itemsize != 2:  # int16 in either byte order
        hint = (
            "scale floats first, e.g. np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)"
            if arr.dtype.kind == "f"
            else "convert it with .astype(np.int16) if the values are already in the int16 range"
        )
        raise CodecError(f"{what} needs int16 samples, got dtype {arr.dtype}; {hint}")
    return arr.astype(np.int16, copy=False).view(np.uint16)


def _as_codes(codes: npt.ArrayLike | bytes | bytearray | memoryview, *, what: str) -> npt.NDArray[np.uint8]:
    if isinstance(codes, (bytes, bytearray, memoryview)):
        return np.frombuffer(codes, dtype=np.uint8)
    arr = np.asarray(codes)
    if arr.dtype != np.uint8:
        raise CodecError(
            f"{what} needs uint8 codes (or bytes), got dtype {arr.dtype}; "
            "pass the raw bytes or an array with dtype=np.uint8"
        )
    return arr


def int16_to_alaw(pcm: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Compand int16 samples to G.711 A-law codes, bit-exact with ``audioop.lin2alaw(..., 2)``.

    Args:
        pcm: int16 samples (full scale 32768), any shape.

    Returns:
        uint8 A-law codes of the same shape (one byte per sample).
    """
    return _INT16_TO_ALAW[_as_int16_bits(pcm, what="int16_to_alaw")]


def int16_to_mulaw(pcm: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Compand int16 samples to G.711 mu-law codes, bit-exact with ``audioop.lin2ulaw(..., 2)``.

    Args:
        pcm: int16 samples (full scale 32768), any shape.

    Returns:
        uint8 mu-law codes of the same shape (one byte per sample).
    """
    return _INT16_TO_MULAW[_as_int16_bits(pcm, what="int16_to_mulaw")]


def alaw_to_int16(codes: npt.ArrayLike | bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Expand G.711 A-law codes to int16, bit-exact with ``audioop.alaw2lin(..., 2)``.

    Args:
        codes: A-law codes as bytes or a uint8 array (one byte per sample).

    Returns:
        int16 samples (full scale 32768; A-law peaks at +-32256).
    """
    return ALAW_TO_INT16[_as_codes(codes, what="alaw_to_int16")]


def mulaw_to_int16(codes: npt.ArrayLike | bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Expand G.711 mu-law codes to int16, bit-exact with ``audioop.ulaw2lin(..., 2)``.

    Args:
        codes: mu-law codes as bytes or a uint8 array (one byte per sample).

    Returns:
        int16 samples (full scale 32768; mu-law peaks at +-32124).
    """
    return MULAW_TO_INT16[_as_codes(codes, what="mulaw_to_int16")]
