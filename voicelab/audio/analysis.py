"""Measurements of a Clip: levels, clipping, DC, silence, bandwidth and speech-rate cues.

All work is vectorised numpy and bounded: spectra are estimated on a bounded
sample of frames, and the speech cues (`voicelab.audio.ratelabel`) on at most
a minute of excerpts, so one hour of audio is measured in about a second.
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
    """Speech cues that scale with the true sample rate, and the verdict on the declared rate.

    If audio recorded at rate R is labelled R/k, every frequency and rhythm in it
    appears k times lower and slower. Typical adult speech: pitch 85-255 Hz,
    strongest harmonic above the fundamental (near the first formant) 300-550 Hz,
    syllables 3-6 per second. See `voicelab.audio.ratelabel`.

    Attributes:
        verdict: ``consistent`` (the declared rate fits the speech), ``possible_mismatch``,
            ``mismatch`` (decisive evidence) or ``unknown`` (see ``reason``).
        rate_factor: Likely true rate / declared rate (1.0 when consistent or unknown).
        likely_samplerate: The likely true rate in Hz (a standard rate when one is within 3 %),
            ``None`` when unknown.
        confidence: Probability that the declared rate is wrong (for ``mismatch`` and
            ``possible_mismatch``) or right (for ``consistent``), from the cues' likelihoods
            with equal prior odds for every rate considered (0..1; 0 when unknown).
        likely_rate_confidence: Probability of ``likely_samplerate`` among the rates considered.
        log_likelihood_ratio: Evidence for the best other rate over the declared one, in
            nats (negative: the declared rate fits better).
        reason: Why the verdict is ``unknown`` (empty otherwise).
        voiced_seconds: Voiced speech found (declared-rate seconds, in the analysed part).
        pitch_hz: Median fundamental frequency of voiced frames at the declared rate, Hz.
        harmonic_peak_hz: Median frequency of the strongest harmonic above the fundamental, Hz.
        syllable_rate_hz: Centre of the loudness-modulation spectrum (0.5-16 Hz) at the declared rate.
        bandwidth_hz: Effective bandwidth of the content when it was measured, Hz.
        cues: For each candidate factor (key ``"1"``, ``"0.5"``, ``"2"`` …): its sample rate, its
            log-likelihood, the likeliest kind of voice (man, woman, child), the cues rescaled to it
            and each cue's contribution (``ll_pitch``, ``ll_harmonic_peak``, ``ll_syllable_rhythm``,
            ``ll_bandwidth``).
    """

    verdict: str
    rate_factor: float
    likely_samplerate: int | None
    confidence: float
    likely_rate_confidence: float
    log_likelihood_ratio: float
    reason: str
    voiced_seconds: float
    pitch_hz: float
    harmonic_peak_hz: float
    syllable_rate_hz: float
    bandwidth_hz: float | None
    cues: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


def _mono(clip: Clip) -> npt.NDArray[np.float32]:
    s = clip.samples
    return s if s.ndim == 1 else s.mean(axis=1, dtype=np.float32)


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


def speech_cues(clip: Clip, *, bandwidth_hz: float | None = None) -> SpeechCues | None:
    """Measure pitch, harmonic peak and syllable rate, and judge the declared sample rate with them.

    Args:
        clip: A clip that contains speech.
        bandwidth_hz: The content's effective bandwidth, if measured (`measure_levels`).

    Returns:
        The cues with the verdict (``unknown`` when there is too little voiced speech),
        or ``None`` for an empty or all-zero clip.
    """
    from voicelab.audio.ratelabel import check_rate_label  # ratelabel imports this module

    return check_rate_label(clip, bandwidth_hz=bandwidth_hz)
