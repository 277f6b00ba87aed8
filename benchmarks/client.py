"""Benchmarks of the streaming client: pacing accuracy, Recording cost, concurrent real-time streams.

1. Pacing: voicelab's Pacer (chunk k due at t0 + k·d, schedule from audio time) against the vendor
   docs' loop (``send(chunk); sleep(d)``), both sending 20 ms chunks to a local sink server for
   ``--minutes`` of audio. Prints p99 send error and cumulative drift of each.
2. Recording cost per event: ``Recording.chunk`` (redaction + JSONL write + flush) against a bare
   ``json.dumps`` + ``write`` of the same dict.
3. Concurrency: N real-time sessions through ``voicelab.stream`` from one process against a sink
   server (another process) speaking minimal Pulse, increasing N until the p99 pacing error (from
   the Recordings alone) exceeds 5 ms. Starts are spread over one chunk period, as independent
   streams would be (all N due in the same millisecond is the worst case, not the typical one).

Run: ``python benchmarks/client.py [--minutes 10] [--max-streams 400]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import serve  # noqa: E402

import voicelab as vl  # noqa: E402
from voicelab.client.pacing import Pacer  # noqa: E402
from voicelab.session import Recording  # noqa: E402

CHUNK = 0.02


async def _sink(conn) -> None:  # type: ignore[no-untyped-def]
    async for msg in conn:
        if isinstance(msg, str) and "close_stream" in msg:
            await conn.send(json.dumps({"type": "transcription", "session_id": "x", "transcript": "",
                                        "is_final": True, "is_last": True}))
            await conn.close()
            return


def _sink_process(port_q) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        async with serve(_sink, "127.0.0.1", 0, max_size=None) as server:
            port_q.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def start_sink() -> tuple[multiprocessing.Process, int]:
    q: multiprocessing.Queue[int] = multiprocessing.Queue()
    p = multiprocessing.Process(target=_sink_process, args=(q,), daemon=True)
    p.start()
    return p, q.get(timeout=30)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.abs(values), q)) if values else 0.0


async def pacing(port: int, seconds: float) -> None:
    n = int(seconds / CHUNK)
    data = b"\0" * 640
    async with connect(f"ws://127.0.0.1:{port}") as ws:
        pacer = Pacer(speed=1.0)
        pacer.start()
        for k in range(n):
            d = pacer.delay(k * CHUNK)
            if d:
                await asyncio.sleep(d)
            await ws.send(data)
            pacer.sent(k * CHUNK)
        ours = pacer.stats.errors
        t0 = time.monotonic()
        vendor = []
        for k in range(n):
            await ws.send(data)
            vendor.append(time.monotonic() - (t0 + k * CHUNK))
            await asyncio.sleep(CHUNK)
    print(f"pacing over {seconds / 60:.1f} min of audio in 20 ms chunks:")
    print(f"  voicelab Pacer:        p99 send error {pct(ours, 99) * 1000:7.2f} ms, "
          f"cumulative drift {(ours[-1] - ours[0]) * 1000:8.2f} ms")
    print(f"  send(); sleep(0.02):   p99 send error {pct(vendor, 99) * 1000:7.2f} ms, "
          f"cumulative drift {(vendor[-1] - vendor[0]) * 1000:8.2f} ms")
    ratio = abs(vendor[-1] - vendor[0]) / max(abs(ours[-1] - ours[0]), 1e-4)
    print(f"  drift ratio vendor/voicelab: {ratio:.0f}x")


def recording_cost(n: int = 20000) -> None:
    with tempfile.TemporaryDirectory() as d:
        rec = Recording(Path(d) / "r.jsonl", provider="pulse", secrets=["sk_secret_key"])
        t0 = time.perf_counter()
        for k in range(n):
            rec.chunk(seq=k, audio_start=k * CHUNK, audio_end=(k + 1) * CHUNK, nbytes=640)
        ours = (time.perf_counter() - t0) / n
        rec.close()
        with open(Path(d) / "b.jsonl", "w") as f:
            t0 = time.perf_counter()
            for k in range(n):
                f.write(json.dumps({"t": 0.0, "kind": "chunk", "seq": k, "audio_start": k * CHUNK,
                                    "audio_end": (k + 1) * CHUNK, "bytes": 640}) + "\n")
                f.flush()
            base = (time.perf_counter() - t0) / n
    print(f"Recording.chunk: {ours * 1e6:.1f} µs/event; bare json.dumps+write+flush {base * 1e6:.1f} µs/event; "
          f"ratio {ours / base:.2f}x")


def concurrency(port: int, max_streams: int, seconds: float, chunk: float) -> None:
    audio = np.zeros(int(16000 * seconds), dtype=np.float32)
    n = 50
    best = 0
    while n <= max_streams:
        sessions = []
        for _ in range(n):  # independent streams do not share a phase: spread the starts over one chunk period
            sessions.append(vl.stream(audio, samplerate=16000, url=f"ws://127.0.0.1:{port}", api_key="k",
                                      chunk_seconds=chunk, final_timeout=30))
            time.sleep(chunk / n)
        for s in sessions:
            s.wait(120)
        errors = []
        for s in sessions:
            chunks = s.recording.of("chunk")
            t0 = chunks[0].t
            errors += [c.t - (t0 + c["audio_start"]) for c in chunks]
        p99 = pct(errors, 99) * 1000
        print(f"  {n:4d} concurrent real-time streams, {chunk * 1000:.0f} ms chunks: "
              f"pacing p99 {p99:6.2f} ms, max {pct(errors, 100) * 1000:6.1f} ms")
        if p99 > 5.0:
            break
        best = n
        n += 50 if n < 200 else 100
    print(f"concurrent real-time streams ({chunk * 1000:.0f} ms chunks) with pacing p99 <= 5 ms: {best} "
          "(target >= 200)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--max-streams", type=int, default=400)
    ap.add_argument("--stream-seconds", type=float, default=10.0)
    ap.add_argument("--chunk", type=float, action="append",
                    help="chunk seconds for the concurrency test (repeatable; default 0.02 and 0.128)")
    args = ap.parse_args()
    proc, port = start_sink()
    try:
        recording_cost()
        asyncio.run(pacing(port, args.minutes * 60))
        for chunk in args.chunk or [CHUNK, 0.128]:
            concurrency(port, args.max_streams, args.stream_seconds, chunk)
    finally:
        proc.terminate()
        os._exit(0)


if __name__ == "__main__":
    main()
