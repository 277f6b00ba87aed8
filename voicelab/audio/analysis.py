"""Measurements of a Clip: levels, clipping, DC, silence, bandwidth and speech-rate cues.

All work is vectorised numpy and bounded: spectra and pitch are estimated on
a bounded sample of frames, so one hour of audio is measured in about a
second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from voicelab.audio.clip import Clip

__all__ = ["Levels", "SpeechCues", "db", "measure_levels", "speech_cues"]

_FLOOR_DB = -120.0
#: |x| at or above this counts as clipped (within 0.02 dB of full scale).
CLIP_LEVEL = 0.9977
#: A 20 ms frame below this RMS (dBFS) counts as silent.
SILENCE_DBFS = -60.0
FRAME_SECONDS = 0.02


def db(x: float | npt.NDArray[np.floating[Any]]) -> Any:
    """Amplitude ratio to decibels, floored at -120 dB."""
    with np.errstate(divide="ignore"):
        return np.maximum(20 * np.log10(np.maximum(x, 1e-12)), _FLOOR_DB)


@dataclass(frozen=True)
class Levels:
    """Level measurements, all relative to digital full scale.

    Attributes:
        peak_dbfs: Highest absolute sample, dBFS.
        rms_dbfs: RMS over the whole clip, dBFS.
        active_rms_dbfs: RMS over non-silent frames only, dBFS (speech level).
        clipping_share: Share of samples at full scale (0..1).
        clipped_runs: Runs of 3 or more consecutive full-scale samples.
        dc_offset: Mean sample value per channel (full scale = 1).
        silence_share: Share of 20 ms frames quieter than -60 dBFS RMS (0..1).
        bandwidth_hz: Highest frequency with real energy (within 70 dB of the
            spectral peak, above the noise floor), Hz.
    """

    peak_dbfs: float
    rms_dbfs: float
    active_rms_dbfs: float
    clipping_share: float
    clipped_runs: int
    dc_offset: tuple[float, ...]
    silence_share: float
    bandwidth_hz: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


@dataclass(frozen=True)
class SpeechCues:
    """Cues that scale with the true sample rate, measured at the declared one.

    If audio recorded at rate R is labelled R/k, every frequency below
    appears k times lower. Typical adult speech: pitch 75-300 Hz, syllables
    3-7 per second, spectral centroid (50 Hz-4 kHz) around 0.6-1.1 kHz.

    Attributes:
        voiced_frames: Frames used for the pitch estimate.
        pitch_hz: Median fundamental frequency of voiced frames, Hz (nan if none).
        syllable_rate_hz: Peak of the loudness-modulation spectrum in 1-16 Hz.
        centroid_hz: Spectral centroid of the 50 Hz-4 kHz band, Hz.
        rate_factor: Estimated true rate / declared rate (1.0 = consistent).
    """

    voiced_frames: int
    pitch_hz: float
    syllable_rate_hz: float
    centroid_hz: float
    rate_factor: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


def _mono(clip: Clip) -> npt.NDArray[np.float32]:
    s = clip.samples
    return s if s.ndim == 1 else s.mean(axis=1, dtype=np.float32)


def _frame_rms(x: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float64]:
    frames = len(x) // n
    if frames == 0:
        return np.sqrt(np.mean(np.square(x, dtype=np.float64), keepdims=True)) if len(x) else np.zeros(0)
    f = x[: frames * n].reshape(frames, n)
    out: npt.NDArray[np.float64] = np.sqrt(np.einsum("ij,ij->i", f, f, dtype=np.float64) / n)
    return out


def _frame_ac_rms(x: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float64]:
    """RMS of each frame after removing that frame's mean (so DC does not count as sound)."""
    frames = max(1, len(x) // n)
    f = x[: frames * n].reshape(frames, -1) if len(x) >= n else x.reshape(1, -1)
    mean = f.mean(axis=1, dtype=np.float64)
    ms = np.einsum("ij,ij->i", f, f, dtype=np.float64) / f.shape[1] - mean**2
    out: npt.NDArray[np.float64] = np.sqrt(np.maximum(ms, 0.0))
    return out


def _pick_frames(starts: npt.NDArray[np.int64], limit: int) -> npt.NDArray[np.int64]:
    if len(starts) <= limit:
        return starts
    return starts[np.linspace(0, len(starts) - 1, limit).astype(np.int64)]


def _long_term_spectrum(
    x: npt.NDArray[np.float32], rate: int, frame_rms: npt.NDArray[np.float64], hop: int, *, n_fft: int = 2048
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mean power spectrum of up to 400 of the louder frames (Hann window)."""
    if len(x) < n_fft:
        n_fft = max(16, 1 << int(np.log2(max(len(x), 16))))
        if len(x) < n_fft:
            x = np.pad(x, (0, n_fft - len(x)))
    loud = np.flatnonzero(frame_rms >= np.percentile(frame_rms, 50)) if len(frame_rms) else np.zeros(1, int)
    starts = np.clip(loud.astype(np.int64) * hop, 0, len(x) - n_fft)
    starts = _pick_frames(np.unique(starts), 400)
    idx = starts[:, None] + np.arange(n_fft)[None, :]
    frames = x[idx] * np.hanning(n_fft).astype(np.float32)
    power: npt.NDArray[np.float64] = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0).astype(np.float64)
    freqs: npt.NDArray[np.float64] = np.fft.rfftfreq(n_fft, 1 / rate).astype(np.float64)
    return freqs, power


def _bandwidth(freqs: npt.NDArray[np.float64], power: npt.NDArray[np.float64], *, cliff_db: float = 25.0) -> float:
    """Highest frequency with real content: the top of the last "cliff" in the spectrum.

    A frequency is a candidate edge when its (smoothed) level is at least
    ``cliff_db`` above everything from 3 % of the band higher up to Nyquist;
    the candidate with the deepest drop is the edge.
    This finds resampler and codec low-pass edges and ignores a flat or
    noise-shaped quantisation floor.
    """
    if not np.any(power > 0):
        return 0.0
    p_db = 10 * np.log10(np.maximum(power, 1e-30))
    k = max(1, len(p_db) // 100)
    smooth = np.convolve(np.pad(p_db, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="same")[k:-k]
    floor = float(np.min(smooth[len(smooth) // 50 :]))
    gap = max(1, round(0.03 * len(smooth)))
    beyond = np.maximum.accumulate(smooth[::-1])[::-1]  # beyond[i] = max(smooth[i:])
    ahead = np.full(len(smooth), floor)
    ahead[:-gap] = beyond[gap:]
    drop = smooth - ahead
    edge = np.flatnonzero((drop >= cliff_db) & (smooth >= floor + cliff_db))
    if not len(edge):
        return float(freqs[-1])
    # the deepest cliff wins: a noise-shaped floor near Nyquist is shallower than a low-pass edge
    best = edge[np.argmax(drop[edge] + 1e-6 * edge)]
    return float(freqs[best])


def measure_levels(clip: Clip) -> Levels:
    """Measure peak, RMS, clipping, DC offset, silence and effective bandwidth.

    Args:
        clip: Any clip (multichannel clips are mixed to mono for the frame-based figures).

    Returns:
        The measurements.
    """
    s = clip.samples
    if clip.frames == 0:
        return Levels(_FLOOR_DB, _FLOOR_DB, _FLOOR_DB, 0.0, 0, tuple([0.0] * clip.channels), 1.0, 0.0)
    absmax = float(np.max(np.abs(s)))
    rms = float(np.sqrt(np.mean(np.square(s, dtype=np.float64))))
    full = np.abs(s) >= CLIP_LEVEL
    clipping_share = float(np.count_nonzero(full)) / full.size
    runs = 0
    if clipping_share:
        flat = full.reshape(len(s), -1).any(axis=1).astype(np.int8)
        edges = np.diff(np.concatenate(([0], flat, [0])))
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        runs = int(np.count_nonzero(lengths >= 3))
    dc = tuple(float(v) for v in np.atleast_1d(s.mean(axis=0, dtype=np.float64)))
    x = _mono(clip)
    hop = max(1, round(FRAME_SECONDS * clip.samplerate))
    fr = _frame_ac_rms(x, hop)
    silent = db(fr) < SILENCE_DBFS
    silence_share = float(np.mean(silent)) if len(fr) else 1.0
    active = fr[~silent]
    active_rms = float(np.sqrt(np.mean(active**2))) if len(active) else 0.0
    freqs, power = _long_term_spectrum(x - np.float32(np.mean(x)), clip.samplerate, fr, hop)
    return Levels(
        peak_dbfs=float(db(absmax)),
        rms_dbfs=float(db(rms)),
        active_rms_dbfs=float(db(active_rms)),
        clipping_share=clipping_share,
        clipped_runs=runs,
        dc_offset=dc,
        silence_share=silence_share,
        bandwidth_hz=_bandwidth(freqs, power) if absmax > 0 else 0.0,
    )


# Typical values of the cues for adult read speech at the correct rate.
_TYPICAL_PITCH = 150.0
_TYPICAL_CENTROID = 800.0


def speech_cues(clip: Clip) -> SpeechCues | None:
    """Estimate pitch, syllable rate and spectral centroid, and from them the rate factor.

    Args:
        clip: A clip that contains speech.

    Returns:
        The cues, or ``None`` when there is too little voiced audio (under ~1 s).
    """
    rate = clip.samplerate
    x = _mono(clip).astype(np.float32)
    x = x - np.float32(np.mean(x)) if len(x) else x
    hop = max(1, round(0.01 * rate))  # 10 ms envelope
    env = _frame_rms(x, hop)
    if len(env) < 100 or not np.any(env > 0):
        return None
    env_db = db(env)
    loud = env_db > max(env_db.max() - 30.0, SILENCE_DBFS)
    if np.count_nonzero(loud) < 50:
        return None

    # -- pitch: normalised autocorrelation on 80 ms frames, lags for 25-900 Hz
    n = 1 << int(np.ceil(np.log2(0.08 * rate)))
    lag_min, lag_max = max(2, int(rate / 900)), min(n // 2, int(rate / 25))
    starts = np.flatnonzero(loud).astype(np.int64) * hop
    starts = _pick_frames(starts[starts + n <= len(x)], 300)
    pitch = float("nan")
    voiced = 0
    if len(starts) and lag_max > lag_min + 2:
        frames = x[starts[:, None] + np.arange(n)[None, :]] * np.hanning(n).astype(np.float32)
        spec = np.fft.rfft(frames, 2 * n, axis=1)
        ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
        win_ac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(n), 2 * n)) ** 2)[:n]
        ac = ac / np.maximum(ac[:, :1], 1e-20) / np.maximum(win_ac / win_ac[0], 1e-3)
        seg = ac[:, lag_min:lag_max]
        best = np.argmax(seg, axis=1)
        strength = seg[np.arange(len(seg)), best]
        ok = strength > 0.6
        voiced = int(np.count_nonzero(ok))
        if voiced >= 10:
            lags = (best[ok] + lag_min).astype(np.float64)
            pitch = float(np.median(rate / lags))

    # -- syllable rate: modulation spectrum of the 10 ms loudness envelope
    e = np.clip(env_db, env_db.max() - 40.0, None)
    e = e - e.mean()
    mod_n = 1 << int(np.ceil(np.log2(max(len(e), 256))))
    mod = np.abs(np.fft.rfft(e * np.hanning(len(e)), mod_n)) ** 2
    mod_f = np.fft.rfftfreq(mod_n, 0.01)
    band = (mod_f >= 1.0) & (mod_f <= 16.0)
    # centre of mass of the modulation spectrum in the band (more stable than the peak)
    syll = float(np.sum(mod_f[band] * mod[band]) / max(np.sum(mod[band]), 1e-20))

    # -- spectral centroid below 4 kHz of loud frames
    freqs, power = _long_term_spectrum(x, rate, env, hop)
    sel = (freqs >= 50) & (freqs <= min(4000.0, rate / 2))
    centroid = float(np.sum(freqs[sel] * power[sel]) / max(np.sum(power[sel]), 1e-30))

    # The syllable rate is reported but not used: measured on short clips it
    # does not scale cleanly with a wrong rate label (see tests/audio/test_analysis.py).
    logs = [np.log(max(centroid, 1.0) / _TYPICAL_CENTROID)]
    if np.isfinite(pitch):
        logs.append(np.log(pitch / _TYPICAL_PITCH))
    factor = float(np.exp(-np.mean(logs)))
    return SpeechCues(
        voiced_frames=voiced,
        pitch_hz=pitch,
        syllable_rate_hz=syll,
        centroid_hz=centroid,
        rate_factor=factor,
    )
