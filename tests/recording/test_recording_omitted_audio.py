"""Audio a Recording did not keep reads back as what was received, not as broken messages.

A Recording replaces base64 audio outside its keep window (``keep_audio_seconds=0``, or an agent session
past 60 s of audio) by ``{"omitted_base64_chars": N}``. That placeholder used to reach the Voice Agent
parser as bad base64: every ``reply.audio`` became a ``malformed_message`` error (``stats.errors`` counted
them) and ``vl.plot.timeline`` raised ``MessageError``. Now it parses into the reply-audio event with no
samples and its size, so the duration of the reply is still known.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.plot.frames import FrameLog
from voicelab.protocols.errors import MessageError
from voicelab.protocols.events import AgentReplyAudio, Error
from voicelab.protocols.wire import omitted_payload, omitted_payload_bytes
from voicelab.providers.assemblyai_agent import messages as aai
from voicelab.recording.log import Recording

# 4864 bytes: not a multiple of 3, so the base64 text ends in "==" (the placeholder counts the padding)
REPLY_PCM = bytes(range(256)) * 19
REPLY_SECONDS = len(REPLY_PCM) / (2 * 24000)


def _agent_session(path: Any = None) -> Recording:
    """An agent session whose reply comes after 60 s of audio sent: the default window keeps none of it."""
    rec = Recording(path, provider="assemblyai-agent")  # keep_audio_seconds: the default 60 s
    rec.log("connect", attempt=1, url="ws://127.0.0.1:9/v1/ws")
    rec.log("handshake", ok=True, status=101, audio_offset=0.0)
    rec.message_in(json.dumps({"type": "session.ready", "session_id": "sess-1"}))
    rec.chunk(seq=0, audio_start=60.0, audio_end=60.1, nbytes=4800, data=bytes(4800), encoding="linear16",
              samplerate=24000)
    rec.message_in(json.dumps({"type": "reply.started", "reply_id": "r1"}))
    rec.message_in(json.dumps({"type": "reply.audio", "data": base64.b64encode(REPLY_PCM).decode()}))
    rec.message_in(json.dumps({"type": "transcript.agent", "text": "Hello.", "reply_id": "r1"}))
    rec.message_in(json.dumps({"type": "reply.done", "reply_id": "r1"}))
    rec.log("close", code=1000, reason="", by="clean")
    rec.close()
    return rec


EXPECTED = ["session_ready", "agent_reply_started", "agent_reply_audio", "agent_transcript", "agent_reply_done"]


def _reads_as_received(rec: Recording) -> None:
    events = [ev for _, ev in rec.events()]
    assert [ev.kind for ev in events] == EXPECTED
    assert not [ev for ev in events if isinstance(ev, Error)]
    (audio,) = [ev for ev in events if isinstance(ev, AgentReplyAudio)]
    assert audio.pcm == b"" and len(REPLY_PCM) <= audio.omitted_bytes <= len(REPLY_PCM) + 2
    assert audio.duration == pytest.approx(REPLY_SECONDS, abs=1e-4)
    assert audio.to_dict()["pcm"] == {"length": 0}
    assert rec.stats.errors == 0 and rec.stats.messages_received == 5
    fig = vl.plot.timeline(rec)  # raised MessageError: reply.audio 'data' is not valid base64
    assert fig.axes
    frames = FrameLog.of(rec)  # the EventLog widget's rows and counters
    kinds = [r["k"] for r in frames.rows]
    assert "malformed" not in kinds and "agent_reply_audio" in kinds
    assert frames.state()["errors"] == 0
    codes = [f.code for f in vl.diagnose(rec).findings]
    assert not [c for c in codes if "malformed" in c], codes


def test_reply_audio_the_recording_did_not_keep_is_reply_audio_not_an_error(tmp_path):
    path = tmp_path / "agent.jsonl"
    rec = _agent_session(path)
    (stored,) = [e["message"]["data"] for e in rec.of("recv") if e["message"]["type"] == "reply.audio"]
    assert stored == {"omitted_base64_chars": len(base64.b64encode(REPLY_PCM))}  # the file format is unchanged
    assert "omitted_base64_chars" in path.read_text()
    _reads_as_received(rec)
    loaded = Recording.load(path)
    _reads_as_received(loaded)
    assert [ev.to_dict() for _, ev in loaded.events()] == [ev.to_dict() for _, ev in rec.events()]
    played = vl.replay(path).wait(30)
    assert [ev.kind for _, ev in played.events] == EXPECTED
    assert played.recording.stats.errors == 0


def test_the_other_places_audio_is_left_out_read_cleanly():
    """The agent's sent ``input.audio`` (as a proxy records it) and Pulse's binary chunks past the window."""
    agent = Recording(provider="assemblyai-agent", keep_audio_seconds=0)
    agent.message_out({"type": "input.audio", "audio": base64.b64encode(REPLY_PCM).decode()})
    agent.message_in(json.dumps({"type": "reply.audio", "audio": base64.b64encode(REPLY_PCM).decode()}))
    assert agent.entries[1]["message"]["audio"] == omitted_payload(len(base64.b64encode(REPLY_PCM)))
    assert [ev.kind for _, ev in agent.events()] == ["agent_reply_audio"] and agent.stats.errors == 0
    rows = FrameLog.of(agent).rows
    assert [(r["d"], r["k"]) for r in rows[1:]] == [("out", "input.audio"), ("in", "agent_reply_audio")]

    pulse = Recording(provider="pulse")
    for k in range(3):  # binary chunks past the 60 s window: sizes only, no bytes
        pulse.chunk(seq=k, audio_start=59.9 + k * 0.1, audio_end=60.0 + k * 0.1, nbytes=3200, data=bytes(3200))
    pulse.message_in(b"\x00" * 16)  # a binary frame received: its size only
    pulse.message_in(json.dumps({"type": "transcription", "status": "success", "session_id": "s", "transcript":
                                 "hello", "is_final": True, "is_last": True, "words": []}))
    assert ["data" in c.data for c in pulse.of("chunk")] == [True, False, False]
    assert [ev.kind for _, ev in pulse.events()] == ["final", "turn_end"] and pulse.stats.errors == 0
    assert vl.plot.timeline(pulse).axes and FrameLog.of(pulse).state()["errors"] == 0
    assert not [f for f in vl.diagnose(pulse).findings if "malformed" in f.code]


def test_an_agent_session_recorded_without_audio_replays_its_reply_audio():
    """A real session against the emulator, ``keep_audio_seconds=0``: the Recording has every reply chunk."""
    with vl.serve(engine="sphinx", announce=False, recognizer_options={"processes": 0, "warm": 1}) as server:
        live = vl.stream(DATA / "speech" / "s02_weather_24k.flac", provider="assemblyai-agent", url=server.url,
                         api_key=server.api_key, speed=None, params={"system_prompt": "test"}, keep_audio_seconds=0)
        live.wait(60)
    rec = live.recording
    assert "omitted_base64_chars" in "".join(e.to_json() for e in rec.of("recv"))
    live_audio = [ev for _, ev in live.events if isinstance(ev, AgentReplyAudio)]
    recorded = [ev for _, ev in rec.events()]
    audio = [ev for ev in recorded if isinstance(ev, AgentReplyAudio)]
    assert live_audio and len(audio) == len(live_audio) and all(ev.pcm == b"" for ev in audio)
    assert [ev.kind for ev in recorded] == [ev.kind for _, ev in live.events]
    assert sum(ev.duration for ev in audio) == pytest.approx(sum(ev.duration for ev in live_audio), abs=2e-3)
    assert rec.stats.errors == 0 and FrameLog.of(rec).state()["errors"] == 0
    assert vl.plot.timeline(rec).axes


def test_the_parser_takes_the_placeholder_and_still_refuses_bad_base64():
    msg = {"type": "reply.audio", "data": omitted_payload(8)}
    (ev,) = aai.parse(json.dumps(msg))
    assert isinstance(ev, AgentReplyAudio) and ev.pcm == b"" and ev.omitted_bytes == 6
    assert omitted_payload_bytes("QUJD") is None and omitted_payload_bytes({"omitted_base64_chars": True}) is None
    for bad in ({"omitted_base64_chars": "8"}, {"length": 8}, "not base64!"):
        with pytest.raises(MessageError, match="not valid base64"):
            aai.parse(json.dumps({"type": "reply.audio", "data": bad}))
