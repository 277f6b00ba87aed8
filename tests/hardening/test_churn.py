"""Connection churn against the emulator: sequential connect/stream/close cycles cost nothing that stays.

One connection at a time, with the default limits (``concurrency_limit=100``): no cycle may be refused
(1008), the session count returns to 0, the process's RSS returns to within 50 MB of its baseline and no
file descriptor is left over. The whisper engine is the expensive one (a recognizer stream is ~60 ms and
~8-10 MB), so it is the one churned. Half of the cycles send one 100 ms chunk (a recognizer stream opens
and closes), half send nothing (no stream may open at all).

The CI form runs 200 cycles; the long form 1000 (``VOICELAB_LONG_TESTS=1``; figures in
benchmarks/README.md, "Soak").
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import pytest
import websockets

import voicelab.emulator as emulator

RSS_SLACK_MB = 50.0
WARM_UP_CYCLES = 20


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def cycles(server, n: int) -> Counter:
    url = server.url_for("pulse")
    headers = {"Authorization": f"Bearer {server.api_key}"}
    codes: Counter = Counter()
    for i in range(n):
        async with websockets.connect(url, additional_headers=headers, compression=None) as ws:
            if i % 2:
                await ws.send(bytes(3200))
        codes[ws.close_code] += 1
    return codes


def settle(server, baseline_mb: float, timeout: float = 10.0) -> float:
    """Wait for the sessions to end and the freed memory to go back (the server trims a second later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.sessions == 0 and rss_mb() <= baseline_mb + RSS_SLACK_MB / 2:
            break
        time.sleep(0.25)
    time.sleep(0.5)
    return rss_mb()


def churn(n: int) -> dict[str, float]:
    with emulator.serve(engine="whisper", announce=False) as server:
        asyncio.run(cycles(server, WARM_UP_CYCLES))  # thread pool, VAD library, first allocations
        base_rss = settle(server, rss_mb() - RSS_SLACK_MB)
        base_fds = fds()
        t0 = time.monotonic()
        codes = asyncio.run(cycles(server, n))
        elapsed = time.monotonic() - t0
        end_rss = settle(server, base_rss)
        end_fds = fds()
        sessions = server.sessions
    figures = {"cycles": n, "seconds": round(elapsed, 1), "rss_base_mb": round(base_rss),
               "rss_end_mb": round(end_rss), "fds_base": base_fds, "fds_end": end_fds}
    print(f"churn: {figures}")  # the figures quoted in benchmarks/README.md
    assert codes == Counter({1000: n}), f"refused or failed cycles: {dict(codes)}"
    assert sessions == 0
    assert end_rss <= base_rss + RSS_SLACK_MB, figures
    assert end_fds <= base_fds + 2, figures
    return figures


@pytest.mark.timeout(240)
def test_200_sequential_cycles_leave_nothing_behind():
    figures = churn(200)
    assert figures["cycles"] == 200 and figures["rss_end_mb"] <= figures["rss_base_mb"] + RSS_SLACK_MB
    assert figures["fds_end"] <= figures["fds_base"] + 2


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not os.environ.get("VOICELAB_LONG_TESTS"), reason="long form: set VOICELAB_LONG_TESTS=1")
def test_1000_sequential_cycles_leave_nothing_behind():
    figures = churn(1000)
    assert figures["cycles"] == 1000 and figures["rss_end_mb"] <= figures["rss_base_mb"] + RSS_SLACK_MB
    assert figures["fds_end"] <= figures["fds_base"] + 2
