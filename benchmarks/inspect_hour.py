"""Benchmark: inspect() on one hour of 16 kHz speech.

Baseline, run in the same process: one plain numpy pass computing peak and
RMS over the same samples (the least any level meter must do). Prints the
ratio and the absolute time against the target (< 3 s on this machine).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import voicelab as vl  # noqa: E402


def best_of(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    speech = vl.load(root / "data" / "speech" / "s05_asr_16k.flac")
    reps = int(np.ceil(3600 / speech.duration))
    hour = vl.Clip(np.tile(speech.samples, reps)[: 3600 * 16000], samplerate=16000)
    x = hour.samples

    def baseline() -> None:
        float(np.max(np.abs(x)))
        float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))

    t_base = best_of(3, baseline)
    t_insp = best_of(3, lambda: vl.inspect(hour, target="pulse"))
    report = vl.inspect(hour, target="pulse")
    print(f"inspect() on {hour.duration / 3600:.1f} h of 16 kHz audio: {t_insp:.2f} s (target < 3 s); "
          f"baseline peak+RMS pass {t_base:.2f} s; ratio {t_insp / t_base:.1f}x the baseline; "
          f"findings {report.codes}")


if __name__ == "__main__":
    main()
