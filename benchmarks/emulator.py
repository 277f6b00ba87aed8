"""Benchmark the emulator server per engine: speed, latency and concurrent real-time sessions.

Run: ``.venv/bin/python benchmarks/emulator.py [--engines whisper sphinx] [--max-sessions 8]``

Figures (all through the real server, with a vendor-style client sending 4096-byte chunks):

- real-time factor: wall time from the first chunk to ``is_last`` when the file is sent as fast as
  possible, divided by the audio duration (data/ speech set, 16 kHz);
- first partial after speech onset: for each reference sentence (data/manifest.json), the arrival
  of the first non-empty interim after the wall time its onset was sent (real-time pacing);
- final after speech end: arrival of the first non-empty final after the sentence's end was sent;
- concurrent sessions: how many real-time sessions run at once with every sentence's first
  partial within 1 s of its onset (and nothing dropped). Independent sessions, as a server sees
  them: each streams 20 s of the speech files played back to back, from its own starting point
  (7.3 s apart), so speech starts at different moments. Also printed: the worst case, every
  session streaming the same file from the same instant, so every onset (and the engine's
  costliest step, decoding a new utterance's pre-roll) hits all sessions at once.

Targets: whisper ≥ 1 real-time session, median first partial ≤ 0.8 s, median final ≤ 1.3 s after
speech end; sphinx ≥ 6 concurrent sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import soundfile as sf
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import voicelab.emulator as emulator  # noqa: E402

DATA = ROOT / "data"
CHUNK = 4096
RATE = 16000
#: Seconds of audio each concurrent session streams.
WINDOW = 20.0
#: Offset between concurrent sessions' starting points in the program of all speech files, seconds.
STAGGER = 7.3


def _entries() -> list[dict]:
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    return [e for e in files if e["kind"] == "speech" and e["samplerate"] == RATE]


async def _session(url: str, key: str, pcm: bytes, speed: float | None) -> list[tuple[float, dict]]:
    """Stream ``pcm``; return (seconds since the first chunk, message) pairs until is_last."""
    out: list[tuple[float, dict]] = []
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        t0 = time.monotonic()

        async def sender() -> None:
            for k, i in enumerate(range(0, len(pcm), CHUNK)):
                if speed:
                    await asyncio.sleep(max(0.0, t0 + k * CHUNK / (2 * RATE) / speed - time.monotonic()))
                await ws.send(pcm[i : i + CHUNK])
            await ws.send(json.dumps({"type": "close_stream"}))

        task = asyncio.create_task(sender())
        async for raw in ws:
            msg = json.loads(raw)
            out.append((time.monotonic() - t0, msg))
            if msg.get("is_last"):
                break
        await task
    return out


def _latencies(msgs: list[tuple[float, dict]], entry: dict) -> tuple[list[float], list[float]]:
    first_partial, final = [], []
    for sent in entry["sentences"]:
        onset, end = sent["start"], sent["end"]  # real-time pacing: audio time == wall time sent
        p = [
            t
            for t, m in msgs
            if m.get("type") == "transcription" and m["transcript"] and t >= onset and not m["is_final"]
        ]
        f = [t for t, m in msgs if m.get("is_final") and m["transcript"] and t >= end - 0.05]
        if p:
            first_partial.append(p[0] - onset)
        if f:
            final.append(f[0] - end)
    return first_partial, final


def _pcm(entry: dict) -> bytes:
    audio, _ = sf.read(str(DATA / entry["path"]), dtype="int16")
    return audio.tobytes()


def _program(entries: list[dict]) -> tuple[bytes, list[dict]]:
    """All 16 kHz speech files back to back, and their sentences on the program's clock."""
    pcm, sentences, t = b"", [], 0.0
    for e in entries:
        pcm += _pcm(e)
        sentences += [{**x, "start": x["start"] + t, "end": x["end"] + t} for x in e["sentences"]]
        t = len(pcm) / 2 / RATE
    return pcm, sentences


def _window(entries: list[dict], k: int) -> tuple[bytes, dict]:
    """Session ``k``'s audio: WINDOW seconds of the program from its own offset (wrapping around)."""
    pcm, sentences = _program(entries)
    total = len(pcm) / 2 / RATE
    offset = (k * STAGGER) % total
    doubled = pcm + pcm
    first = int(offset * RATE) * 2
    audio = doubled[first : first + int(WINDOW * RATE) * 2]
    shifted = [
        {**x, "start": x["start"] + shift - offset, "end": x["end"] + shift - offset}
        for shift in (0.0, total)
        for x in sentences
    ]
    inside = [x for x in shifted if x["start"] >= 0.3 and x["end"] <= WINDOW - 0.5]
    return audio, {"sentences": inside}


async def _concurrency(
    engine: str, url: str, key: str, entries: list[dict], max_sessions: int, *, lockstep: bool
) -> int:
    """Most real-time sessions (1, 2, 3, 4, 6, 8 …) with every sentence's first partial within 1 s."""
    ref = next(x for x in entries if x["id"] == "s03_meeting")
    sustained = 0
    n = 1
    while n <= max_sessions:
        jobs = [(_pcm(ref), ref) if lockstep else _window(entries, k) for k in range(n)]
        results = await asyncio.gather(*(_session(url, key, pcm, speed=1.0) for pcm, _ in jobs))
        worst = 0.0
        ok = True
        for msgs, (_, expected) in zip(results, jobs, strict=True):
            a, _ = _latencies(msgs, expected)
            if len(a) < len(expected["sentences"]):
                ok = False
            worst = max([worst, *a])
        ok = ok and worst <= 1.0
        kind = "lockstep (same file, same instant)" if lockstep else "independent"
        print(
            f"  {engine}: {n} {kind} real-time sessions: worst first partial {worst:.2f} s -> "
            f"{'ok' if ok else 'FAIL'}",
            flush=True,
        )
        if not ok:
            break
        sustained = n
        n = n + 1 if n < 4 else n + 2
    return sustained


async def _bench(engine: str, max_sessions: int, options: dict) -> dict:
    entries = _entries()
    with emulator.serve(engine=engine, announce=False, concurrency_limit=None, recognizer_options=options) as server:
        url = server.url_for("pulse") + "&language=en"
        # real-time factor: as fast as possible, one session at a time
        audio = wall = 0.0
        for e in entries:
            t0 = time.monotonic()
            await _session(url, server.api_key, _pcm(e), speed=None)
            wall += time.monotonic() - t0
            audio += e["duration"]
        # latency: real time, one session
        fp: list[float] = []
        fin: list[float] = []
        for e in [x for x in entries if x["id"] in ("s02_weather", "s03_meeting", "s04_support")]:
            msgs = await _session(url, server.api_key, _pcm(e), speed=1.0)
            a, b = _latencies(msgs, e)
            fp += a
            fin += b
        # concurrency, as independent sessions would be: different audio, speech at different times
        sustained = await _concurrency(engine, url, server.api_key, entries, max_sessions, lockstep=False)
        # the worst case: every session the same file, started at the same instant (speech onsets coincide)
        lockstep = await _concurrency(engine, url, server.api_key, entries, max_sessions, lockstep=True)
    return {
        "engine": engine,
        "rtf": wall / audio,
        "first_partial_median": statistics.median(fp) if fp else float("nan"),
        "first_partial_p90": sorted(fp)[int(0.9 * (len(fp) - 1))] if fp else float("nan"),
        "final_median": statistics.median(fin) if fin else float("nan"),
        "final_max": max(fin) if fin else float("nan"),
        "n_sentences": len(fp),
        "sessions": sustained,
        "lockstep": lockstep,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["whisper", "sphinx"])
    parser.add_argument("--max-sessions", type=int, default=8)
    parser.add_argument("--sphinx-processes", type=int, default=None,
                        help="worker processes for sphinx decoders (default: the engine's own default)")
    args = parser.parse_args()
    targets = {"whisper": (1, 0.8, 1.3), "sphinx": (6, None, None)}
    for engine in args.engines:
        options = {}
        if engine == "sphinx" and args.sphinx_processes is not None:
            options["processes"] = args.sphinx_processes
        r = asyncio.run(_bench(engine, args.max_sessions, options))
        sessions_t, partial_t, final_t = targets[engine]
        print(f"{engine}: RTF {r['rtf']:.3f} (as fast as possible, incl. network and is_last)")
        line = (
            f"  first partial after onset: median {r['first_partial_median']:.2f} s, p90 {r['first_partial_p90']:.2f} s"
        )
        if partial_t:
            line += f"  (target <= {partial_t} s, ratio {r['first_partial_median'] / partial_t:.2f})"
        print(line + f", n={r['n_sentences']}")
        line = f"  final after speech end: median {r['final_median']:.2f} s, max {r['final_max']:.2f} s"
        if final_t:
            line += f"  (target <= {final_t} s, ratio {r['final_median'] / final_t:.2f})"
        print(line)
        print(
            f"  concurrent real-time sessions with every first partial <= 1 s: {r['sessions']} "
            f"(target >= {sessions_t}, ratio {r['sessions'] / sessions_t:.2f}); "
            f"worst case, all in lockstep: {r['lockstep']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
