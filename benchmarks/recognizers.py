"""Benchmark the emulator's offline recognizers: accuracy, speed, latency and capacity.

Run from the repository root::

    .venv/bin/python benchmarks/recognizers.py                 # both engines, all files
    .venv/bin/python benchmarks/recognizers.py --engine sphinx --no-capacity

Per engine it prints ``ratio`` lines (real-time factor, WER) and ``figures``
lines (latencies in seconds, P50/P90/max and n).

Method (a discrete-event simulation of real-time streaming, with real decode
costs): every file of ``data/manifest.json`` (speech/*_16k and the human
recording) is cut into 0.1 s chunks. Chunk k *arrives* at wall time
``(k + 1) * 0.1`` s; the engine starts it when the chunk has arrived and the
previous chunk is done, and the wall time ``accept()`` really takes (monotonic
clock) is how long it stays busy. Each event is *emitted* when its
``accept()`` returns. ``now`` passed to the stream is the arrival time. So an
engine that is slower than real time falls behind, exactly as it would with
a real-time sender, without sleeping through the audio.

- first partial after speech onset: for each reference sentence, emission
  time of the first Partial whose audio reaches past the sentence start,
  minus the sentence start.
- final after speech end: for each reference sentence followed by at least
  0.7 s of silence (so an endpointer can end it) or ending the file,
  emission time of the first Final whose end is at or after the sentence end
  (less 0.3 s), minus the sentence end.
- throughput: N sessions in N threads fed as fast as they go; audio seconds
  decoded per wall second bounds how many real-time sessions fit.
- capacity: N sessions in N threads, each sending one file in real time
  (sleeping until each chunk is due), sharing one recognizer. Lateness is when
  ``accept()`` returns minus when its chunk was complete. N sessions keep up
  when the median lateness is under 0.25 s and the 90th percentile under 1 s
  (whisper's finals cause spikes that it then catches up on); the result is
  the largest N tried where they keep up.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voicelab.emulator.recognizers import (  # noqa: E402
    Final,
    Partial,
    Recognizer,
    RecognizerEvent,
    get_recognizer,
)

CHUNK = 0.1


@dataclass
class Run:
    """One file streamed through one engine."""

    file_id: str
    duration: float
    busy: float = 0.0
    events: list[tuple[float, RecognizerEvent]] = field(default_factory=list)


def normalise(text: str) -> str:
    """Lowercase, drop punctuation, squeeze spaces (the WER normaliser)."""
    kept = "".join(c if c.isalnum() or c in " '" else " " for c in text.lower().replace("—", " "))
    return " ".join(kept.replace("'", "").split())


def simulate(
    recognizer: Recognizer, samples: np.ndarray, samplerate: int, *, word_times: bool = False
) -> Run:
    """Stream ``samples`` in real time (simulated clock, real decode costs) and record emissions."""
    run = Run("", len(samples) / samplerate)
    step = int(round(CHUNK * samplerate))
    free = 0.0
    with recognizer.open(samplerate=samplerate, word_times=word_times) as stream:
        for k, i in enumerate(range(0, len(samples), step)):
            arrival = (k + 1) * CHUNK
            begin = max(arrival, free)
            t0 = time.monotonic()
            events = stream.accept(samples[i : i + step], now=arrival)
            cost = time.monotonic() - t0
            run.busy += cost
            free = begin + cost
            run.events.extend((free, e) for e in events)
        t0 = time.monotonic()
        events = stream.flush(now=run.duration)
        cost = time.monotonic() - t0
        run.busy += cost
        free = max(free, run.duration) + cost
        run.events.extend((free, e) for e in events)
    return run


def percentiles(values: list[float]) -> str:
    """``P50/P90/max (n)`` of ``values`` in seconds."""
    if not values:
        return "n=0"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return (
        f"p50 {statistics.median(ordered):.2f} s, p90 {p90:.2f} s, max {ordered[-1]:.2f} s (n={len(ordered)})"
    )


def latencies(run: Run, sentences: list[dict[str, float]]) -> tuple[list[float], list[float]]:
    """First-partial-after-onset and final-after-end latencies for one run."""
    partial_lat: list[float] = []
    final_lat: list[float] = []
    for n, sentence in enumerate(sentences):
        start, end = float(sentence["start"]), float(sentence["end"])
        emitted = [t for t, e in run.events if isinstance(e, Partial) and e.audio_end > start + 0.05]
        if emitted:
            partial_lat.append(emitted[0] - start)
        gap = float(sentences[n + 1]["start"]) - end if n + 1 < len(sentences) else 99.0
        if gap >= 0.7:
            finals = [t for t, e in run.events if isinstance(e, Final) and e.end >= end - 0.3]
            if finals:
                final_lat.append(finals[0] - end)
    return partial_lat, final_lat


def _cpu_seconds() -> float:
    """CPU seconds used by this process and its live children (the sphinx worker processes)."""
    try:
        import psutil
    except ImportError:
        return time.process_time()
    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def capacity(recognizer: Recognizer, samples: np.ndarray, samplerate: int, counts: list[int]) -> list[str]:
    """Run N concurrent real-time sessions for each N in ``counts``; return one line per N."""
    lines = []
    step = int(round(CHUNK * samplerate))
    for n in counts:
        lateness: list[list[float]] = [[] for _ in range(n)]
        ready = threading.Barrier(n + 1)

        def session(
            index: int, lateness: list[list[float]] = lateness, ready: threading.Barrier = ready
        ) -> None:
            with recognizer.open(samplerate=samplerate) as stream:
                ready.wait()  # every stream is open (decoders made) before the clock starts
                ready.wait()
                t0 = time.monotonic()
                for k, i in enumerate(range(0, len(samples), step)):
                    due = t0 + (k + 1) * CHUNK  # the chunk is complete (sent) at this time
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    stream.accept(samples[i : i + step], now=time.monotonic())
                    lateness[index].append(time.monotonic() - due)
                stream.flush(now=time.monotonic())

        threads = [threading.Thread(target=session, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        ready.wait()
        cpu0 = _cpu_seconds()
        wall0 = time.monotonic()
        ready.wait()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - wall0
        cpu = _cpu_seconds() - cpu0
        pooled = sorted(x for session_lateness in lateness for x in session_lateness)
        median, p90 = statistics.median(pooled), pooled[int(0.9 * (len(pooled) - 1))]
        ok = median < 0.25 and p90 < 1.0
        lines.append(
            f"figures capacity {n} sessions: chunk lateness p50 {median:.2f} s, p90 {p90:.2f} s, "
            f"max {pooled[-1]:.2f} s; CPU {cpu / wall:.2f} cores; {'keeps up' if ok else 'FALLS BEHIND'}"
        )
        print(lines[-1], flush=True)
        if not ok:
            break
    return lines


def throughput(recognizer: Recognizer, samples: np.ndarray, samplerate: int, sessions: int) -> str:
    """Feed ``sessions`` streams as fast as they go (threads); return the real-time streams they sustain.

    The audio seconds decoded per wall second is an upper bound on how many real-time sessions
    fit; unlike `capacity` it does not depend on scheduling jitter (but still on other load).
    """
    step = int(round(CHUNK * samplerate))
    ready = threading.Barrier(sessions + 1)

    def session() -> None:
        with recognizer.open(samplerate=samplerate) as stream:
            ready.wait()
            ready.wait()
            for i in range(0, len(samples), step):
                stream.accept(samples[i : i + step], now=(i + step) / samplerate)
            stream.flush(now=len(samples) / samplerate)

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu0, wall0 = _cpu_seconds(), time.monotonic()
    ready.wait()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - wall0
    cpu = _cpu_seconds() - cpu0
    audio = sessions * len(samples) / samplerate
    line = (
        f"ratio throughput {sessions} sessions flat out: {audio / wall:.1f} s of audio per s "
        f"(= real-time sessions that fit), CPU {cpu / wall:.2f} cores, {cpu / audio:.3f} CPU s per audio s"
    )
    print(line, flush=True)
    return line


def main() -> None:
    """Run the benchmark and print ratio/figures lines."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engine", choices=["whisper", "sphinx"], action="append")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "manifest.json")
    parser.add_argument("--no-capacity", action="store_true")
    parser.add_argument("--word-times", action="store_true", help="ask finals for word times")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import jiwer

    manifest = json.loads(args.manifest.read_text())
    files = [
        f
        for f in manifest["files"]
        if (f["kind"] == "speech" and f["samplerate"] == 16000) or f["kind"] == "human"
    ]
    for engine in args.engine or ["whisper", "sphinx"]:
        t0 = time.monotonic()
        recognizer = get_recognizer(engine)
        print(f"figures {engine} load {time.monotonic() - t0:.2f} s", flush=True)
        groups: dict[str, dict[str, list[Any]]] = {}
        for entry in files:
            samples, rate = sf.read(args.manifest.parent / entry["path"], dtype="float32")
            run = simulate(recognizer, samples, rate, word_times=args.word_times)
            hyp = " ".join(e.text for _, e in run.events if isinstance(e, Final))
            ref = entry["transcript"]
            wer = jiwer.wer(normalise(ref), normalise(hyp)) if normalise(hyp) else 1.0
            part, fin = latencies(run, entry["sentences"])
            n_final = sum(isinstance(e, Final) for _, e in run.events)
            print(
                f"ratio {engine} {entry['id']}: RTF {run.busy / run.duration:.3f}, WER {wer:.3f}, "
                f"{n_final} finals for {len(entry['sentences'])} {entry.get('sentence_unit', 'sentence')}s",
                flush=True,
            )
            group = groups.setdefault(
                entry["kind"], {"busy": [], "dur": [], "ref": [], "hyp": [], "p": [], "f": []}
            )
            group["busy"].append(run.busy)
            group["dur"].append(run.duration)
            group["ref"].append(normalise(ref))
            group["hyp"].append(normalise(hyp))
            group["p"].extend(part)
            group["f"].extend(fin)
        for kind, group in groups.items():
            wer = jiwer.wer(group["ref"], group["hyp"])
            print(
                f"ratio {engine} {kind} set: RTF {sum(group['busy']) / sum(group['dur']):.3f}, WER {wer:.3f}"
            )
            print(f"figures {engine} {kind} first partial after onset: {percentiles(group['p'])}")
            print(f"figures {engine} {kind} final after speech end: {percentiles(group['f'])}", flush=True)
        if not args.no_capacity:
            entry = next((f for f in files if f["id"] == "s03_meeting"), files[0])
            samples, rate = sf.read(args.manifest.parent / entry["path"], dtype="float32")
            if engine == "whisper":
                throughput(recognizer, samples, rate, 2)
                capacity(recognizer, samples, rate, [1, 2, 3])
            else:
                print("figures sphinx, decoders in this process (processes=0):", flush=True)
                throughput(recognizer, samples, rate, 4)
                capacity(recognizer, samples, rate, [1, 4, 6, 8])
                print("figures sphinx, decoders in 2 worker processes (processes=2):", flush=True)
                remote = get_recognizer("sphinx", processes=2)
                throughput(remote, samples, rate, 8)
                capacity(remote, samples, rate, [6, 8, 10, 12, 14])
                remote.close()


if __name__ == "__main__":
    main()
