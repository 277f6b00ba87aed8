"""Clients the user did not write, through the tap to the emulator (sphinx): same transcripts, a full Recording."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import websockets

import voicelab as vl
from voicelab.recording.log import Recording
from voicelab.recording.metrics import compute_metrics

from .conftest import SPEECH, run_vendor_client


def _finals(rec: Recording) -> list[str]:
    return [ev.text for _, ev in rec.events() if ev.kind == "final"]


def test_a_vendor_style_client_gets_the_same_transcripts_through_the_tap(emulator, pcm16k, tmp_path):
    query = "&word_timestamps=true"  # the vendor's parameter that gives final latency its word times
    direct = run_vendor_client(emulator.url_for("pulse") + query, emulator.api_key, pcm16k)
    with vl.tap("pulse", emulator.url, announce=False, record=tmp_path / "s.jsonl") as tap:
        tapped = run_vendor_client(tap.url_for() + query, emulator.api_key, pcm16k)
        session = tap.session()
        assert session.wait(5)
    assert direct.finals and any(f.strip() for f in direct.finals)
    assert tapped.finals == direct.finals
    assert tapped.close_code == direct.close_code == 1000
    rec = Recording.load(tmp_path / "s.jsonl")  # the file reads back like one voicelab's client wrote
    assert [f for f in _finals(rec)] == tapped.finals
    st = rec.stats
    assert st.chunks_sent == -(-len(pcm16k) // 4096) and st.bytes_sent == len(pcm16k)
    assert abs(st.audio_seconds_sent - len(pcm16k) / 32000) < 1e-6
    assert st.messages_received == len(tapped.messages)
    assert st.close_codes == (1000,)
    assert emulator.api_key not in (tmp_path / "s.jsonl").read_text()
    metrics = compute_metrics(rec)
    assert metrics["first_response"].n == 1 and metrics["final_latency"].n >= 1


def test_voicelab_client_through_the_tap_two_recordings_of_one_session_agree(emulator):
    clip = vl.load(str(SPEECH))
    with vl.tap("pulse", emulator.url, announce=False) as tap:
        stream = vl.stream(clip, provider="pulse", url=tap.url, api_key=emulator.api_key, speed=4.0)
        stream.wait()
        session = tap.session()
        session.wait(5)
    client_rec, tap_rec = stream.recording, session.recording
    assert _finals(tap_rec) == _finals(client_rec) and _finals(client_rec)
    a, b = client_rec.of("chunk"), tap_rec.of("chunk")
    assert [(c["bytes"], round(c["audio_end"], 6)) for c in a] == [(c["bytes"], round(c["audio_end"], 6)) for c in b]
    ma, mb = compute_metrics(client_rec), compute_metrics(tap_rec)
    for name in ("first_response", "final_latency"):
        va, vb = ma[name], mb[name]
        assert va.n == vb.n, name
        # the tap sees each chunk a little after the client sent it and each answer a little before the client
        assert abs(np.median(va.values) - np.median(vb.values)) < 0.05, (name, va.values, vb.values)


def test_an_agent_client_through_the_tap_records_its_base64_audio_as_chunks(emulator):
    """A plain-websockets Voice Agent client (AssemblyAI's documented flow), G.711 declared in session.update."""
    pcm = vl.load(str(SPEECH)).resample(8000).to_int16()
    from voicelab.audio.g711 import int16_to_mulaw

    ulaw = int16_to_mulaw(pcm).tobytes()
    seconds = 2.0
    ulaw = ulaw[: int(8000 * seconds)]

    async def agent(url: str) -> list[str]:
        types = []
        headers = {"Authorization": f"Bearer {emulator.api_key}"}
        async with websockets.connect(url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "session.update",
                                      "session": {"input": {"format": {"encoding": "audio/pcmu"}}}}))
            while True:
                msg = json.loads(await ws.recv())
                types.append(msg["type"])
                if msg["type"] == "session.ready":
                    break
            for i in range(0, len(ulaw), 400):  # 50 ms of 8 kHz G.711
                chunk = base64.b64encode(ulaw[i:i + 400]).decode()
                await ws.send(json.dumps({"type": "input.audio", "audio": chunk}))
            await ws.send(json.dumps({"type": "session.end"}))
            async for raw in ws:
                types.append(json.loads(raw)["type"])
        return types

    with vl.tap("assemblyai-agent", emulator.url, announce=False) as tap:
        types = asyncio.run(agent(tap.url_for()))
        session = tap.session()
        session.wait(5)
    assert "session.ended" in types
    rec = session.recording
    st = rec.stats
    assert st.chunks_sent == len(ulaw) // 400 and st.bytes_sent == len(ulaw)
    assert abs(st.audio_seconds_sent - seconds) < 1e-6  # 8000 B/s, read from session.update, not 24 kHz PCM16
    assert [e.get("message", {}).get("type") for e in rec.of("send")] == ["session.update", "session.end"]
    assert any(e.get("audio_format", {}).get("source") == "message" for e in rec.of("note"))
    assert session.close_code == 1000 and session.closed_by == "server"
    assert rec.session_ids()


def test_widgets_follow_a_tap_and_its_sessions(emulator, pcm16k):
    from voicelab.widgets import Timeline

    with vl.tap("pulse", emulator.url, announce=False) as tap:
        try:
            Timeline(tap)
        except vl.NoTapSessionError as exc:
            assert "connect the app" in str(exc)
        else:
            raise AssertionError("a tap without sessions has nothing to show")
        run_vendor_client(tap.url_for(), emulator.api_key, pcm16k[: 32000 * 2])
        tap.session().wait(5)
        view = Timeline(tap)
        assert view.recording is tap.session().recording
        view.wait(5)
        assert view.status == "done" and view.log.items
