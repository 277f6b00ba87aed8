"""Benchmark: the label sniffers on clean and relabelled speech, and inspect() on one hour of audio.

Prints, for the tuned voices (data/) and the held-out voices (made here with espeak-ng and sox;
see tests/audio/ratelabel_corpus.py) stored at every standard rate, the confusion table:
clean → flagged by any mislabel sniffer (want 0) and relabelled → caught as rate_mismatch, per
factor and per voice (want ≥ 95 %), and whether any verdict depends on the stored rate.

Then times inspect() on one hour of 16 kHz speech against a baseline run in the same process:
one plain numpy pass computing peak and RMS over the same samples (as benchmarks/inspect_hour.py).
Target: < 3 s on this machine.

    .venv-test/bin/python benchmarks/rate_label.py              # everything (~2-3 min)
    .venv-test/bin/python benchmarks/rate_label.py --skip-eval  # only the 1-hour timing
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import voicelab as vl  # noqa: E402
from tests.audio import ratelabel_corpus as corpus  # noqa: E402


def best_of(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def evaluate(voices: list[corpus.Voice], title: str) -> list[corpus.Outcome]:
    t0 = time.perf_counter()
    outcomes = [corpus.run(c) for v in voices for c in corpus.cases(v)]
    print(corpus.format_table(outcomes, title))
    breaks = corpus.invariance_breaks(outcomes)
    print(f"\nVerdicts that depend on the stored rate: {breaks or 'none'}")
    floats = [corpus.run(c, encoding="float32") for v in voices for c in corpus.cases(v, factors=())]
    print(f"The clean cases as float32 bytes: flagged by any sniffer {sum(o.flagged for o in floats)}/{len(floats)}.")
    per = np.array([o.seconds for o in outcomes])
    print(f"{len(outcomes)} cases in {time.perf_counter() - t0:.1f} s; inspect() per case median "
          f"{np.median(per) * 1000:.0f} ms, max {per.max() * 1000:.0f} ms\n")
    return outcomes


def hour() -> None:
    root = Path(__file__).resolve().parents[1]
    speech = vl.load(root / "data" / "speech" / "s05_asr_16k.flac")
    reps = int(np.ceil(3600 / speech.duration))
    clip = vl.Clip(np.tile(speech.samples, reps)[: 3600 * 16000], samplerate=16000)
    x = clip.samples

    def baseline() -> None:
        float(np.max(np.abs(x)))
        float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))

    vl.inspect(clip.slice(end=10.0))  # imports and first-call set-up are not part of the hour
    t_base = best_of(3, baseline)
    t_insp = best_of(3, lambda: vl.inspect(clip, target="pulse"))
    t_cues = best_of(3, lambda: vl.audio.speech_cues(clip))
    report = vl.inspect(clip, target="pulse")
    print(f"inspect() on {clip.duration / 3600:.1f} h of 16 kHz speech: {t_insp:.2f} s (target < 3 s); "
          f"of which the rate check {t_cues:.2f} s; baseline peak+RMS pass {t_base:.2f} s; "
          f"ratio {t_insp / t_base:.1f}x the baseline; findings {report.codes}; "
          f"rate label {report.cues.verdict if report.cues else None}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-eval", action="store_true", help="only time inspect() on one hour")
    parser.add_argument("--skip-held-out", action="store_true", help="evaluate only the tuned voices (data/)")
    args = parser.parse_args()
    if not args.skip_eval:
        evaluate(corpus.tuned_voices(), "Tuned set: every voice in data/ (espeak-ng and the human recording)")
        if not args.skip_held_out:
            if not corpus.tools_available():
                print("held-out set skipped: espeak-ng and sox are needed\n")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    voices = corpus.held_out_voices(Path(tmp))
                    evaluate(voices, "Held-out set: voices not in data/ (never tuned on)")
    hour()


if __name__ == "__main__":
    main()
