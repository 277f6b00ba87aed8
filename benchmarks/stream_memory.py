"""Peak memory of ``vl.stream(path)`` on a 10-minute and a 2-hour file: block by block vs the whole-file path.

Each file is 24 kHz mono FLAC (the data/speech weather sentence tiled), streamed as Pulse wants it (16 kHz
linear16, 4096-byte chunks), unpaced (``speed=None``), to the local emulator with a recognizer that
hears one word per 5 s of audio (so the emulator costs no CPU, and finals keep the client's resend buffer
short, as speech does; its message-rate limit is off). Each stream runs in its own
subprocess, which reports its peak RSS (``ru_maxrss``) and its peak Python-traced memory (tracemalloc,
numpy buffers included), so one run cannot inherit another's heap:

* ``blocks``: ``vl.stream(path, ...)`` as it is now (files longer than `HEAD_SECONDS` go block by block);
* ``whole`` (the baseline, in the same run): ``vl.stream(vl.load(path), ...)``, the old path, which
  decodes the whole file, mixes it down, resamples it and then chunks it.

Two measurements per file, each mode in its own subprocess:

* ``reader``: only the chunk source, iterated to the end — `voicelab.audio.blocks.file_chunks` vs
  ``chunk(load(path).to_mono().resample(16000))``. This is what the block reader changes.
* ``stream`` (files up to ``--stream-minutes``, at each ``--speed``): the whole client,
  ``vl.stream(...).wait()``, with a Recording that keeps no audio bytes (``keep_audio_seconds=0``). Its
  peak also holds the Recording's log of every message, and the client's resend buffer: audio no final
  covers yet is kept for a reconnect, so when the emulator lags behind a fast stream (a loaded machine)
  that buffer, not the reader, holds the audio (unpaced, at most about ``MAX_IN_FLIGHT_AUDIO_S`` of it: the
  client then waits for finals, see voicelab/client/stream_state.py). Each stream child also reports, from
  its Recording, the most audio in flight (sent, not yet covered by a final's last word), the messages received, and
  what the finished `Stream` holds (traced memory freed when it is let go: its events and Recording).

Usage, from the repository root: ``.venv/bin/python benchmarks/stream_memory.py`` (the default: both files
through the reader, the 10-minute one end to end at 200x; about 30 s). The 2-hour end-to-end rows of
benchmarks/README.md (about 3 minutes, ~2 GB of RAM for the whole-file baseline)::

    .venv/bin/python benchmarks/stream_memory.py --minutes 120 --stream-minutes 120 --speed None 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent

READER = r"""
import json, resource, sys, time, tracemalloc
tracemalloc.start()
from voicelab.audio import chunk, load
from voicelab.audio.blocks import file_chunks
path, mode = sys.argv[1:3]
t0 = time.perf_counter()
if mode == "blocks":
    chunks = file_chunks(path, encoding="linear16", samplerate=16000, target="pulse")
else:
    chunks = chunk(load(path).to_mono().resample(16000), encoding="linear16", target="pulse")
n = nbytes = 0
for c in chunks:
    n += 1
    nbytes += len(c.data)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_rss_mb": rss, "chunks": n, "bytes": nbytes,
                  "traced_peak_mb": tracemalloc.get_traced_memory()[1] / 1e6, "audio_s": nbytes / 32000}))
"""

CHILD = r"""
import gc, json, resource, sys, time, tracemalloc
tracemalloc.start()
import voicelab as vl
from voicelab.protocols.events import Final
path, mode, url, key, speed = sys.argv[1:6]
t0 = time.perf_counter()
source = vl.load(path) if mode == "whole" else path
pace = float(speed) if speed != "None" else None
s = vl.stream(source, provider="pulse", url=url, api_key=key, speed=pace, keep_audio_seconds=0, final_timeout=120)
s.wait(3600)
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
traced_peak = tracemalloc.get_traced_memory()[1] / 1e6
st = s.recording.stats
# audio in flight: sent, not yet covered by a final's last word (what the resend buffer holds)
points = sorted([(c.t, 0, c["audio_end"]) for c in s.recording.of("chunk")]
                + [(t, 1, ev.words[-1].end) for t, ev in s.events if isinstance(ev, Final) and ev.words])
sent = covered = in_flight = 0.0
for _, final, audio in points:
    sent, covered = (sent, max(covered, audio)) if final else (max(sent, audio), covered)
    in_flight = max(in_flight, sent - covered)
del source, points
gc.collect()
before = tracemalloc.get_traced_memory()[0]
del s
gc.collect()
held = (before - tracemalloc.get_traced_memory()[0]) / 1e6
print(json.dumps({"seconds": seconds, "peak_rss_mb": rss, "traced_peak_mb": traced_peak, "chunks": st.chunks_sent,
                  "audio_s": st.audio_seconds_sent, "bytes": st.bytes_sent, "messages": st.messages_received,
                  "in_flight_peak_s": in_flight, "held_mb": held}))
"""


def make_file(path: Path, minutes: float) -> Path:
    """Tile a speech file (24 kHz) to ``minutes``, written block by block."""
    speech, rate = sf.read(ROOT / "data" / "speech" / "s02_weather_24k.flac", dtype="float32")
    total = int(minutes * 60 * rate)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        done = 0
        block = np.tile(speech, max(1, int(60 * rate // len(speech))))
        while done < total:
            part = block[: total - done]
            f.write(part)
            done += len(part)
    return path


def null_server():  # noqa: ANN201 - a RunningServer
    import voicelab as vl
    from voicelab.emulator.config import Limits
    from voicelab.emulator.recognizers.base import RecognizedFinal, Recognizer, RecognizerStream, WordTime

    class Deaf(RecognizerStream):
        """Hears one word per 5 s of audio, so finals cover the audio and the client's resend buffer stays short.

        The word has times: a final covers audio for the client only up to its last word's end (or a speech
        end), so a final without words would leave every chunk in the resend buffer.
        """

        said = 0.0

        def _process(self, samples, *, now):  # noqa: ANN001, ANN202
            if self.audio_time - self.said < 5.0:
                return []
            start, self.said = self.said, self.audio_time
            return [RecognizedFinal("tone", start, self.said, (WordTime("tone", start, self.said, 1.0),))]

        def _flush(self, *, now):  # noqa: ANN001, ANN202
            return []

        def _close(self) -> None:
            pass

    class DeafRecognizer(Recognizer):
        name = "deaf"

        def open(self, *, samplerate=16000, word_times=False, partials=True, endpointing=None):  # noqa: ANN001, ANN201
            return Deaf(samplerate=samplerate, word_times=word_times, partials=partials)

    return vl.serve(recognizer=DeafRecognizer(), limits=Limits(max_messages_per_second=None, max_session_seconds=None),
                    announce=False)


def run(script: str, *args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT,
                         timeout=3600)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 120])
    ap.add_argument("--speed", nargs="+", default=["200"],
                    help="audio seconds per wall second, or None (unpaced); several run one after another")
    ap.add_argument("--stream-minutes", type=float, default=10.0,
                    help="also stream files up to this long end to end through vl.stream to the emulator")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, null_server() as server:
        for minutes in args.minutes:
            t0 = time.perf_counter()
            path = make_file(Path(tmp) / f"long_{minutes:g}min.flac", minutes)
            print(f"{minutes:g} min file: {path.stat().st_size / 1e6:.0f} MB FLAC, written in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            runs = [("reader", None)]
            if minutes <= args.stream_minutes:
                runs += [("stream", speed) for speed in args.speed]
            for what, speed in runs:
                res = {mode: (run(READER, str(path), mode) if what == "reader" else
                              run(CHILD, str(path), mode, server.url, server.api_key, speed))
                       for mode in ("blocks", "whole")}
                label = what if speed is None else f"stream speed={speed}"
                for mode, r in res.items():
                    extra = ("" if what == "reader" else
                             f"; {r['messages']} messages, in flight at most {r['in_flight_peak_s']:.0f} s of audio, "
                             f"the finished Stream holds {r['held_mb']:.1f} MB")
                    print(f"  {label} {mode:6s} peak RSS {r['peak_rss_mb']:7.1f} MB, traced peak "
                          f"{r['traced_peak_mb']:7.1f} MB, {r['chunks']} chunks, {r['audio_s']:.0f} s audio, "
                          f"{r['seconds']:.1f} s wall{extra}", flush=True)
                b, w = res["blocks"], res["whole"]
                assert abs(b["audio_s"] - w["audio_s"]) < 0.01, (b, w)
                print(f"  {label} ratio whole/blocks: RSS {w['peak_rss_mb'] / b['peak_rss_mb']:.1f}x, traced "
                      f"{w['traced_peak_mb'] / b['traced_peak_mb']:.1f}x", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
