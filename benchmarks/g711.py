"""G.711 encode+decode speed: voicelab's numpy lookup tables against CPython's ``audioop``.

Runs 10 minutes of 16 kHz int16 audio (9.6 M samples) through encode then decode for both
laws, in the same process, best of N runs each, starting and ending with bytes on both sides.
The ratio is audioop time / voicelab time, so > 1 means voicelab is faster.

Usage: ``.venv/bin/python benchmarks/g711.py [--runs N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from voicelab.audio import g711  # noqa: E402

if sys.version_info >= (3, 13):
    import audioop  # from the audioop-lts package
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

SECONDS = 600
RATE = 16000


def best_of(runs: int, func: Callable[[], bytes]) -> tuple[float, bytes]:
    """Return the fastest wall time in seconds over ``runs`` calls and the last result."""
    best, out = float("inf"), b""
    for _ in range(runs):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    """Time both laws and print one ratio line per law."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per implementation (best is kept)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    t = np.arange(SECONDS * RATE) / RATE
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x += 0.05 * rng.standard_normal(t.size)
    pcm = np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()
    print(f"input: {SECONDS} s of {RATE} Hz int16 ({len(pcm) / 1e6:.1f} MB), best of {args.runs} runs")

    laws = {
        "alaw": (g711.int16_to_alaw, g711.alaw_to_int16, audioop.lin2alaw, audioop.alaw2lin),
        "mulaw": (g711.int16_to_mulaw, g711.mulaw_to_int16, audioop.lin2ulaw, audioop.ulaw2lin),
    }
    for law, (enc, dec, a_enc, a_dec) in laws.items():

        def ours(enc: Callable[..., np.ndarray] = enc, dec: Callable[..., np.ndarray] = dec) -> bytes:
            return bytes(dec(enc(np.frombuffer(pcm, dtype="<i2")).tobytes()).tobytes())

        def theirs(a_enc: Callable[..., bytes] = a_enc, a_dec: Callable[..., bytes] = a_dec) -> bytes:
            return a_dec(a_enc(pcm, 2), 2)

        t_ours, out_ours = best_of(args.runs, ours)
        t_theirs, out_theirs = best_of(args.runs, theirs)
        same = "bit-exact" if out_ours == out_theirs else "MISMATCH"
        print(
            f"g711 {law} encode+decode: voicelab {t_ours:.3f} s, audioop {t_theirs:.3f} s, "
            f"ratio {t_theirs / t_ours:.2f}x (target >= 0.5x), {same}"
        )


if __name__ == "__main__":
    main()
