"""The AssemblyAI Voice Agent emulator driven by plain websockets clients, written the way AssemblyAI's docs do.

``Authorization: Bearer <key>`` on the upgrade, ``session.update`` as the first message, base64
``input.audio`` in 50 ms chunks paced with ``asyncio.sleep`` (a "microphone" that sends silence between
utterances), and JSON events read in a loop. The sphinx engine checks behaviour and event structure, never
its text; one whisper test checks the user transcript of a data file.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest
import soundfile as sf
import websockets

import voicelab.emulator as emulator
from tests.emulator.urls import agent_url, token_url
from voicelab.audio.g711 import mulaw_to_int16
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.emulator.route import route as agent_route
from voicelab.recording.metrics import normalize_words

DATA = Path(__file__).resolve().parents[2] / "data"
CHUNK = 2400  # 50 ms of 24 kHz PCM16
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get weather for a city. Call when the user asks about weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TURN_ORDER = ["input.speech.started", "input.speech.stopped", "transcript.user"]
REPLY_ORDER = ["reply.started", "transcript.agent", "reply.done"]

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def server():
    with emulator.serve(engine="sphinx", announce=False) as running:
        yield running


def speech24(name: str) -> bytes:
    """A data file as 24 kHz PCM16 bytes."""
    audio, rate = sf.read(str(DATA / "speech" / name), dtype="int16")
    assert rate == 24000
    return audio.tobytes()


def manifest_transcript(path: str) -> str:
    entries = json.loads((DATA / "manifest.json").read_text())["files"]
    return next(e["transcript"] for e in entries if e["path"] == path)


class Agent:
    """A docs-style client: one reader task collecting events and one paced microphone task."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.pending = bytearray()
        self._new = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = [asyncio.create_task(self._read())]
        self.closed = False

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                msg["_t"] = time.monotonic()
                self.events.append(msg)
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._new.set()

    async def _mic(self) -> None:
        t0 = time.monotonic()
        k = 0
        while True:
            await asyncio.sleep(max(0.0, t0 + k * 0.05 - time.monotonic()))
            chunk = bytes(self.pending[:CHUNK]) or bytes(CHUNK)
            del self.pending[:CHUNK]
            await self.send({"type": "input.audio", "audio": base64.b64encode(chunk).decode("ascii")})
            k += 1

    def mic_on(self) -> None:
        """Start streaming: silence, and whatever `say` queued."""
        self._tasks.append(asyncio.create_task(self._mic()))

    def say(self, pcm: bytes, *, trailing_silence: float = 1.0) -> None:
        self.pending += pcm + bytes(int(trailing_silence * 24000) * 2)

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(msg))

    def of(self, kind: str, start: int = 0) -> list[dict[str, Any]]:
        return [m for m in self.events[start:] if m["type"] == kind]

    async def wait_for(self, kind: str, *, start: int = 0, count: int = 1, timeout: float = 30.0, **match: Any) -> int:
        """Wait until `count` events of `kind` (with fields equal to `match`) arrived after index `start`.

        Returns:
            The index of the last one.
        """
        deadline = time.monotonic() + timeout
        while True:
            hits = [
                i
                for i, m in enumerate(self.events)
                if i >= start and m["type"] == kind and all(m.get(k) == v for k, v in match.items())
            ]
            if len(hits) >= count:
                return hits[count - 1]
            if self.closed:
                raise AssertionError(f"closed before {count} x {kind}; got {[m['type'] for m in self.events]}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {count} x {kind} within {timeout} s; got {[m['type'] for m in self.events]}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except TimeoutError:
                pass

    async def wait_closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        await asyncio.wait_for(self.ws.wait_closed(), timeout)
        return self.ws.close_code, self.ws.close_reason

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ws.close()


async def connect(
    server: Any,
    session: dict[str, Any] | None = None,
    *,
    first: dict[str, Any] | None = None,
    url: str | None = None,
    bearer: bool = True,
) -> Agent:
    headers = {"Authorization": f"Bearer {server.api_key}"} if bearer else {}
    ws = await websockets.connect(url or agent_url(server), additional_headers=headers, max_size=None)
    agent = Agent(ws)
    try:
        await agent.send(first or {"type": "session.update", "session": session or {}})
    except websockets.ConnectionClosed:
        pass  # refused credentials: the server may have sent session.error and closed already
    return agent


def types(events: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in events]


def reply_pcm(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(m["data"]) for m in events if m["type"] == "reply.audio")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def collapse(kinds: list[str]) -> list[str]:
    """Squeeze runs of the same event type (``reply.audio``*, ``transcript.user.delta``*) to one."""
    out: list[str] = []
    for k in kinds:
        if not out or out[-1] != k:
            out.append(k)
    return out


# --------------------------------------------------------------------------- a full turn


def test_full_turn_order_and_real_reply_audio(server):
    async def main() -> None:
        agent = await connect(server, {"system_prompt": "Be brief.", "output": {"voice": "ivy"}})
        ready = agent.events[await agent.wait_for("session.ready")]
        assert ready["session_id"].startswith("sess_") and len(ready["session_id"]) == 37
        agent.mic_on()
        agent.say(speech24("s01_fox_24k.flac"))
        done = await agent.wait_for("reply.done", timeout=40)
        await agent.stop()
        events = agent.events[: done + 1]
        kinds = [k for k in types(events) if k != "session.ready"]
        assert collapse(kinds) == [
            "input.speech.started",
            "transcript.user.delta",
            "input.speech.stopped",
            "transcript.user",
            "reply.started",
            "reply.audio",
            "transcript.agent",
            "reply.done",
        ]
        user = agent.of("transcript.user")[0]
        assert user["text"] and user["item_id"].startswith("item_")
        deltas = agent.of("transcript.user.delta")
        assert all(d["text"] for d in deltas)
        started, said, finished = (
            agent.of("reply.started")[0],
            agent.of("transcript.agent")[0],
            agent.of("reply.done")[0],
        )
        assert said["reply_id"] == started["reply_id"] and said["interrupted"] is False
        assert said["item_id"].startswith("item_") and said["item_id"] != user["item_id"]
        assert user["text"] in said["text"]  # the scripted brain repeats what it heard
        assert "status" not in finished
        # The reply audio is real speech: 50 ms PCM16 chunks, paced in real time, loud and voiced.
        chunks = [m for m in events if m["type"] == "reply.audio"]
        sizes = [len(base64.b64decode(m["data"])) for m in chunks]
        assert all(s == CHUNK for s in sizes[:-1]) and 0 < sizes[-1] <= CHUNK
        pcm = np.frombuffer(reply_pcm(events), dtype="<i2").astype(np.float32) / 32768
        duration = len(pcm) / 24000
        assert abs(duration - len(chunks) * 0.05) < 0.05
        assert 0.15 * len(said["text"].split()) < duration < 1.0 * len(said["text"].split())
        frames = pcm[: len(pcm) // 240 * 240].reshape(-1, 240)
        levels = np.sqrt((frames**2).mean(axis=1))
        assert np.sqrt((pcm**2).mean()) > 0.01
        assert 0.3 < (levels > 0.01).mean() < 0.98  # speech: mostly voiced, with pauses between words
        spread = chunks[-1]["_t"] - chunks[0]["_t"]
        assert spread > 0.7 * (len(chunks) - 1) * 0.05  # paced, not dumped at once
        assert said["_t"] - chunks[-1]["_t"] >= 0.5 * sizes[-1] / 48000  # after the last chunk has played

    run(main())


def test_greeting_is_spoken_first_in_the_configured_output_encoding(server):
    async def main() -> None:
        greeting = "Hello, thanks for calling the test line."
        agent = await connect(server, {"greeting": greeting, "output": {"format": {"encoding": "audio/pcmu"}}})
        done = await agent.wait_for("reply.done", timeout=20)
        events = agent.events[: done + 1]
        assert collapse(types(events)) == ["session.ready", *REPLY_ORDER[:1], "reply.audio", *REPLY_ORDER[1:]]
        assert agent.of("transcript.agent")[0]["text"] == greeting
        chunks = [base64.b64decode(m["data"]) for m in events if m["type"] == "reply.audio"]
        assert all(len(c) == 400 for c in chunks[:-1])  # 50 ms of 8 kHz G.711
        pcm = mulaw_to_int16(np.frombuffer(b"".join(chunks), dtype=np.uint8)).astype(np.float32) / 32768
        assert np.sqrt((pcm**2).mean()) > 0.01
        # greeting is immutable after ready; other fields update
        await agent.send({"type": "session.update", "session": {"greeting": "Something else."}})
        err = agent.events[await agent.wait_for("session.error", start=done)]
        assert err["code"] == "immutable_field"
        await agent.send({"type": "session.update", "session": {"system_prompt": "Shorter."}})
        await agent.wait_for("session.updated", start=done)
        await agent.stop()

    run(main())


def test_reply_create_speaks_the_instruction(server):
    async def main() -> None:
        agent = await connect(server, {})
        await agent.wait_for("session.ready")
        await agent.send({"type": "reply.create", "instructions": "Say: your order has shipped."})
        await agent.wait_for("reply.done", timeout=20)
        assert agent.of("transcript.agent")[0]["text"] == "Your order has shipped."
        assert len(agent.of("reply.audio")) > 5
        await agent.stop()

    run(main())


# --------------------------------------------------------------------------- barge-in


def test_barge_in_interrupts_the_reply(server):
    async def main() -> None:
        agent = await connect(server, {})
        await agent.wait_for("session.ready")
        agent.mic_on()
        agent.say(speech24("s01_fox_24k.flac"), trailing_silence=0.0)
        started = await agent.wait_for("reply.started", timeout=30)
        await agent.wait_for("reply.audio", start=started, count=20)  # 1 s into the reply
        agent.say(speech24("s01_fox_24k.flac"))
        done = await agent.wait_for("reply.done", start=started, timeout=20)
        await agent.stop()
        tail = agent.events[started : done + 1]
        assert collapse([k for k in types(tail) if k != "transcript.user.delta"]) == [
            "reply.started",
            "reply.audio",
            "input.speech.started",
            "transcript.agent",
            "reply.done",
        ]
        said, finished = agent.of("transcript.agent")[0], agent.events[done]
        assert said["interrupted"] is True and finished["status"] == "interrupted"
        full = 'You said: "' + agent.of("transcript.user")[0]["text"] + '". I am a scripted test agent.'
        assert said["text"] and full.startswith(said["text"]) and len(said["text"]) < len(full)
        played = len(reply_pcm(tail)) / 48000
        assert played < 3.0  # the audio stopped at the barge-in

    run(main())


def test_no_barge_in_when_interrupt_response_is_false(server):
    async def main() -> None:
        agent = await connect(server, {"input": {"turn_detection": {"interrupt_response": False}}})
        await agent.wait_for("session.ready")
        await agent.send(
            {"type": "reply.create", "instructions": "Say: this sentence plays to the end whatever you do."}
        )
        started = await agent.wait_for("reply.started", timeout=20)
        agent.mic_on()
        agent.say(speech24("s01_fox_24k.flac"))
        await agent.wait_for("input.speech.started", start=started)
        done = await agent.wait_for("reply.done", start=started)
        await agent.stop()
        assert "status" not in agent.events[done]
        said = agent.of("transcript.agent")[0]
        assert said["text"] == "This sentence plays to the end whatever you do." and said["interrupted"] is False

    run(main())


def test_echo_loop_interrupts_the_agent_and_is_diagnosed(server, caplog):
    """Seed symptom: with no echo cancellation the agent hears its own reply and interrupts itself."""

    async def main() -> None:
        greeting = "Hello and welcome to the voicelab test line. How can I help you today?"
        agent = await connect(server, {"greeting": greeting})
        await agent.wait_for("session.ready")
        agent.mic_on()
        seen = 0
        while not agent.of("reply.done"):  # a speaker next to the microphone: replay each chunk at half level
            for m in agent.of("reply.audio")[seen:]:
                agent.pending += (np.frombuffer(base64.b64decode(m["data"]), "<i2") // 2).astype("<i2").tobytes()
                seen += 1
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # the echo check runs after the interruption
        await agent.stop()
        said = agent.of("transcript.agent")[0]
        assert said["interrupted"] is True and greeting.startswith(said["text"]) and len(said["text"]) < 20
        assert agent.of("reply.done")[0]["status"] == "interrupted"

    with caplog.at_level("WARNING", logger="voicelab.providers.assemblyai_agent.emulator"):
        run(main())
    assert any("the agent hears itself" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- tools


@pytest.fixture(scope="module")
def weather_question() -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from voicelab.providers.assemblyai_agent.emulator import EspeakSynthesizer

    speech = EspeakSynthesizer().synthesize("What is the weather in Paris?", voice="winter")
    return speech.to_bytes()


@needs_espeak
def test_tool_call_round_trip(whisper_server, weather_question):
    async def main() -> None:
        agent = await connect(whisper_server, {"tools": [WEATHER_TOOL]})
        await agent.wait_for("session.ready")
        agent.mic_on()
        agent.say(weather_question)
        call_at = await agent.wait_for("tool.call", timeout=40)
        call = agent.events[call_at]
        assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
        assert call["call_id"]
        filler_done = await agent.wait_for("reply.done", start=call_at)  # send tool.result only after reply.done
        await agent.send({"type": "tool.result", "call_id": call["call_id"], "result": json.dumps({"temp_c": 22})})
        done = await agent.wait_for("reply.done", start=filler_done + 1, timeout=20)
        await agent.stop()
        kinds = collapse(types(agent.events[call_at - 1 : done + 1]))
        assert kinds == [
            "reply.started",
            "tool.call",
            "reply.audio",
            *REPLY_ORDER[1:],
            *REPLY_ORDER[:1],
            "reply.audio",
            *REPLY_ORDER[1:],
        ]
        follow_up = agent.of("transcript.agent")[-1]["text"]
        assert "22" in follow_up and "Paris" in follow_up
        assert "weather in paris" in " ".join(normalize_words(agent.of("transcript.user")[0]["text"]))

    run(main())


def test_tool_timeout_falls_back(whisper_server, weather_question):
    async def main() -> None:
        agent = await connect(whisper_server, {"tools": [{**WEATHER_TOOL, "timeout_seconds": 1}]})
        await agent.wait_for("session.ready")
        agent.mic_on()
        agent.say(weather_question)
        call_at = await agent.wait_for("tool.call", timeout=40)
        filler_done = await agent.wait_for("reply.done", start=call_at)
        t_done = agent.events[filler_done]["_t"]
        started = await agent.wait_for("reply.started", start=filler_done, timeout=10)
        assert 0.9 < agent.events[started]["_t"] - t_done < 3.0
        await agent.wait_for("reply.done", start=started)
        assert agent.of("transcript.agent")[-1]["text"] == "Sorry, the get_weather tool did not answer in time."
        # a late result is ignored; an unknown call_id is an error, and the socket stays open
        call_id = agent.events[call_at]["call_id"]
        mark = len(agent.events)
        await agent.send({"type": "tool.result", "call_id": call_id, "result": "{}"})
        await agent.send({"type": "tool.result", "call_id": "call_nope", "result": "{}"})
        err = agent.events[await agent.wait_for("session.error", start=mark)]
        assert err["code"] == "invalid_value" and err["param"] == "call_id" and "call_nope" in err["message"]
        assert not agent.of("reply.started", mark)
        await agent.stop()

    run(main())


# --------------------------------------------------------------------------- hold-mode tools (issue 15, item 9)

HOLD_TOOL = {**WEATHER_TOOL, "execution_mode": "hold", "timeout_seconds": 60}
ASK_FOR_THE_TOOL = {"type": "reply.create", "instructions": "Check the weather in Paris."}


def test_reply_create_during_a_hold_is_spoken_at_once(server):
    """Hold mode: "Send ``reply.create`` (with optional ``instructions``) DURING the hold to deliver status updates";
    the agent emits no ``reply.started`` for the hold itself, and ``tool.result`` fires the next reply.

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """

    async def main() -> None:
        agent = await connect(server, {"tools": [HOLD_TOOL]})
        await agent.wait_for("session.ready")
        await agent.send(ASK_FOR_THE_TOOL)  # one-shot instructions that ask for a declared tool call it
        call_at = await agent.wait_for("tool.call", timeout=20)
        call = agent.events[call_at]
        assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
        assert not agent.of("reply.started")  # held: the agent stays silent
        await agent.send({"type": "reply.create", "instructions": "Say: still checking, one moment."})
        update_done = await agent.wait_for("reply.done", start=call_at, timeout=20)  # while the tool still runs
        assert agent.of("transcript.agent")[0]["text"] == "Still checking, one moment."
        await agent.send({"type": "tool.result", "call_id": call["call_id"], "result": json.dumps({"temp_c": 22})})
        done = await agent.wait_for("reply.done", start=update_done + 1, timeout=20)
        await agent.stop()
        assert collapse(types(agent.events[call_at : done + 1])) == [
            "tool.call",
            *REPLY_ORDER[:1],
            "reply.audio",
            *REPLY_ORDER[1:],
            *REPLY_ORDER[:1],
            "reply.audio",
            *REPLY_ORDER[1:],
        ]
        assert agent.of("transcript.agent")[-1]["text"] == "Here is the weather in Paris: temp c 22."
        assert len(agent.of("reply.started")) == 2  # the status update and the follow-up; no duplicate

    run(main())


def test_user_speech_during_a_hold_is_held_flushed_at_its_end_and_never_answered(server):
    """Hold mode: "``transcript.user.delta`` / ``transcript.user`` are NOT emitted in real time during a hold — they
    flush when the hold ends", and "user-triggered replies are suppressed": the turn gets no reply, not even later.

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """

    async def main() -> None:
        agent = await connect(server, {"tools": [HOLD_TOOL]})
        await agent.wait_for("session.ready")
        await agent.send(ASK_FOR_THE_TOOL)
        call_at = await agent.wait_for("tool.call", timeout=20)
        agent.mic_on()
        agent.say(speech24("s01_fox_24k.flac"))
        await agent.wait_for("input.speech.started", start=call_at, timeout=30)  # speech events still go out
        await agent.wait_for("input.speech.stopped", start=call_at, timeout=30)
        await asyncio.sleep(2.0)  # the recognizer's final has come by now: held back
        assert not agent.of("transcript.user") and not agent.of("transcript.user.delta")
        assert not agent.of("reply.started")
        mark = len(agent.events)
        call_id = agent.events[call_at]["call_id"]
        await agent.send({"type": "tool.result", "call_id": call_id, "result": json.dumps({"temp_c": 22})})
        started = await agent.wait_for("reply.started", start=mark, timeout=20)
        flushed = types(agent.events[mark:started])
        assert "transcript.user" in flushed and "transcript.user.delta" in flushed
        assert flushed.index("transcript.user") > flushed.index("transcript.user.delta")
        await agent.wait_for("reply.done", start=started, timeout=20)
        await asyncio.sleep(2.0)
        await agent.stop()
        assert len(agent.of("reply.started")) == 1  # only the tool's follow-up: the user's turn was not queued
        assert agent.of("transcript.agent")[0]["text"] == "Here is the weather in Paris: temp c 22."

    run(main())


# --------------------------------------------------------------------------- ending, resuming


def test_session_end_reports_durations_then_closes_1000(server):
    async def main() -> None:
        agent = await connect(server, {})
        await agent.wait_for("session.ready")
        for _ in range(10):  # 0.5 s of audio
            await agent.send({"type": "input.audio", "audio": base64.b64encode(bytes(CHUNK)).decode()})
            await asyncio.sleep(0.05)
        await agent.send({"type": "session.end"})
        ended = agent.events[await agent.wait_for("session.ended")]
        code, _ = await agent.wait_closed()
        assert code == 1000
        assert ended["audio_duration_seconds"] == pytest.approx(0.5, abs=1e-6)
        assert 0.4 < ended["session_duration_seconds"] < 5.0
        assert ended["timestamp"].endswith("Z")
        # session.end leaves nothing to resume
        again = await connect(
            server, first={"type": "session.resume", "session_id": agent.of("session.ready")[0]["session_id"]}
        )
        err = agent_err = again.events[await again.wait_for("session.error")]
        assert agent_err["code"] == "session_not_found" and err["message"]
        assert (await again.wait_closed())[0] == 1008

    run(main())


def test_session_end_without_audio_has_null_audio_duration(server):
    async def main() -> None:
        agent = await connect(server, {})
        await agent.wait_for("session.ready")
        await agent.send({"type": "session.end"})
        ended = agent.events[await agent.wait_for("session.ended")]
        assert ended["audio_duration_seconds"] is None
        assert (await agent.wait_closed())[0] == 1000

    run(main())


def test_resume_within_grace_window_restores_the_session(server):
    async def main() -> None:
        greeting = "Welcome back."
        agent = await connect(server, {"greeting": greeting, "tools": [WEATHER_TOOL]})
        sid = agent.events[await agent.wait_for("session.ready")]["session_id"]
        await agent.wait_for("reply.done", timeout=20)
        await agent.send({"type": "input.audio", "audio": base64.b64encode(bytes(CHUNK * 4)).decode()})
        await asyncio.sleep(0.1)
        await agent.stop()  # a drop: no session.end
        await asyncio.sleep(0.2)
        again = await connect(server, first={"type": "session.resume", "session_id": sid})
        ready = again.events[await again.wait_for("session.ready")]
        assert ready["session_id"] == sid
        await asyncio.sleep(0.3)
        assert not again.of("reply.started")  # the greeting is not repeated
        # the configuration came back: the greeting is still immutable, the brain still answers
        await again.send({"type": "session.update", "session": {"greeting": "Different."}})
        assert again.events[await again.wait_for("session.error")]["code"] == "immutable_field"
        await again.send({"type": "reply.create", "instructions": "Say: still here."})
        await again.wait_for("reply.done", timeout=20)
        assert again.of("transcript.agent")[0]["text"] == "Still here."
        await again.send({"type": "session.end"})
        ended = again.events[await again.wait_for("session.ended")]
        assert ended["audio_duration_seconds"] == pytest.approx(0.2, abs=1e-6)
        assert ended["session_duration_seconds"] > 0.5  # counted from the first connection
        assert (await again.wait_closed())[0] == 1000

    run(main())


def test_resume_unknown_or_expired_session_is_not_found():
    async def main(server: Any) -> None:
        unknown = await connect(server, first={"type": "session.resume", "session_id": "sess_" + "0" * 32})
        err = unknown.events[await unknown.wait_for("session.error")]
        assert err["code"] == "session_not_found" and "grace window" in err["message"]
        assert (await unknown.wait_closed())[0] == 1008
        agent = await connect(server, {})
        sid = agent.events[await agent.wait_for("session.ready")]["session_id"]
        await agent.stop()
        await asyncio.sleep(0.8)
        late = await connect(server, first={"type": "session.resume", "session_id": sid})
        assert late.events[await late.wait_for("session.error")]["code"] == "session_not_found"
        assert (await late.wait_closed())[0] == 1008

    with emulator.serve(engine="sphinx", announce=False, resume_grace_seconds=0.3) as server:
        run(main(server))


def test_max_session_duration_ends_with_session_expired():
    """The token's ``max_session_duration_seconds`` ends the session: session_expired, session.ended, 1008."""

    def accept(req: Any) -> Any:  # the real check, with a 2 s cap instead of 3 h
        return wire.accept_upgrade(
            path=req.route,
            query=req.query,
            headers=req.headers,
            now=time.time(),
            api_keys=[req.server.api_key],
            max_session_duration_seconds=2,
        )

    provider = dataclasses.replace(agent_route(), accept=accept)

    async def main(server: Any) -> None:
        agent = await connect(server, {})
        await agent.wait_for("session.ready")
        agent.mic_on()
        err = agent.events[await agent.wait_for("session.error", timeout=5)]
        ended = agent.events[await agent.wait_for("session.ended")]
        assert err["code"] == "session_expired"
        assert 1.9 < ended["session_duration_seconds"] < 3.0 and ended["audio_duration_seconds"] > 0.5
        assert (await agent.wait_closed())[0] == 1008
        await agent.stop()
        resumed = await connect(
            server, first={"type": "session.resume", "session_id": agent.of("session.ready")[0]["session_id"]}
        )
        assert resumed.events[await resumed.wait_for("session.error")]["code"] == "session_not_found"

    with emulator.serve(engine="sphinx", announce=False, routes=[provider]) as server:
        run(main(server))


# --------------------------------------------------------------------------- auth, tokens, errors


def _mint(server: Any, **query: Any) -> str:
    qs = "&".join(f"{k}={v}" for k, v in {"expires_in_seconds": 60, **query}.items())
    req = urllib.request.Request(f"{token_url(server)}?{qs}", headers={"Authorization": f"Bearer {server.api_key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["expires_in_seconds"] == 60
    return str(body["token"])


def test_temporary_token_works_once(server):
    token = _mint(server)

    async def main() -> None:
        url = f"{agent_url(server)}?token={token}"
        first = await connect(server, {}, url=url, bearer=False)
        assert first.events[await first.wait_for("session.ready")]["session_id"].startswith("sess_")
        await first.send({"type": "session.end"})
        assert (await first.wait_closed())[0] == 1000
        second = await connect(server, {}, url=url, bearer=False)
        err = second.events[await second.wait_for("session.error")]
        assert err["code"].lower() == "unauthorized"
        assert (await second.wait_closed())[0] == 1008
        assert not second.of("session.ready")
        assert token not in json.dumps(err) and server.api_key not in json.dumps(err)

    run(main())


def test_bad_key_gets_unauthorized_then_1008(server):
    async def main() -> None:
        ws = await websockets.connect(agent_url(server), additional_headers={"Authorization": "Bearer sk_wrong"})
        msg = json.loads(await ws.recv())
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert msg["type"] == "session.error" and msg["code"] == "UNAUTHORIZED"
        assert ws.close_code == 1008

    run(main())


def test_invalid_base64_is_invalid_audio_and_the_socket_stays_open(server):
    async def main() -> None:
        agent = await connect(server, {})
        await agent.wait_for("session.ready")
        await agent.send({"type": "input.audio", "audio": "not base64!!"})
        err = agent.events[await agent.wait_for("session.error")]
        assert err["code"] == "invalid_audio" and err["param"] == "audio"
        wav = b"RIFF" + bytes(CHUNK)
        await agent.send({"type": "input.audio", "audio": base64.b64encode(wav).decode()})
        assert agent.events[await agent.wait_for("session.error", count=2)]["code"] == "invalid_audio"
        await agent.send({"type": "input.audio"})  # missing field
        assert agent.events[await agent.wait_for("session.error", count=3)]["code"] == "invalid_format"
        await agent.send({"type": "session.update", "session": {"system_prompt": "still open"}})
        await agent.wait_for("session.updated")
        assert not agent.closed
        await agent.stop()

    run(main())


def test_audio_before_ready_is_invalid_format(server):
    async def main() -> None:
        audio = {"type": "input.audio", "audio": base64.b64encode(bytes(CHUNK)).decode()}
        agent = await connect(server, first=audio)
        err = agent.events[await agent.wait_for("session.error")]
        assert err["code"] == "invalid_format" and "session.update first" in err["message"]
        await agent.send({"type": "session.update", "session": {}})
        await agent.wait_for("session.ready")
        await agent.stop()

    run(main())


def test_telephony_input_is_recognised(server):
    """``audio/pcmu`` input (8 kHz G.711) goes through the same turn detection."""
    from voicelab.audio.g711 import int16_to_mulaw

    async def main() -> None:
        agent = await connect(server, {"input": {"format": {"encoding": "audio/pcmu"}}})
        await agent.wait_for("session.ready")
        pcm = np.frombuffer(speech24("s01_fox_24k.flac"), dtype="<i2")[::3].copy()  # 8 kHz (aliasing is fine here)
        ulaw = int16_to_mulaw(np.concatenate([pcm, np.zeros(8000, np.int16)])).tobytes()
        for k, i in enumerate(range(0, len(ulaw), 400)):
            if k % 10 == 0:
                await asyncio.sleep(0.5)  # 0.5 s of audio every 0.5 s
            await agent.send({"type": "input.audio", "audio": base64.b64encode(ulaw[i : i + 400]).decode()})
        await agent.wait_for("transcript.user", timeout=20)
        assert collapse([k for k in types(agent.events) if k != "transcript.user.delta"])[:4] == [
            "session.ready",
            *TURN_ORDER,
        ]
        await agent.send({"type": "session.end"})
        ended = agent.events[await agent.wait_for("session.ended", timeout=20)]
        assert ended["audio_duration_seconds"] == pytest.approx(len(ulaw) / 8000, abs=1e-3)
        await agent.wait_closed()

    run(main())


# --------------------------------------------------------------------------- whisper: the words are right


def test_whisper_user_transcript_is_right(whisper_server):
    async def main() -> list[str]:
        agent = await connect(whisper_server, {"input": {"turn_detection": {"min_silence": 1200}}})
        await agent.wait_for("session.ready")
        agent.mic_on()
        agent.say(speech24("s02_weather_24k.flac"), trailing_silence=1.8)
        await agent.wait_for("reply.started", timeout=40)
        await agent.stop()
        return [m["text"] for m in agent.of("transcript.user")]

    texts = run(main())
    reference = manifest_transcript("speech/s02_weather_24k.flac")
    hyp = " ".join(normalize_words(" ".join(texts)))
    assert jiwer.wer(" ".join(normalize_words(reference)), hyp) <= 0.2, hyp
