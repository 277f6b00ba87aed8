"""Resampler speed and accuracy: soxr (voicelab's resampler, HQ and VHQ) against scipy's resample_poly.

Speed: 10 minutes of float32 audio, 48 kHz -> 16 kHz and 16 kHz -> 24 kHz, best of N runs.
The ratio is scipy time / soxr time, so > 1 means soxr is faster.

Accuracy, so the comparison is fair (1 s test tones at -6 dBFS, middle 0.5 s measured):

* passband: a tone at 0.1 and at 0.9 of the output Nyquist frequency; the gain error in dB and
  the residual after least-squares fitting the ideal tone (dB below the tone; images,
  aliases and ripple all count).
* stopband (48k -> 16k only): a tone at 1.25 x the output Nyquist frequency, which must be
  removed; its alias level in dB re the input tone.

Usage: ``.venv/bin/python benchmarks/resample.py [--runs N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from math import gcd

import numpy as np
import soxr
from scipy.signal import resample_poly

SECONDS = 600
CASES = ((48000, 16000), (16000, 24000))


def _methods(rate_in: int, rate_out: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    return {
        "soxr HQ": lambda x: soxr.resample(x, rate_in, rate_out, quality="HQ"),
        "soxr VHQ": lambda x: soxr.resample(x, rate_in, rate_out, quality="VHQ"),
        "scipy resample_poly": lambda x: resample_poly(x, up, down).astype(np.float32),
    }


def best_of(runs: int, func: Callable[[], object]) -> float:
    """Fastest wall time in seconds over ``runs`` calls."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def tone_fit(y: np.ndarray, freq: float, rate: int) -> tuple[float, float]:
    """Amplitude of ``freq`` in the middle half of ``y`` and the residual RMS after removing it."""
    n = y.size
    seg = slice(n // 4, 3 * n // 4)
    t = np.arange(n)[seg] / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y[seg].astype(np.float64), rcond=None)
    residual = y[seg] - basis @ coef
    return float(np.hypot(*coef)), float(np.sqrt(np.mean(residual**2)))


def accuracy(name: str, func: Callable[[np.ndarray], np.ndarray], rate_in: int, rate_out: int) -> str:
    """One line of passband and stopband figures for one method."""
    amp = 0.5
    t = np.arange(rate_in) / rate_in
    nyq = min(rate_in, rate_out) / 2
    parts = []
    for frac in (0.1, 0.9):
        freq = frac * nyq
        y = func((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32))
        a, r = tone_fit(y, freq, rate_out)
        parts.append(
            f"{freq / 1000:.1f} kHz gain {20 * np.log10(a / amp):+.4f} dB, "
            f"residual {20 * np.log10(max(r, 1e-12) / (a / np.sqrt(2))):.0f} dB"
        )
    if rate_out < rate_in:
        freq = 1.25 * nyq
        y = func((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32))
        n = y.size
        rms = np.sqrt(np.mean(y[n // 4 : 3 * n // 4].astype(np.float64) ** 2))
        alias_db = 20 * np.log10(max(rms, 1e-12) / (amp / np.sqrt(2)))
        parts.append(f"{freq / 1000:.0f} kHz alias {alias_db:.0f} dB")
    return f"  {name:<20} " + "; ".join(parts)


def main() -> None:
    """Print speed lines then accuracy lines for each rate pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per method (best is kept)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for rate_in, rate_out in CASES:
        x = (0.1 * rng.standard_normal(SECONDS * rate_in)).astype(np.float32)
        methods = _methods(rate_in, rate_out)
        times = {name: best_of(args.runs, lambda f=f, x=x: f(x)) for name, f in methods.items()}
        ref = times["scipy resample_poly"]
        print(f"resample {rate_in} -> {rate_out} Hz, {SECONDS} s float32 mono, best of {args.runs} runs:")
        for name, secs in times.items():
            print(f"  {name:<20} {secs:.3f} s, ratio vs scipy {ref / secs:.2f}x")
        print("  accuracy (-6 dBFS tones):")
        for name, f in methods.items():
            print(accuracy(name, f, rate_in, rate_out))


if __name__ == "__main__":
    main()
