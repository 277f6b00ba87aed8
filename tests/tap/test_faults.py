"""Faults injected by the tap on live connections to the emulator: seen by the client, diagnosed from the Recording."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from websockets.exceptions import InvalidStatus

import voicelab as vl

from .conftest import SPEECH, run_vendor_client


def test_a_close_fault_reaches_the_client_and_is_diagnosed_from_the_recording(emulator, pcm16k):
    with vl.tap("pulse", emulator.url, announce=False, faults="close_after_chunks:10;close_code:1011") as tap:
        got = run_vendor_client(tap.url_for(), emulator.api_key, pcm16k)
        session = tap.session()
        assert session.wait(5)
    assert (got.close_code, got.close_reason) == (1011, "injected fault")  # what the app saw
    assert (session.close_code, session.closed_by) == (1011, "tap")
    rec = session.recording
    assert rec.stats.chunks_sent == 10
    diagnosis = vl.diagnose(rec)
    closed = [f for f in diagnosis.findings if f.code == "server_closed"]
    assert closed and closed[0].evidence["close_code"] == 1011 and closed[0].severity == "error"
    assert any(e.get("fault") == "close" for e in rec.of("note"))


def test_a_drop_fault_makes_voicelabs_client_reconnect_and_each_connection_is_a_session(emulator):
    clip = vl.load(str(SPEECH)).slice(end=3.0)
    with vl.tap("pulse", emulator.url, announce=False, faults="drop_after_chunks:12") as tap:
        stream = vl.stream(clip, provider="pulse", url=tap.url, api_key=emulator.api_key, speed=4.0)
        tap.session(0, timeout=10)
        tap.faults = None  # only the first connection drops; the reconnect goes through
        stream.wait()
        sessions = tap.sessions
        for s in sessions:
            s.wait(5)
    assert stream.recording.stats.reconnects >= 1  # the client saw the drop and recovered
    assert stream.transcript.strip()
    assert len(sessions) >= 2 and sessions[0].close_code == 1006 and sessions[0].closed_by == "tap"
    first = vl.diagnose(sessions[0].recording)
    assert any(f.code == "dropped" for f in first.findings)


def test_a_per_connection_reject_fault_refuses_the_upgrade_like_the_emulator(emulator):
    async def main(url: str) -> None:
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(url, additional_headers={"Authorization": f"Bearer {emulator.api_key}"})
        resp = info.value.response
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
        assert "error" in json.loads(resp.body)

    with vl.tap("pulse", emulator.url, announce=False) as tap:
        asyncio.run(main(tap.url_for() + "&vl_fault=reject:429;retry_after:2"))
        session = tap.session()
    hs = session.recording.of("handshake")[0]
    assert (hs["ok"], hs["status"], hs["retry_after"]) == (False, 429, 2.0)
    assert "vl_fault" not in session.recording.header["endpoint"]


def test_a_latency_fault_delays_every_server_message(emulator, pcm16k):
    async def first_answer(url: str) -> float:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {emulator.api_key}"}) as ws:
            t0 = time.monotonic()
            await ws.send(pcm16k[:4096])
            await ws.recv()
            return time.monotonic() - t0

    with vl.tap("pulse", emulator.url, announce=False, faults="latency:0.4") as tap:
        delayed = asyncio.run(first_answer(tap.url_for()))
    with vl.tap("pulse", emulator.url, announce=False) as tap:
        plain = asyncio.run(first_answer(tap.url_for()))
    assert delayed >= 0.4 > plain


def test_faults_only_the_emulator_can_apply_are_refused():
    with pytest.raises(vl.FaultSpecError, match="slowdown"):
        vl.tap("pulse", "ws://127.0.0.1:9", faults="slowdown:2", announce=False)
    with pytest.raises(vl.FaultSpecError, match="unknown fault"):
        vl.tap("pulse", "ws://127.0.0.1:9", faults="explode:1", announce=False)
