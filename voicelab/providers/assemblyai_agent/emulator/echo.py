"""Echo check: is the "user" audio just the agent hearing itself?

Seed symptom: "agent interrupts itself" (AssemblyAI's troubleshooting page names the cause: the
agent's audio loops back into the microphone [DOC]
https://www.assemblyai.com/docs/voice-agents/voice-agent-api/troubleshooting).

Without echo cancellation the agent's TTS leaks from the speaker into the microphone a few tens
to hundreds of milliseconds later, so barge-in detection fires on the agent's own voice. The check
here compares the captured audio with the agent audio that was playing: the peak of the
normalised cross-correlation over lags from 0 to `max_lag_seconds` (the echo can only come
*after* the playback). Attenuation does not change the score; an echo through a speaker and room
scores lower than a pure delayed copy, but still far above unrelated speech (typically < 0.2).

Both signals are float32 (or any real array) at the same rate, mono, and share a time origin:
``captured[0]`` was recorded at the moment ``reference[round(captured_offset_seconds * rate)]``
was played.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicelab.providers.assemblyai_agent.emulator.errors import AgentOptionError

__all__ = ["EchoCheck", "detect_echo"]

_SILENT_RMS = 10 ** (-60 / 20)


@dataclass(frozen=True)
class EchoCheck:
    """Result of `detect_echo`.

    Attributes:
        is_echo: Whether `score` reached the threshold.
        score: Peak normalised cross-correlation, 0-1 (0 when either signal is silent).
        lag_seconds: Delay of the best match, in seconds (captured behind reference).
        threshold: The threshold used.
    """

    is_echo: bool
    score: float
    lag_seconds: float
    threshold: float


def _as_mono(x: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise AgentOptionError(f"{name} has shape {a.shape}; pass mono samples as a 1-D array")
    if not np.all(np.isfinite(a)):
        raise AgentOptionError(f"{name} contains NaN or infinity; clean the audio first")
    return a


def detect_echo(
    reference: npt.ArrayLike,
    captured: npt.ArrayLike,
    *,
    samplerate: int = 24000,
    max_lag_seconds: float = 0.5,
    threshold: float = 0.5,
    captured_offset_seconds: float = 0.0,
) -> EchoCheck:
    """Estimate whether `captured` (mic) audio is an echo of `reference` (agent playback).

    Args:
        reference: The agent audio that was played, mono, at `samplerate`.
        captured: The incoming user audio, mono, at `samplerate`.
        samplerate: Rate of both signals in Hz (24000 for the Voice Agent API).
        max_lag_seconds: Longest echo delay searched, in seconds (0-0.5 s covers speakers and rooms).
        threshold: Score at or above which the audio is called an echo.
        captured_offset_seconds: Reference time at which `captured` starts, in seconds.

    Returns:
        An `EchoCheck`.

    Raises:
        AgentOptionError: Arrays are not 1-D/finite, or an option is out of range.
    """
    if samplerate <= 0:
        raise AgentOptionError(f"samplerate={samplerate!r} must be a positive number of Hz")
    if max_lag_seconds < 0:
        raise AgentOptionError(f"max_lag_seconds={max_lag_seconds!r} must be >= 0 seconds")
    if not 0 < threshold <= 1:
        raise AgentOptionError(f"threshold={threshold!r} must be in (0, 1]; 0.5 is a good start")
    ref = _as_mono(reference, "reference")
    cap = _as_mono(captured, "captured")
    max_lag = round(max_lag_seconds * samplerate)
    offset = round(captured_offset_seconds * samplerate)
    none = EchoCheck(False, 0.0, 0.0, threshold)
    if len(cap) == 0 or len(ref) == 0:
        return none
    # Reference samples that could have produced captured[i] lie at offset + i - lag, lag in [0, max_lag].
    lo = offset - max_lag
    pad_front = max(0, -lo)
    seg = np.concatenate([np.zeros(pad_front), ref[max(0, lo) : max(0, offset + len(cap))]])
    seg = np.concatenate([seg, np.zeros(max(0, len(cap) + max_lag - len(seg)))])
    cap = cap - cap.mean()
    if np.sqrt(np.mean(cap**2)) < _SILENT_RMS or np.sqrt(np.mean(seg**2)) < _SILENT_RMS:
        return none
    # corr[j] = sum_i cap[i] * seg[i + j]; lag = max_lag - j.
    n = len(cap) + len(seg)
    size = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(seg, size) * np.conj(np.fft.rfft(cap, size))
    corr = np.fft.irfft(spec, size)[: max_lag + 1]
    csum = np.concatenate([[0.0], np.cumsum(seg**2)])
    j = np.arange(max_lag + 1)
    seg_energy = csum[j + len(cap)] - csum[j]
    denom = np.sqrt(seg_energy * float(np.sum(cap**2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = np.where(denom > 1e-12, corr / np.maximum(denom, 1e-12), 0.0)
    best = int(np.argmax(ncc))
    score = float(np.clip(ncc[best], 0.0, 1.0))
    return EchoCheck(score >= threshold, score, (max_lag - best) / samplerate, threshold)
