"""Is the declared sample rate the rate the speech was recorded at?

Samples recorded at rate R and declared as R/k play k times slower and lower:
every frequency and every rhythm in them appears scaled by 1/k. Three cues of
human speech have typical values that do not depend on the recording, so the
scale shows in them:

* **pitch** (fundamental frequency): about 85-155 Hz for men, 165-255 Hz for
  women, 250-400 Hz for children. Measured with RAPT (Talkin 1995) from pysptk (SPTK),
  over a 20-1600 Hz range, wide enough to see pitch at 1/3 or 3x its value.
* **harmonic peak**: in each voiced frame, the peak of the spectral envelope
  around the strongest harmonic above the fundamental (interpolated between
  harmonics), a stand-in for the first formant, which is set by the length of
  the vocal tract: about 300-550 Hz in adult speech. It differs by only ~15 %
  between men and women, so a man's voice declared at twice its rate, whose
  pitch is a woman's, still has a harmonic peak twice too high.
* **syllable rhythm**: the loudness-modulation spectrum. In connected speech
  about half of the modulation (0.8-25 Hz, per octave) lies at syllable rates,
  2.5-8 Hz; at a wrong rate the syllable rhythm moves out of that band.

Each candidate true rate (1/3, 1/2, 2 and 3 times the declared rate, and the
declared rate itself) rescales the cues; the check scores how typical of
speech they are at each candidate (Gaussian log-likelihoods in log frequency;
pitch and harmonic peak jointly, for a man's, a woman's or a child's voice;
the rhythm cue is capped so that a pause-heavy or very fast talker cannot
decide alone) and compares the best candidate with the declared rate.
The **bandwidth** of the content is a fourth cue: no candidate may imply speech
narrower than a telephone channel (3 kHz) when the audio holds more. A prior
favours candidates that are standard rates (8, 11.025, 12, 16, 22.05, 24, 32,
44.1, 48, 88.2, 96 kHz): recordings are made at those.

The evidence is the log-likelihood ratio of the best other rate over the
declared one, read on Jeffreys' scale: "substantial" (odds above 3.2:1,
`POSSIBLE_LLR`) makes a "possibly" warning, "decisive" (odds above 100:1,
`DECISIVE_LLR`, with enough voiced speech) makes an error.

All analysis is bounded: at most `MAX_ANALYSED_SECONDS` of audio (evenly
spaced excerpts of longer clips) is resampled to 16 kHz for the pitch
tracker, so one hour of audio costs about as much as 40 seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from voicelab.audio.analysis import SpeechCues
from voicelab.audio.clip import Clip

__all__ = ["FACTORS", "MAX_ANALYSED_SECONDS", "MIN_VOICED_SECONDS", "check_rate_label"]

#: Candidate true rate / declared rate besides 1.
FACTORS: tuple[float, ...] = (1 / 3, 1 / 2, 2.0, 3.0)
#: Seconds of audio analysed at most (longer clips: evenly spaced excerpts).
MAX_ANALYSED_SECONDS = 40.0
_EXCERPT_SECONDS = 5.0
#: Voiced speech needed for any verdict, and for a decisive one (seconds).
MIN_VOICED_SECONDS = 1.0
DECISIVE_VOICED_SECONDS = 1.5
#: Log-likelihood ratio (nats) in favour of another rate needed to say "possibly" (Jeffreys: substantial,
#: odds > 10**0.5) and to be decisive (odds > 100).
POSSIBLE_LLR = math.log(10**0.5)
DECISIVE_LLR = math.log(100.0)

_ANALYSIS_RATE = 16000
_HOP = 160  # 10 ms at the analysis rate
_F0_RANGE = (20.0, 1600.0)
_STANDARD_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
_TRUE_RATE_RANGE = (7000.0, 100000.0)  # candidate true rates outside this are not considered
_OFF_STANDARD_PRIOR = math.log(0.1)  # log prior of a candidate true rate that is no standard rate

# Typical values of the cues in speech at the right rate, as (centre, spread of the natural log).
# Kinds of voice as (prior weight, pitch Hz, harmonic peak Hz): men, women, children. Pitch and harmonic
# peak go together (a child's shorter vocal tract and higher pitch), so they are scored jointly per kind;
# spreads are of the natural log. A man's voice at twice its rate has a woman's or a child's pitch, but a
# harmonic peak twice a man's, well above a woman's and above a child's.
_VOICES = (("man", 0.45, 120.0, 420.0), ("woman", 0.45, 210.0, 420.0), ("child", 0.1, 290.0, 570.0))
_PITCH_SPREAD = 0.2
_HARMONIC_PEAK_SPREAD = 0.15
# Share of the loudness modulation (0.8-25 Hz, per-octave power) at syllable rates, 2.5-8 Hz: about
# half or more in connected speech at its rate; at a wrong rate the syllable rhythm moves out of the band.
_SYLLABLE_SHARE = (0.55, 0.08)  # below this centre counts against a rate (one-sided), in units of the spread
_SYLLABLE_BAND = (2.5, 8.0)
_MODULATION_BAND = (0.8, 25.0)
_CAP = 9.0  # a pause-heavy or a very fast talker moves the rhythm cue, so it counts for at most 3 spreads
_HARMONIC_FRAME_PERIODS = 6  # harmonic analysis frames span this many median pitch periods
_MIN_SPEECH_BANDWIDTH = 3000.0  # Hz: narrower than a telephone channel is not speech as recorded


@dataclass(frozen=True)
class _Measured:
    pitch: float
    pitch_spread: float
    voiced_seconds: float
    voiced_share: float
    harmonic_peak: float
    # per candidate factor: (modulation centre in true-time Hz, syllable-band share)
    syllable: dict[float, tuple[float, float]]


def _mono(clip: Clip) -> npt.NDArray[np.float32]:
    s = clip.samples
    x = s if s.ndim == 1 else s.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def _excerpts(x: npt.NDArray[np.float32], rate: int) -> list[npt.NDArray[np.float32]]:
    """The whole clip when short, else evenly spaced excerpts adding up to `MAX_ANALYSED_SECONDS`."""
    if len(x) <= MAX_ANALYSED_SECONDS * rate:
        return [x]
    n = round(_EXCERPT_SECONDS * rate)
    count = int(MAX_ANALYSED_SECONDS / _EXCERPT_SECONDS)
    starts = np.linspace(0, len(x) - n, count).astype(np.int64)
    return [x[s : s + n] for s in starts]


def _pitch_track(x: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    """F0 every 10 ms (0 = unvoiced), RAPT at 16 kHz over 20-1600 Hz."""
    import pysptk  # imported here: only the rate check needs it (and it pulls in scipy)

    y = x if rate == _ANALYSIS_RATE else soxr.resample(x, rate, _ANALYSIS_RATE, quality="LQ")
    y = np.ascontiguousarray(y * np.float32(32767.0), dtype=np.float32)
    if len(y) < 4 * _ANALYSIS_RATE * 0.1:
        return np.zeros(0)
    try:
        f0 = pysptk.rapt(y, _ANALYSIS_RATE, _HOP, min=_F0_RANGE[0], max=_F0_RANGE[1], voice_bias=0.0, otype="f0")
    except (ValueError, RuntimeError):  # input too short or flat for get_f0
        return np.zeros(0)
    return np.asarray(f0, dtype=np.float64)


def _harmonic_peak(
    x: npt.NDArray[np.float32], rate: int, f0: npt.NDArray[np.float64], pitch: float, *, frames: int = 300
) -> float:
    """Median spectral-envelope peak at the strongest harmonic above the fundamental (Hz, declared scale).

    Frames span `_HARMONIC_FRAME_PERIODS` pitch periods, so the analysis is the same at every candidate rate.
    """
    n = max(16, round(_HARMONIC_FRAME_PERIODS * rate / pitch))  # pitch-relative: the same at every candidate rate
    centres = (np.flatnonzero(f0 > 0) * (_HOP / _ANALYSIS_RATE) * rate).astype(np.int64) + rate // 200
    keep = (centres >= n // 2) & (centres + n // 2 <= len(x))
    idx = np.flatnonzero(keep)
    if len(idx) < 10:
        return float("nan")
    if len(idx) > frames:
        idx = idx[np.linspace(0, len(idx) - 1, frames).astype(np.int64)]
    c = centres[idx]
    f0v = f0[f0 > 0][idx]
    seg = x[(c - n // 2)[:, None] + np.arange(n)[None, :]] * np.hanning(n).astype(np.float32)
    power = np.abs(np.fft.rfft(seg, axis=1)) ** 2
    numbers = np.arange(1, 32)
    harmonics = f0v[:, None] * numbers[None, :]
    bins = np.clip(np.rint(harmonics * n / rate).astype(np.int64), 1, power.shape[1] - 2)
    rows = np.arange(len(c))[:, None]
    amp = np.maximum(np.maximum(power[rows, bins - 1], power[rows, bins]), power[rows, bins + 1])
    level = np.log(np.maximum(amp, 1e-30))
    # candidates: harmonics 2-30 below 0.45 x rate (the fundamental and 31st are only neighbours)
    valid = (harmonics < 0.45 * rate) & (numbers >= 2) & (numbers <= 30)
    best = np.argmax(np.where(valid, level, -np.inf), axis=1)
    i = np.arange(len(c))
    ok = valid[i, best] & (amp[i, best] > 0)
    if np.count_nonzero(ok) < 10:
        return float("nan")
    # parabolic interpolation of the log level over the neighbouring harmonics: the envelope's peak
    lo, mid, hi = level[i, best - 1], level[i, best], level[i, np.minimum(best + 1, len(numbers) - 1)]
    curve = lo - 2 * mid + hi
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curve < 0, 0.5 * (lo - hi) / curve, 0.0)
    peak = (numbers[best] + np.clip(offset, -0.5, 0.5)) * f0v
    return float(np.median(peak[ok]))


def _syllable_rhythm(
    parts: list[npt.NDArray[np.float32]], rate: int, factors: tuple[float, ...]
) -> dict[float, tuple[float, float]]:
    """Loudness-modulation spectrum in true time, for each candidate factor.

    Returns:
        {factor: (centre in Hz of the 1-32 Hz band, share of 0.8-25 Hz that lies in the syllable band
        2.5-8 Hz)}, both per-octave power; NaN when the audio is too short.
    """
    sums = [np.concatenate(([0.0], np.cumsum(np.square(p, dtype=np.float64)))) for p in parts]
    out: dict[float, tuple[float, float]] = {}
    for k in factors:
        true_rate = rate * k
        n = max(2, round(0.03 * true_rate))  # 30 ms windows of true time
        hop = max(1, n // 3)
        envs = []
        for c in sums:
            m = (len(c) - 1 - n) // hop + 1
            if m < 16:
                continue
            starts = np.arange(m) * hop
            envs.append(10 * np.log10(np.maximum((c[starts + n] - c[starts]) / n, 1e-12)))
        if not envs:
            out[k] = (float("nan"), float("nan"))
            continue
        top = float(np.percentile(np.concatenate(envs), 99))
        size = 1 << max(12, math.ceil(math.log2(2 * max(len(e) for e in envs))))
        spec = np.zeros(size // 2 + 1)
        for e in envs:
            e = np.clip(e, top - 35.0, None)
            e = e - e.mean()
            spec += np.abs(np.fft.rfft(e * np.hanning(len(e)), size)) ** 2
        freqs = np.fft.rfftfreq(size, hop / true_rate)
        w = spec * freqs  # power per octave
        band = (freqs >= 1.0) & (freqs <= 32.0)
        total = float(np.sum(w[band]))
        centre = float(np.exp(np.sum(np.log(freqs[band]) * w[band]) / total)) if total > 0 else float("nan")
        wide = float(np.sum(w[(freqs >= _MODULATION_BAND[0]) & (freqs < _MODULATION_BAND[1])]))
        syllabic = float(np.sum(w[(freqs >= _SYLLABLE_BAND[0]) & (freqs < _SYLLABLE_BAND[1])]))
        out[k] = (centre, syllabic / wide if wide > 0 else float("nan"))
    return out


def _z2(value: float, centre: float, spread: float) -> float:
    return float((math.log(value / centre) / spread) ** 2)


def _score(m: _Measured, k: float, bandwidth: float | None) -> tuple[float, dict[str, float], str]:
    """How typical of speech the cues are if the true rate is k x declared.

    Returns:
        The log-likelihood (nats, up to a constant), each cue's share of it (pitch and harmonic
        peak for the likeliest kind of voice), and that kind of voice.
    """
    peak = m.harmonic_peak * k if math.isfinite(m.harmonic_peak) else None
    kinds = []
    for name, weight, f0, h in _VOICES:
        pitch_ll = -0.5 * _z2(m.pitch * k, f0, _PITCH_SPREAD)
        peak_ll = -0.5 * _z2(peak, h, _HARMONIC_PEAK_SPREAD) if peak else 0.0
        kinds.append((math.log(weight) + pitch_ll + peak_ll, name, pitch_ll, peak_ll))
    voice_ll = float(np.logaddexp.reduce([c[0] for c in kinds]))
    _, kind, pitch_ll, peak_ll = max(kinds)
    terms = {"pitch": pitch_ll}
    if peak:
        terms["harmonic_peak"] = peak_ll
    total = voice_ll
    share = m.syllable.get(k, (float("nan"), float("nan")))[1]
    if math.isfinite(share):
        centre, spread = _SYLLABLE_SHARE
        terms["syllable_rhythm"] = -0.5 * min((min(share - centre, 0.0) / spread) ** 2, _CAP)
        total += terms["syllable_rhythm"]
    if bandwidth and k < 1 and bandwidth * k < _MIN_SPEECH_BANDWIDTH <= bandwidth:
        terms["bandwidth"] = -0.5 * min(_z2(bandwidth * k, _MIN_SPEECH_BANDWIDTH, 0.15), _CAP)
        total += terms["bandwidth"]
    return total, terms, kind


def _is_standard(rate: float) -> bool:
    return any(abs(rate / r - 1) < 0.005 for r in _STANDARD_RATES)


def _nearest_standard(rate: float) -> int:
    best = min(_STANDARD_RATES, key=lambda r: abs(math.log(r / rate)))
    return best if abs(math.log(best / rate)) < 0.03 else round(rate)


def _unknown(reason: str, **measured: Any) -> SpeechCues:
    base: dict[str, Any] = {
        "voiced_seconds": 0.0, "pitch_hz": float("nan"), "harmonic_peak_hz": float("nan"),
        "syllable_rate_hz": float("nan"), "bandwidth_hz": None,
    }
    base.update(measured)
    return SpeechCues(verdict="unknown", rate_factor=1.0, likely_samplerate=None, confidence=0.0,
                      likely_rate_confidence=0.0, log_likelihood_ratio=0.0, reason=reason, cues={}, **base)


def check_rate_label(clip: Clip, *, bandwidth_hz: float | None = None) -> SpeechCues | None:
    """Judge whether a clip's declared sample rate is the rate its speech was recorded at.

    Args:
        clip: Any clip; multichannel clips are mixed to mono.
        bandwidth_hz: The content's effective bandwidth (``measure_levels(clip).bandwidth_hz``)
            if known; it lets the check rule out rates that would make speech narrower than 3 kHz.

    Returns:
        The cues and the verdict (``consistent``, ``possible_mismatch``, ``mismatch`` or
        ``unknown`` with the reason), or ``None`` for an empty or all-zero clip.
    """
    rate = clip.samplerate
    x = _mono(clip)
    if len(x) == 0 or not np.any(x):
        return None
    x = x - np.float32(np.mean(x))
    parts = _excerpts(x, rate)
    y = np.concatenate(parts) if len(parts) > 1 else parts[0]
    f0 = _pitch_track(y, rate)
    voiced = f0 > 0
    voiced_s = float(np.count_nonzero(voiced)) * _HOP / _ANALYSIS_RATE  # declared-rate seconds
    # Voiced time scales with the candidate rate too (audio declared at 3x its rate lasts a third as
    # long), so the minimum is checked at the rate the verdict is about.
    if voiced_s * max(1.0, *(1 / k for k in FACTORS)) < MIN_VOICED_SECONDS:
        return _unknown(f"only {voiced_s:.1f} s of voiced speech ({MIN_VOICED_SECONDS:.0f} s needed)",
                        voiced_seconds=voiced_s, bandwidth_hz=bandwidth_hz)
    v = f0[voiced]
    pitch = float(np.median(v))
    spread = float(np.log(np.percentile(v, 90) / np.percentile(v, 10)))
    share = float(np.mean(voiced))
    if share > 0.95 or spread < 0.05:
        return _unknown(f"a steady tone rather than speech (pitch {pitch:.0f} Hz varies by {spread:.0%}, "
                        f"voiced {share:.0%} of the time)", voiced_seconds=voiced_s, pitch_hz=pitch,
                        bandwidth_hz=bandwidth_hz)
    factors = tuple(k for k in FACTORS if _TRUE_RATE_RANGE[0] <= rate * k <= _TRUE_RATE_RANGE[1])
    m = _Measured(
        pitch=pitch, pitch_spread=spread, voiced_seconds=voiced_s, voiced_share=share,
        harmonic_peak=_harmonic_peak(y, rate, f0, pitch),
        syllable=_syllable_rhythm(parts, rate, (1.0, *factors)),
    )
    scores = {k: _score(m, k, bandwidth_hz) for k in (1.0, *factors)}
    # Recordings are made at standard rates: a candidate that is not one is 10x less likely a priori.
    prior = {k: 0.0 if _is_standard(rate * k) else _OFF_STANDARD_PRIOR for k in scores}
    scores = {k: (s[0] + prior[k], s[1], s[2]) for k, s in scores.items()}
    lls = np.array([s[0] for s in scores.values()])
    post = np.exp(lls - np.logaddexp.reduce(lls))
    keys = list(scores)
    others = [k for k in keys if k != 1.0]
    best = max(others, key=lambda k: scores[k][0]) if others else 1.0
    llr = scores[best][0] - scores[1.0][0] if others else -math.inf
    reason = "" if others else "no other plausible rate"
    if llr >= POSSIBLE_LLR and voiced_s / best >= MIN_VOICED_SECONDS:
        decisive = llr >= DECISIVE_LLR and voiced_s / best >= DECISIVE_VOICED_SECONDS
        verdict = "mismatch" if decisive else "possible_mismatch"
        factor, confidence = best, 1.0 - float(post[keys.index(1.0)])
    elif voiced_s >= MIN_VOICED_SECONDS:
        verdict, factor, confidence = "consistent", 1.0, float(post[keys.index(1.0)])
    else:
        verdict, factor, confidence = "unknown", 1.0, 0.0
        reason = f"only {voiced_s:.1f} s of voiced speech ({MIN_VOICED_SECONDS:.0f} s needed)"
    cues: dict[str, dict[str, Any]] = {}
    for k, (ll, terms, kind) in scores.items():
        entry: dict[str, Any] = {
            "samplerate": round(rate * k), "log_likelihood": round(ll, 3), "voice": kind,
            "pitch_hz": round(pitch * k, 1), "harmonic_peak_hz": round(m.harmonic_peak * k, 1),
            "syllable_rate_hz": round(m.syllable.get(k, (float("nan"),) * 2)[0], 2),
            "syllable_share": round(m.syllable.get(k, (float("nan"),) * 2)[1], 3),
        }
        entry.update({f"ll_{name}": round(t, 3) for name, t in terms.items()})
        cues[f"{k:.4g}"] = entry
    return SpeechCues(
        verdict=verdict,
        rate_factor=factor,
        likely_samplerate=_nearest_standard(rate * factor) if verdict != "unknown" else None,
        confidence=confidence,
        likely_rate_confidence=float(post[keys.index(factor)]),
        log_likelihood_ratio=float(llr) if math.isfinite(llr) else 0.0,
        reason=reason,
        voiced_seconds=voiced_s,
        pitch_hz=pitch,
        harmonic_peak_hz=m.harmonic_peak,
        syllable_rate_hz=m.syllable.get(1.0, (float("nan"),) * 2)[0],
        bandwidth_hz=bandwidth_hz,
        cues=cues,
    )
