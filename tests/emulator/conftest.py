"""Shared emulator servers and vendor-docs-style clients for the server tests.

The clients below are written the way the vendors' examples are: ``Authorization: Bearer``
header, 4096-byte binary chunks sent in a paced loop, ``{"type":"close_stream"}``, then JSON
messages read until ``is_last`` — no voicelab client code.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import websockets

import voicelab.emulator as emulator

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="session")
def sphinx_server():
    with emulator.serve(engine="sphinx", announce=False, concurrency_limit=None) as server:
        yield server


@pytest.fixture(scope="session")
def whisper_server():
    with emulator.serve(engine="whisper", announce=False, concurrency_limit=None) as server:
        yield server


def pcm16(path: str | Path) -> tuple[bytes, int]:
    """Read a file as linear16 bytes and its rate."""
    audio, rate = sf.read(str(DATA / path), dtype="int16")
    return audio.tobytes(), rate


@dataclass
class Result:
    messages: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    t0: float = 0.0

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "transcription" and m["is_final"]]

    @property
    def interims(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "transcription" and not m["is_final"]]

    @property
    def text(self) -> str:
        return " ".join(m["transcript"] for m in self.finals if m["transcript"]).strip()


async def stream_pulse(
    url: str,
    pcm: bytes,
    *,
    api_key: str,
    chunk: int = 4096,
    bytes_per_second: float = 32000.0,
    speed: float = 1.0,
    control: str | None = "close_stream",
    headers: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> Result:
    """Send ``pcm`` like the Smallest quickstart does and collect every message until ``is_last``."""
    res = Result()
    hdrs = {"Authorization": f"Bearer {api_key}"} if headers is None else headers
    async with websockets.connect(url, additional_headers=hdrs, max_size=None) as ws:
        res.t0 = t0 = time.monotonic()

        async def sender() -> None:
            for k, i in enumerate(range(0, len(pcm), chunk)):
                due = t0 + k * chunk / bytes_per_second / speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await ws.send(pcm[i : i + chunk])
            if control:
                await ws.send(json.dumps({"type": control}))

        task = asyncio.create_task(sender())
        try:
            async with asyncio.timeout(timeout):
                async for raw in ws:
                    msg = json.loads(raw)
                    res.messages.append(msg)
                    res.times.append(time.monotonic() - t0)
                    if msg.get("is_last"):
                        break
            async with asyncio.timeout(5):
                async for _ in ws:
                    pass
        except (websockets.ConnectionClosed, TimeoutError):
            pass
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        res.close_code = ws.close_code
        res.close_reason = ws.close_reason or ""
    return res


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def silence(seconds: float, rate: int = 16000) -> bytes:
    return np.zeros(int(seconds * rate), dtype="<i2").tobytes()


async def drain(ws: Any) -> list[Any]:
    """Collect every message until the socket closes, whatever the close code (JSON decoded when text)."""
    out: list[Any] = []
    try:
        async for raw in ws:
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append(raw)
    except websockets.ConnectionClosed:
        pass
    return out
