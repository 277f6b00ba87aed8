"""The official ``smallestai`` Python SDK streams through the tap to the emulator (its ``environment`` takes a
custom ``waves_ws`` URL), with the transcripts of a direct connection."""

from __future__ import annotations

import json
import time

import pytest

import voicelab as vl

from .conftest import run_vendor_client

smallestai = pytest.importorskip("smallestai", reason="the test extra installs the official smallestai SDK")


def sdk_transcribe(ws_base: str, key: str, pcm: bytes, *, speed: float = 4.0) -> tuple[list[str], int]:
    from smallestai import SmallestAI
    from smallestai.environment import SmallestAIEnvironment
    from smallestai.waves.speech_to_text.types.close_stream import CloseStream

    env = SmallestAIEnvironment(atoms=ws_base.replace("ws", "http", 1), waves=ws_base.replace("ws", "http", 1),
                                waves_ws=ws_base, payment=ws_base.replace("ws", "http", 1))
    client = SmallestAI(api_key=key, environment=env)
    finals, events = [], 0
    query = {"model": "pulse", "language": "en", "sample_rate": 16000, "encoding": "linear16"}
    with client.waves.speech_to_text.stream(request_options={"additional_query_parameters": query}) as socket:
        for i in range(0, len(pcm), 4096):
            socket.send_audio_chunk_out(pcm[i:i + 4096])
            time.sleep(4096 / 32000 / speed)
        socket.send_close_stream(CloseStream(type="close_stream"))
        for event in socket:
            events += 1
            data = event if isinstance(event, dict) else json.loads(event.json())
            if data.get("is_final"):
                finals.append(data.get("transcript"))
            if data.get("is_last"):
                break
    return finals, events


def test_the_official_sdk_gets_the_same_transcripts_through_the_tap(emulator, pcm16k):
    query = "&sample_rate=16000&encoding=linear16"
    direct = run_vendor_client(emulator.url_for("pulse") + query, emulator.api_key, pcm16k)
    with vl.tap("pulse", emulator.url, announce=False) as tap:
        finals, events = sdk_transcribe(tap.url, emulator.api_key, pcm16k)
        session = tap.session()
        assert session.wait(5)
    assert finals == direct.finals and any(f.strip() for f in finals)
    rec = session.recording
    assert [ev.text for _, ev in rec.events() if ev.kind == "final"] == finals
    assert rec.stats.bytes_sent == len(pcm16k)
    assert "python" in (next(e["user_agent"] for e in rec.of("note") if e.get("tap")) or "").lower()
