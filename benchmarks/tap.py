"""Benchmark of the tap: latency it adds per forwarded frame, at 1, 50 and 200 concurrent real-time streams.

Three processes on one machine: an echo upstream (a websockets server that answers every binary frame at once
with a small JSON text message carrying the frame's send timestamp, the shape of a Pulse interim), the tap
(``voicelab tap --provider pulse`` in its own process, recording every connection in memory), and the load:
N streams, each sending a 4096-byte frame every 128 ms (16 kHz linear16 in real time, Pulse's recommended
chunk), starts spread over one period. Each answer gives a round trip; the same N streams run directly
against the upstream and through the tap, alternately, in the same run. The tap forwards a frame twice per
round trip (the audio frame up, the answer down), so the added latency per forwarded frame is half the
added round trip; both are printed (p50/p99 of the tap's round trips minus the direct ones' p50/p99). CPU per
frame is printed for the tap (its process's user + system time over the frames it forwarded, both directions)
and, for scale, for the echo upstream over the direct runs per round trip (a bare websockets server receiving
one frame and sending one, as the tap does per forwarded frame: what moving a frame through websockets and
loopback TCP costs on this machine).

On a shared machine the tails are mostly the machine's, so each count also prints the machine floor over the
same window: a bare thread in a fourth process sleeping to 20 ms deadlines (no asyncio, no socket; as in
benchmarks/client.py), its wake-up lateness p50/p99, the hypervisor steal meanwhile, and the load average
before and after. A tap p99 added close to the floor's p99 is the machine, not the tap.

Run: ``python benchmarks/tap.py [--seconds 8] [--streams 1,50,200] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PERIOD_S = 0.128
FRAME = 4096


def _echo_server(port_out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from websockets.asyncio.server import serve

    async def handler(ws: Any) -> None:
        async for msg in ws:
            if isinstance(msg, bytes):
                ts = int.from_bytes(msg[:8], "little")
                await ws.send(json.dumps({"type": "transcription", "transcript": "the weather today", "ts": ts,
                                          "is_final": False, "is_last": False}))

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
            port_out.put(next(iter(server.sockets)).getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


async def _stream(url: str, seconds: float, offset: float, rtts: list[float]) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, max_size=None) as ws:
        async def receive() -> None:
            async for msg in ws:
                now = time.perf_counter_ns()
                rtts.append((now - json.loads(msg)["ts"]) / 1e9)

        rx = asyncio.create_task(receive())
        await asyncio.sleep(offset)
        t0 = time.perf_counter()
        pad = bytes(FRAME - 8)
        for k in range(int(seconds / PERIOD_S)):
            delay = t0 + k * PERIOD_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(time.perf_counter_ns().to_bytes(8, "little") + pad)
        await asyncio.sleep(0.3)
        rx.cancel()


async def _run(url: str, n: int, seconds: float) -> list[float]:
    rtts: list[float] = []
    rng = random.Random(n)
    await asyncio.gather(*(_stream(url, seconds, rng.uniform(0, PERIOD_S), rtts) for _ in range(n)))
    return rtts


FLOOR_PERIOD_S = 0.02


def _floor(stop: multiprocessing.Event, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg,valid-type]
    """A bare thread sleeping to each 20 ms deadline until ``stop``; puts its wake-up lateness (seconds)."""
    late: list[float] = []
    t0 = time.monotonic()
    k = 0
    while not stop.is_set():  # type: ignore[attr-defined]
        due = t0 + k * FLOOR_PERIOD_S
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        late.append(time.monotonic() - due)
        k += 1
    out.put(late)


def _steal_seconds() -> float:
    """CPU time the hypervisor gave to others while this VM wanted it (all vCPUs), seconds."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def _cpu_seconds(pid: int) -> np.ndarray:
    """User and system CPU seconds of process ``pid`` (Linux /proc), as an array ``[user, system]``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return np.array([int(fields[11]), int(fields[12])]) / os.sysconf("SC_CLK_TCK")


def _per_frame(cpu: np.ndarray, frames: int) -> str:
    """CPU seconds ``[user, sys]`` per frame, as ``"total µs (user + sys)"``."""
    us = cpu / max(1, frames) * 1e6
    return f"{us.sum():.0f} µs ({us[0]:.0f} + {us[1]:.0f})"


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds of audio per stream and run")
    ap.add_argument("--streams", default="1,50,200", help="concurrent stream counts")
    ap.add_argument("--rounds", type=int, default=2, help="direct/tap alternations per count")
    args = ap.parse_args()

    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    echo = multiprocessing.Process(target=_echo_server, args=(ports,), daemon=True)
    echo.start()
    up = f"ws://127.0.0.1:{ports.get(timeout=30)}"
    echo_pid = echo.pid
    assert echo_pid is not None
    tap = subprocess.Popen([sys.executable, "-m", "voicelab", "tap", "--provider", "pulse", "--upstream", up,
                            "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        assert tap.stdout is not None
        line = tap.stdout.readline()
        threading.Thread(target=tap.stdout.read, daemon=True).start()  # drain its per-session lines
        base = re.search(r"(ws://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        path = "/waves/v1/stt/live?model=pulse&language=en"
        print(f"upstream {up}, tap {base} (pid {tap.pid}); {args.seconds:g} s per run, "
              f"{FRAME}-byte frames every {PERIOD_S * 1000:g} ms per stream")
        print("| streams | frames | direct RTT p50 / p99 | via tap RTT p50 / p99 | added RTT p50 / p99 "
              "| added per forwarded frame p50 / p99 | tap CPU per forwarded frame (user + sys) "
              "| echo server CPU per frame in + answer out (user + sys) | machine floor p50 / p99 | steal "
              "| load avg before → after |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for n in [int(s) for s in args.streams.split(",")]:
            direct: list[float] = []
            tapped: list[float] = []
            cpu, echo_cpu = np.zeros(2), np.zeros(2)
            load0, steal0 = os.getloadavg()[0], _steal_seconds()
            stop, lateness = multiprocessing.Event(), multiprocessing.Queue()  # type: ignore[var-annotated]
            floor = multiprocessing.Process(target=_floor, args=(stop, lateness), daemon=True)
            floor.start()
            for _ in range(args.rounds):
                before = _cpu_seconds(echo_pid)
                direct += asyncio.run(_run(up + path, n, args.seconds))
                echo_cpu += _cpu_seconds(echo_pid) - before
                before = _cpu_seconds(tap.pid)
                tapped += asyncio.run(_run(base + path, n, args.seconds))
                cpu += _cpu_seconds(tap.pid) - before
            stop.set()
            late = lateness.get(timeout=30)
            floor.join(10)
            steal, load1 = _steal_seconds() - steal0, os.getloadavg()[0]
            d50, d99, t50, t99 = _pct(direct, 50), _pct(direct, 99), _pct(tapped, 50), _pct(tapped, 99)
            print(f"| {n} | {len(tapped)} | {d50:.3f} / {d99:.3f} ms | {t50:.3f} / {t99:.3f} ms | "
                  f"{t50 - d50:.3f} / {t99 - d99:.3f} ms | {(t50 - d50) / 2:.3f} / {(t99 - d99) / 2:.3f} ms | "
                  f"{_per_frame(cpu, 2 * len(tapped))} | {_per_frame(echo_cpu, len(direct))} | "
                  f"{_pct(late, 50):.3f} / {_pct(late, 99):.3f} ms | "
                  f"{steal:.2f} s | {load0:.2f} → {load1:.2f} |", flush=True)
    finally:
        tap.terminate()
        tap.wait(10)
        echo.terminate()


if __name__ == "__main__":
    main()
