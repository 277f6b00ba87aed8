"""Widget costs: bytes and milliseconds per live update, and envelope/spectrogram of one hour of audio.

* Live updates: a synthetic 10-minute Pulse session (a 50 ms chunk each step, a partial every 100 ms,
  a 12-word final every 5 s) flushed at 20 updates/s into a Timeline, a LatencyChart and an EventLog; bytes
  and milliseconds per update (target >= 20 updates/s, i.e. well under 50 ms each), and for the EventLog the
  size of its stored snapshot at the end (bounded by its row limits).
* One hour of 16 kHz noise-like audio: the envelope pyramid, and the spectrogram against
  ``scipy.signal.stft`` with the same window (Hann) and hop, in the same process.
  Targets: spectrogram <= 1 s and at least as fast as scipy (ratio = scipy time / ours).

Usage: ``.venv/bin/python benchmarks/widgets.py [--runs N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.signal import stft

from voicelab.audio.clip import Clip
from voicelab.plot.model import Envelope, SpectrogramImage
from voicelab.recording.log import Recording
from voicelab.widgets import EventLog, LatencyChart, Timeline, Waveform


def _pulse(text: str, final: bool, words: list[tuple[str, float, float]]) -> str:
    return json.dumps({"type": "transcription", "transcript": text, "is_final": final, "is_last": False,
                       "words": [{"word": w, "start": s, "end": e} for w, s, e in words]})


def live_updates(seconds: float = 600.0, rate: float = 20.0) -> None:
    rec = Recording(provider="pulse", clock=lambda: 0.0, wall_clock=lambda: 0.0)
    rec.log("connect", attempt=1, t=0.0)
    rec.log("handshake", ok=True, status=101, audio_offset=0.0, t=0.2)
    views = {"Timeline": Timeline(rec, live=False), "LatencyChart": LatencyChart(rec, live=False),
             "EventLog": EventLog(rec, live=False)}
    for v in views.values():
        v.send = lambda *a, **k: None  # no frontend: count bytes only
    step = 1.0 / rate
    cost = {name: [] for name in views}
    size = {name: [] for name in views}
    for k in range(int(seconds * rate)):
        t = 0.2 + (k + 1) * step
        rec.chunk(seq=k, audio_start=k * step, audio_end=(k + 1) * step, nbytes=1600, t=t)
        if k % 2:
            rec.message_in(_pulse(f"word{k % 100} " * 3, False, []), t=t + 0.01)
        if k % 100 == 99:
            s = (k - 99) * step
            words = [(f"w{j}", s + j * 0.4, s + j * 0.4 + 0.3) for j in range(12)]
            rec.message_in(_pulse(" ".join(w for w, _, _ in words), True, words), t=t + 0.02)
        for name, v in views.items():
            t0 = time.perf_counter()
            n = v.flush()
            cost[name].append(time.perf_counter() - t0)
            if n:
                size[name].append(n)
    print(f"live updates, {seconds:.0f} s session at {rate:.0f} updates/s ({len(rec)} Recording entries):")
    for name in views:
        c = np.array(cost[name]) * 1000
        b = np.array(size[name])
        print(f"  {name:12s} {len(b)} updates, total {b.sum() / 1e6:.2f} MB, bytes/update median {np.median(b):.0f} "
              f"max {b.max()} (first 1000 mean {b[:1000].mean():.0f}, last 1000 {b[-1000:].mean():.0f}); "
              f"ms/update median {np.median(c):.3f} p99 {np.percentile(c, 99):.3f} max {c.max():.2f} "
              f"-> sustainable {1000 / np.percentile(c, 99):.0f} updates/s (target >= 20)")
    ev = views["EventLog"]
    assert isinstance(ev, EventLog)
    snap = ev.store_snapshot()
    st = ev.counters
    print(f"  EventLog stored snapshot at the end: {snap / 1e3:.0f} KB ({len(ev.snapshot_data['items'])} rows kept of "
          f"{st['n_rows']}, {st['dropped']} older rows dropped; counters: {st['chunks_sent']} chunks, "
          f"{st['partials']} partials, {st['finals']} finals)")


def hour(runs: int) -> None:
    sr = 16000
    x = (0.1 * np.random.default_rng(0).standard_normal(sr * 3600)).astype(np.float32)
    clip = Clip(x, samplerate=sr)
    best = lambda f: min(_timed(f) for _ in range(runs))  # noqa: E731
    t_env = best(lambda: Envelope(clip))
    t_ref = best(lambda: (x.min(), x.max()))
    print(f"one hour of 16 kHz audio ({x.nbytes / 1e6:.0f} MB float32), best of {runs}:")
    print(f"  envelope pyramid {t_env:.3f} s ({Envelope(clip).nbytes / 1e6:.1f} MB); baseline one min+max pass "
          f"{t_ref:.3f} s; ratio {t_env / t_ref:.1f}x the baseline")
    w = Waveform(clip)
    t_view = best(lambda: setattr(w, "view_range", (float(np.random.uniform(0, 3000)), 3600.0)))
    print(f"  Waveform view change (pick level + encode) {t_view * 1000:.1f} ms, {len(w.envelope)} bytes")
    for n_fft, hop in ((512, 256), (512, 128)):
        t_ours = best(lambda n=n_fft, h=hop: SpectrogramImage(clip, n_fft=n, hop=h))
        t_sci = _timed(lambda n=n_fft, h=hop: stft(x, fs=sr, window="hann", nperseg=n, noverlap=n - h))
        verdict = "ok" if t_ours <= 1.0 and t_ours <= t_sci else "MISSED"
        print(f"  spectrogram n_fft {n_fft} hop {hop}: voicelab {t_ours:.3f} s, scipy.signal.stft {t_sci:.3f} s, "
              f"ratio {t_sci / t_ours:.2f}x (target <= 1 s and >= 1x: {verdict})")


def _timed(f) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    live_updates()
    hour(args.runs)


if __name__ == "__main__":
    main()
