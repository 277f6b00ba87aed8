"""Fixtures of the tap tests: one sphinx emulator for the package, speech as PCM, a vendor-style client.

Everything runs on real sockets on 127.0.0.1 (port 0); nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets

import voicelab as vl

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "data" / "speech" / "s02_weather_16k.flac"


@pytest.fixture(scope="package")
def emulator() -> Iterator[Any]:
    with vl.serve(engine="sphinx", announce=False) as server:
        yield server


@pytest.fixture(scope="package")
def pcm16k() -> bytes:
    """The weather sentence as 16 kHz linear16 mono (5.5 s)."""
    return vl.load(str(SPEECH)).resample(16000).to_int16().tobytes()


@dataclass
class Transcribed:
    finals: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""


async def vendor_client(url: str, key: str | None, pcm: bytes, *, speed: float = 4.0) -> Transcribed:
    """Smallest's documented single-shot example (4096-byte binary frames, then close_stream), paced at ``speed``."""
    out = Transcribed()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with websockets.connect(url, additional_headers=headers) as ws:
        async def send() -> None:
            for i in range(0, len(pcm), 4096):
                await ws.send(pcm[i:i + 4096])
                await asyncio.sleep(4096 / 32000 / speed)
            await ws.send(json.dumps({"type": "close_stream"}))

        sender = asyncio.create_task(send())
        try:
            async for msg in ws:
                out.messages.append(msg)
                data = json.loads(msg)
                if data.get("is_final"):
                    out.finals.append(data["transcript"])
                if data.get("is_last"):
                    break
        except websockets.ConnectionClosed:  # the vendor's example would raise here; keep the close code
            pass
        finally:
            sender.cancel()
    out.close_code, out.close_reason = ws.close_code, ws.close_reason or ""
    return out


def run_vendor_client(url: str, key: str | None, pcm: bytes, **kwargs: Any) -> Transcribed:
    return asyncio.run(vendor_client(url, key, pcm, **kwargs))
