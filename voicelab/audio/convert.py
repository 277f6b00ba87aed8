"""Conversions between sample formats, channel layouts and rates.

Every function takes and returns a `Clip` (or arrays, for the dtype helpers),
so the sample rate can never be separated from the samples.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr

from voicelab.audio.clip import INTEGER_FULL_SCALE, Clip
from voicelab.audio.formats import check_samplerate
from voicelab.errors import ConversionError

__all__ = [
    "QUALITIES",
    "float_to_pcm",
    "normalize",
    "pcm_to_float",
    "remove_dc",
    "resample",
    "to_mono",
]

#: soxr quality presets, from fastest to best. ``HQ`` is the default.
QUALITIES: tuple[str, ...] = ("QQ", "LQ", "MQ", "HQ", "VHQ")

PcmDtype = Literal["int16", "int32", "float32"]
_FULL_SCALE = {"int16": 32767, "int32": 2147483647}


def float_to_pcm(samples: npt.ArrayLike, *, dtype: PcmDtype = "int16") -> np.ndarray:
    """Convert float samples in [-1, 1] to ``dtype`` with rounding and clipping.

    Args:
        samples: Float samples; values beyond full scale are clipped, never wrapped.
        dtype: ``int16``, ``int32`` or ``float32``.

    Returns:
        An array of ``dtype``, same shape as ``samples``.
    """
    arr = np.asarray(samples, dtype=np.float64)
    if dtype == "float32":
        return np.clip(arr, -1.0, 1.0).astype(np.float32)
    if dtype not in _FULL_SCALE:
        raise ConversionError(f"dtype must be one of int16, int32, float32, got {dtype!r}")
    top = _FULL_SCALE[dtype]
    scaled = np.rint(arr * (top + 1))
    return np.clip(scaled, -top - 1, top).astype(dtype)


def pcm_to_float(samples: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Convert integer PCM to float32 in [-1, 1) by the dtype's full scale (floats pass through).

    Args:
        samples: int16 or int32 (or float) samples.

    Returns:
        float32 samples with the same shape.

    Raises:
        ConversionError: Another dtype; int64 in particular is refused, because scaling it by 2**63
            would turn any audio into silence (``np.array`` of Python ints gives int64: use
            ``.astype(np.int16)`` for 16-bit samples).
    """
    arr = np.asarray(samples)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    if arr.dtype.name not in INTEGER_FULL_SCALE:
        hint = (" (np.array of Python ints gives int64; for 16-bit samples use .astype(np.int16))"
                if arr.dtype.name == "int64" else "")
        raise ConversionError(f"pcm_to_float takes int16, int32 or float samples, got dtype {arr.dtype}{hint}")
    return (arr.astype(np.float64) / INTEGER_FULL_SCALE[arr.dtype.name]).astype(np.float32)


def to_mono(clip: Clip) -> Clip:
    """Mix all channels down to one by averaging them.

    Args:
        clip: Any clip; a mono clip is returned unchanged.

    Returns:
        A mono clip at the same rate.
    """
    if clip.channels == 1:
        return clip
    return clip.with_samples(clip.samples.mean(axis=1), step=f"mono mixdown of {clip.channels} channels")


def resample(clip: Clip, samplerate: int, *, quality: str = "HQ") -> Clip:
    """Resample with soxr.

    Args:
        clip: The clip to resample.
        samplerate: The new rate in Hz.
        quality: A soxr preset, one of `QUALITIES` (``HQ`` default; ``VHQ`` best).

    Returns:
        A clip at ``samplerate``; the same clip if the rate already matches.
    """
    rate = check_samplerate(samplerate, what="target samplerate")
    q = str(quality).upper()
    if q not in QUALITIES:
        raise ConversionError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    if rate == clip.samplerate:
        return clip
    out = soxr.resample(clip.samples, clip.samplerate, rate, quality=q)
    return clip.with_samples(
        out, samplerate=rate, step=f"resample {clip.samplerate}->{rate} Hz (soxr {q})"
    )


def normalize(clip: Clip, *, peak_dbfs: float = -1.0) -> Clip:
    """Scale so that the highest absolute sample sits at ``peak_dbfs``.

    Args:
        clip: The clip to scale.
        peak_dbfs: Target peak in dB relative to full scale; must be <= 0.

    Returns:
        The scaled clip (unchanged if it is digital silence).
    """
    if not np.isfinite(peak_dbfs) or peak_dbfs > 0:
        raise ConversionError(
            f"peak_dbfs must be a finite number <= 0 (0 is full scale), got {peak_dbfs!r}"
        )
    peak = float(np.max(np.abs(clip.samples))) if clip.frames else 0.0
    if peak == 0.0:
        return clip
    gain = 10 ** (peak_dbfs / 20) / peak
    return clip.with_samples(
        clip.samples * gain, step=f"normalize peak to {peak_dbfs:g} dBFS (gain {20 * np.log10(gain):+.1f} dB)"
    )


def remove_dc(clip: Clip) -> Clip:
    """Subtract each channel's mean so the signal is centred on zero.

    Args:
        clip: The clip to centre.

    Returns:
        The centred clip.
    """
    mean = clip.samples.mean(axis=0, dtype=np.float64)
    return clip.with_samples(clip.samples - mean.astype(np.float32), step="remove DC offset")
