"""G.711 A-law / mu-law: bit-exact against CPython's audioop for every input."""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

import numpy as np
import pytest

from voicelab.audio import g711
from voicelab.errors import CodecError

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)


def _audioop() -> ModuleType:
    if sys.version_info >= (3, 13):  # removed from the stdlib; the audioop-lts package provides it
        return pytest.importorskip("audioop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    return _audioop()


# -- bit-exactness ----------------------------------------------------------------------------
def test_alaw_encode_matches_audioop_for_all_65536_inputs(audioop: ModuleType) -> None:
    expected = np.frombuffer(audioop.lin2alaw(ALL_INT16.tobytes(), 2), dtype=np.uint8)
    got = g711.int16_to_alaw(ALL_INT16)
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, f"first mismatch at int16 {ALL_INT16[mismatches[0]]}"


def test_mulaw_encode_matches_audioop_for_all_65536_inputs(audioop: ModuleType) -> None:
    expected = np.frombuffer(audioop.lin2ulaw(ALL_INT16.tobytes(), 2), dtype=np.uint8)
    got = g711.int16_to_mulaw(ALL_INT16)
    mismatches = np.flatnonzero(got != expected)
    assert mismatches.size == 0, f"first mismatch at int16 {ALL_INT16[mismatches[0]]}"


def test_alaw_decode_matches_audioop_for_all_256_codes(audioop: ModuleType) -> None:
    expected = np.frombuffer(audioop.alaw2lin(ALL_CODES.tobytes(), 2), dtype=np.int16)
    np.testing.assert_array_equal(g711.alaw_to_int16(ALL_CODES), expected)
    np.testing.assert_array_equal(g711.ALAW_TO_INT16, expected)


def test_mulaw_decode_matches_audioop_for_all_256_codes(audioop: ModuleType) -> None:
    expected = np.frombuffer(audioop.ulaw2lin(ALL_CODES.tobytes(), 2), dtype=np.int16)
    np.testing.assert_array_equal(g711.mulaw_to_int16(ALL_CODES), expected)
    np.testing.assert_array_equal(g711.MULAW_TO_INT16, expected)


def test_reencoding_decoded_codes_matches_audioop(audioop: ModuleType) -> None:
    for enc, dec, a_enc in (
        (g711.int16_to_alaw, g711.alaw_to_int16, audioop.lin2alaw),
        (g711.int16_to_mulaw, g711.mulaw_to_int16, audioop.lin2ulaw),
    ):
        decoded = dec(ALL_CODES)
        np.testing.assert_array_equal(enc(decoded), np.frombuffer(a_enc(decoded.tobytes(), 2), np.uint8))


def test_codes_are_idempotent_except_mulaw_negative_zero() -> None:
    np.testing.assert_array_equal(g711.int16_to_alaw(g711.alaw_to_int16(ALL_CODES)), ALL_CODES)
    again = g711.int16_to_mulaw(g711.mulaw_to_int16(ALL_CODES))
    assert np.flatnonzero(again != ALL_CODES).tolist() == [0x7F]  # -0 decodes to 0, which encodes as +0
    assert again[0x7F] == 0xFF


# -- known values and quantisation error per segment ------------------------------------------
def test_known_values() -> None:
    assert g711.int16_to_mulaw(np.array([0], np.int16))[0] == 0xFF
    assert g711.int16_to_alaw(np.array([0], np.int16))[0] == 0xD5
    assert g711.MULAW_TO_INT16.max() == 32124 and g711.MULAW_TO_INT16.min() == -32124
    assert g711.ALAW_TO_INT16.max() == 32256 and g711.ALAW_TO_INT16.min() == -32256


def test_alaw_max_error_per_segment_is_half_a_step() -> None:
    x = ALL_INT16.astype(np.int64)
    codes = g711.int16_to_alaw(ALL_INT16)
    err = np.abs(g711.alaw_to_int16(codes).astype(np.int64) - x)
    seg = ((codes.astype(np.int64) ^ 0x55) & 0x70) >> 4
    for s in range(8):
        half_step = 8 if s <= 1 else 2 ** (s + 2)  # step 16 in segments 0 and 1, then doubling
        assert err[seg == s].max() == half_step, f"segment {s}"
    assert err.max() == 512  # also for -32768, beyond the A-law peak of 32256


def test_mulaw_max_error_per_segment_is_half_a_step_below_clipping() -> None:
    x = ALL_INT16.astype(np.int64)
    codes = g711.int16_to_mulaw(ALL_INT16)
    err = np.abs(g711.mulaw_to_int16(codes).astype(np.int64) - x)
    seg = (~codes.astype(np.int64) & 0x70) >> 4
    inside = np.abs(x) <= 32124  # the mu-law peak
    for s in range(8):
        half_step = 2 ** (s + 2)  # step 2**(s+3) in int16 units
        assert err[inside & (seg == s) & (x >= 0)].max() == half_step, f"segment {s}"
        # audioop shifts with >> 2 (floor), so negative samples can be 3 further off.
        assert err[inside & (seg == s) & (x < 0)].max() == half_step + 3, f"segment {s}"
    assert err[~inside].max() == 32768 - 32124  # clipped beyond the peak
    assert err[x == 0][0] == 0


# -- shapes, inputs and errors ------------------------------------------------------------------
def test_shape_is_preserved_and_bytes_are_accepted() -> None:
    pcm = np.array([[0, 1000], [-1000, 32767]], dtype=np.int16)
    codes = g711.int16_to_mulaw(pcm)
    assert codes.shape == (2, 2) and codes.dtype == np.uint8
    np.testing.assert_array_equal(
        g711.mulaw_to_int16(codes.tobytes()).reshape(2, 2), g711.mulaw_to_int16(codes)
    )
    big_endian = pcm.astype(">i2")
    np.testing.assert_array_equal(g711.int16_to_alaw(big_endian), g711.int16_to_alaw(pcm))


def test_tables_are_read_only() -> None:
    with pytest.raises(ValueError):
        g711.ALAW_TO_INT16[0] = 0
    with pytest.raises(ValueError):
        g711.MULAW_TO_INT16[0] = 0


def test_wrong_dtypes_raise_codec_error_with_fix() -> None:
    with pytest.raises(CodecError, match=r"int16 samples, got dtype float32; scale floats first"):
        g711.int16_to_alaw(np.zeros(4, np.float32))
    with pytest.raises(CodecError, match=r"got dtype int32; convert"):
        g711.int16_to_mulaw(np.zeros(4, np.int32))
    with pytest.raises(CodecError, match=r"uint8 codes"):
        g711.alaw_to_int16(np.zeros(4, np.int16))
