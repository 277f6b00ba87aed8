"""The full AssemblyAI Voice Agent session behind the emulator's ``/v1/ws`` route.

`handle` is the handler of the route in `voicelab.providers.assemblyai_agent.emulator.route`. One
connection runs three kinds of task on the server's event loop, and none of them ever blocks it
(recognition and speech synthesis run in the server's engine thread pool):

* the **receive loop** (`AgentConnection.run`) parses client frames with
  `voicelab.providers.assemblyai_agent.AgentServerSession` (ordering, validation, immutable fields,
  ``session.end``), decodes ``input.audio`` and queues it;
* the **engine loop** feeds queued audio to the shared recognizer and turns its VAD and text events
  into ``input.speech.started`` → ``transcript.user.delta``* → ``input.speech.stopped`` →
  ``transcript.user``; speech that starts while a reply plays interrupts it (barge-in, §2.9);
* the **responder** answers one job at a time (greeting, user turn, ``reply.create``, late tool
  result): the scripted `Brain` decides, `Synthesizer` speaks, and the reply goes out as
  ``reply.started`` → ``reply.audio``* (50 ms chunks paced at t0 + k·0.05 s) → ``transcript.agent`` →
  ``reply.done``. Tools: ``tool.call`` right after ``reply.started`` of the filler reply, then the
  follow-up once ``tool.result`` arrives or the tool's ``timeout_seconds`` pass.

A connection that drops without ``session.end`` is parked in the server's registry for
``ServerConfig.resume_grace_seconds`` (30 s by default, as the API does) so ``session.resume`` on a
new connection (with a fresh credential) gets the same session id, configuration and brain back.

Choices where protocols.md is silent ([INF]):

* Endpointing keeps the engine's own hangover unless ``input.turn_detection.min_silence`` is given
  (then hangover = min_silence); ``vad_threshold`` maps to the engine's speech threshold when given.
  Turn-detection changes in a later ``session.update`` apply from the next connection or input-format
  change (the recognizer stream is not rebuilt mid-turn).
* A tool's ``timeout_seconds`` counts from the ``reply.done`` of the reply that announced the call
  (the client may only send ``tool.result`` after it). A result for a call that timed out or was
  discarded by an interruption is ignored (logged); one for a ``call_id`` never issued gets
  ``session.error invalid_value``.
* Jobs run in order: a user turn finished while the agent waits for a tool result is answered after
  the tool's follow-up. Barge-in interrupts only while reply audio is playing; it cancels the current
  job (and its pending tool calls) but not later queued jobs.
* ``transcript.agent`` carries a fresh ``item_id`` per reply (the docs' example reuses one placeholder).
* ``input.audio`` starting with a RIFF/WAVE header gets ``invalid_audio`` (the troubleshooting page's
  "WAV headers included" cause).
* ``output.volume`` scales the reply audio (100 = as synthesised).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from voicelab.emulator.audio_in import StreamDecoder, make_decoder
from voicelab.emulator.recognizers import Endpointing, Final, Partial, SpeechEnd, SpeechStart
from voicelab.errors import CodecError
from voicelab.protocols.wire import JsonMessage
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.config import ENCODING_RATES
from voicelab.providers.assemblyai_agent.emulator.brain import Brain, CallTool, Say
from voicelab.providers.assemblyai_agent.emulator.echo import detect_echo
from voicelab.providers.assemblyai_agent.emulator.errors import AgentError
from voicelab.providers.assemblyai_agent.emulator.tts import (
    Speech,
    Synthesizer,
    SyntheticSynthesizer,
    chunk_speech,
    get_synthesizer,
    spoken_text,
)

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext

__all__ = [
    "CHUNK_SECONDS",
    "AgentConnection",
    "handle",
    "synthesizer",
]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

#: Audio per ``reply.audio`` message, in seconds (2,400 bytes of 24 kHz PCM16) [DOC §2.3].
CHUNK_SECONDS = 0.05
#: Seconds of recent input audio kept for the echo check at barge-in.
_ECHO_WINDOW = 2.0
_WAV_MAGIC = b"RIFF"

_synth_lock = threading.Lock()
_synth: Synthesizer | None = None


def synthesizer() -> Synthesizer:
    """The process-wide speech engine (espeak-ng when installed, else the labelled synthetic one).

    The first call picks the engine; when espeak-ng is missing it logs, once, that replies are
    clearly-labelled synthetic (non-speech) audio.
    """
    global _synth
    with _synth_lock:
        if _synth is None:
            _synth = get_synthesizer()
            if isinstance(_synth, SyntheticSynthesizer):
                logger.warning(
                    "espeak-ng is not installed: the emulated agent answers with clearly-labelled synthetic "
                    "tones instead of speech (%s); install it with `apt-get install espeak-ng`",
                    _synth.engine,
                )
        return _synth


async def handle(conn: Any, ctx: ConnectionContext) -> None:
    """Serve one Voice Agent connection (the handler of the emulator's Voice Agent route).

    Args:
        conn: The websockets server connection (``ctx.conn``; unused directly).
        ctx: The connection context; ``ctx.config`` is the `AuthOk` or `AuthFailure` of the upgrade.
    """
    await AgentConnection(ctx).run()


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class _Parked:
    """What a dropped session keeps for ``session.resume`` (never the credential)."""

    config: dict[str, Any]
    brain: Brain
    started_at: float
    audio_seconds: float
    owner: str
    deadline: float
    until: float
    greeted: bool


@dataclass
class _Audio:
    samples: npt.NDArray[np.float32]
    rate: int
    now: float


@dataclass
class _Job:
    kind: str  # "greet" | "user" | "create" | "tool_result"
    text: str | None = None
    call_id: str | None = None


@dataclass
class _Reply:
    """The reply whose audio is playing (between ``reply.started`` and ``reply.done``)."""

    reply_id: str
    item_id: str
    speech: Speech
    t0: float = 0.0
    input_mark: int = 0
    sent_seconds: float = 0.0
    calls: list[str] = field(default_factory=list)


class AgentConnection:
    """One Voice Agent WebSocket connection of the emulator.

    Args:
        ctx: The connection context from `EmulatorServer`.
    """

    def __init__(self, ctx: ConnectionContext) -> None:
        self.ctx = ctx
        self.auth: Any = ctx.config
        self.session: wire.AgentServerSession | None = None
        self.brain: Brain | None = None
        self.deadline: float | None = None
        self.greeted = False
        self.ended = False
        self._resumed: _Parked | None = None
        self._decoder: StreamDecoder | None = None
        self._decoder_encoding: str | None = None
        self._audio: deque[_Audio] = deque()
        self._audio_wake = asyncio.Event()
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._job_task: asyncio.Task[None] | None = None
        self._active: _Reply | None = None
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._stale_calls: set[str] = set()
        self._stream: Any = None
        self._stream_rate = 0
        self._in_turn = False
        self._item_id = ""
        self._recent: deque[tuple[float, npt.NDArray[np.float32]]] = deque()
        self._recent_rate = 0
        self._fed = 0
        self._arrived = 0

    def __repr__(self) -> str:
        sid = self.session.session_id if self.session else None
        return f"AgentConnection(session_id={sid!r}, ended={self.ended})"

    # ----------------------------------------------------------------- configuration views

    @property
    def config(self) -> dict[str, Any]:
        """The applied ``session`` configuration."""
        return self.session.config if self.session is not None else {}

    def _section(self, *path: str) -> Mapping[str, Any]:
        cur: Any = self.config
        for part in path:
            cur = cur.get(part, {}) if isinstance(cur, Mapping) else {}
        return cur if isinstance(cur, Mapping) else {}

    @property
    def output_encoding(self) -> str:
        """``output.format.encoding`` (``audio/pcm`` by default)."""
        return str(self._section("output", "format").get("encoding", "audio/pcm"))

    @property
    def voice(self) -> str | None:
        """``output.voice``, if set."""
        v = self._section("output").get("voice")
        return v if isinstance(v, str) else None

    @property
    def interrupt_response(self) -> bool:
        """Whether user speech interrupts a reply (``turn_detection.interrupt_response``, default true)."""
        return self._section("input", "turn_detection").get("interrupt_response", True) is not False

    def _endpointing(self) -> Endpointing:
        base = getattr(self.ctx.recognizer, "endpointing", None)
        if not isinstance(base, Endpointing):
            base = Endpointing()
        td = self._section("input", "turn_detection")
        changes: dict[str, float] = {}
        silence = td.get("min_silence")
        if isinstance(silence, int | float) and not isinstance(silence, bool):
            changes["hangover"] = max(0.05, min(10.0, silence / 1000.0))
        threshold = td.get("vad_threshold")
        if isinstance(threshold, int | float) and not isinstance(threshold, bool):
            changes["threshold"] = max(0.05, min(0.95, float(threshold)))
        return dataclasses.replace(base, **changes) if changes else base

    # ----------------------------------------------------------------- receive loop

    async def run(self) -> None:
        """Serve the connection until it closes; every task it started is cancelled and awaited."""
        ctx, auth = self.ctx, self.auth
        if isinstance(auth, wire.AuthFailure):
            logger.info("agent connection refused: %s", auth.error.get("code"))
            await ctx.send(auth.error)
            await ctx.close(auth.close_code, "unauthorized")
            return
        self.session = wire.AgentServerSession(
            session_id=wire.new_session_id(), started_at=time.time(), resumable=self._resumable
        )
        self.deadline = auth.session_deadline
        try:
            async for frame in ctx.frames():
                if self.ended or ctx.closing:
                    continue
                if await self._frame(frame):
                    break
        finally:
            await self._shutdown()
            self._park()

    async def _frame(self, frame: str | bytes) -> bool:
        """Handle one client frame; True when the connection must stop reading."""
        session, ctx = self.session, self.ctx
        assert session is not None
        was_ready = session.ready
        if not was_ready:
            await self._await_parked(frame)
        now = time.time()
        expired = session.check_expiry(now=now, deadline=self.deadline)
        if expired is not None:
            await self._finish(expired, reason="session expired")
            return True
        step = session.receive(frame, now=now)
        event = step.event
        if step.close_code is not None:
            await self._finish(step, reason="session ended" if step.close_code == 1000 else "session error")
            return True
        for reply in step.replies:
            await ctx.send(reply)
        if event is None:
            return False
        if not was_ready and session.ready:
            return await self._on_ready(resumed=isinstance(event, wire.SessionResume))
        if isinstance(event, wire.InputAudio):
            if await ctx.count_chunk():
                return True
            await self._on_audio(event.audio)
        elif isinstance(event, wire.SessionUpdate):
            self._on_update(event.session)
        elif isinstance(event, wire.ToolResult):
            await self._on_tool_result(event.call_id, event.result)
        elif isinstance(event, wire.ReplyCreate):
            self._jobs.put_nowait(_Job("create", text=event.instructions))
        return False

    async def _finish(self, step: wire.ServerStep, *, reason: str) -> None:
        """End the session: stop replies and recognition, send ``session.ended`` (and any error), close."""
        self.ended = True
        await self._shutdown()
        for reply in step.replies:
            await self.ctx.send(reply)
        sid = self.session.session_id if self.session else None
        logger.info("agent session %s: %s (close %s)", sid, reason, step.close_code)
        await self.ctx.close(step.close_code or 1000, reason)

    # ----------------------------------------------------------------- ready / resume

    async def _await_parked(self, frame: str | bytes) -> None:
        """Before a ``session.resume``, let a dropped connection that still holds the session park it.

        A client that reconnects at once can arrive before the old connection has wound down; a real
        service gives it a moment too (up to one second here).
        """
        if not isinstance(frame, str) or '"session.resume"' not in frame:
            return
        try:
            session_id = json.loads(frame).get("session_id")
        except (ValueError, AttributeError):
            return
        for _ in range(20):
            if not isinstance(session_id, str) or not self.ctx.registry.winding_down(session_id, besides=self.ctx):
                return
            await asyncio.sleep(0.05)

    def _resumable(self, session_id: str) -> str:
        state = self.ctx.registry.take(session_id, now=self.ctx.clock())
        if not isinstance(state, _Parked):
            return "not_found"
        if state.owner != self.auth.owner:
            self.ctx.registry.park(session_id, state, until=state.until)
            return "forbidden"
        self._resumed = state
        return "ok"

    async def _on_ready(self, *, resumed: bool) -> bool:
        ctx, session = self.ctx, self.session
        assert session is not None
        if resumed and self._resumed is not None:
            state, self._resumed = self._resumed, None
            session.config = state.config
            session.started_at = state.started_at
            session.audio_seconds = state.audio_seconds
            self.brain = state.brain
            self.deadline = state.deadline
            self.greeted = state.greeted
            expired = session.check_expiry(now=time.time(), deadline=self.deadline)
            if expired is not None:
                await self._finish(expired, reason="session expired during the grace window")
                return True
        else:
            self.brain = Brain.from_session(session.config)
        ctx.session_id = session.session_id
        synth = await ctx.run_engine(synthesizer)
        logger.info(
            "agent session %s %s: input %s, output %s voice %s, engine %s, speech %s%s",
            session.session_id,
            "resumed" if resumed else "ready",
            session.input_encoding,
            self.output_encoding,
            self.voice or "default",
            getattr(ctx.recognizer, "name", "?"),
            synth.engine,
            " (clearly-labelled synthetic audio, not speech)" if isinstance(synth, SyntheticSynthesizer) else "",
        )
        self._tasks.append(asyncio.create_task(self._engine_loop(), name=f"agent-engine-{session.session_id}"))
        self._tasks.append(asyncio.create_task(self._responder(), name=f"agent-reply-{session.session_id}"))
        if self.deadline is not None:
            self._tasks.append(asyncio.create_task(self._expiry(), name=f"agent-expiry-{session.session_id}"))
        if not self.greeted and self.brain.greet() is not None:
            self.greeted = True
            self._jobs.put_nowait(_Job("greet"))
        return False

    def _on_update(self, update: Mapping[str, Any]) -> None:
        brain = self.brain
        if brain is None:
            return
        if "tools" in update:
            brain.set_tools(self.config.get("tools") or ())
        if "system_prompt" in update:
            brain.instructions = self.config.get("system_prompt")
        if isinstance(update.get("input"), Mapping) and "turn_detection" in update["input"]:
            logger.debug("turn_detection changed; endpointing applies from the next recognizer stream")

    def _park(self) -> None:
        """Keep a dropped session for ``session.resume`` (not after ``session.end`` or an error close)."""
        session = self.session
        if self.ended or session is None or not session.ready or session.ended or self.brain is None:
            return
        if self.ctx.closed_by_server not in (None, 1000, 1001, 1006, 1011):
            return
        grace = self.ctx.server.config.resume_grace_seconds
        until = self.ctx.clock() + grace
        self.ctx.registry.park(
            session.session_id,
            _Parked(
                config=session.config,
                brain=self.brain,
                started_at=session.started_at,
                audio_seconds=session.audio_seconds,
                owner=self.auth.owner,
                deadline=self.deadline if self.deadline is not None else float("inf"),
                until=until,
                greeted=self.greeted,
            ),
            until=until,
        )
        logger.info("agent session %s dropped without session.end; resumable for %.0f s", session.session_id, grace)

    async def _expiry(self) -> None:
        assert self.deadline is not None and self.session is not None
        while True:
            left = self.deadline - time.time()
            if left <= 0:
                break
            await asyncio.sleep(min(left, 60.0))
        step = self.session.check_expiry(now=time.time(), deadline=self.deadline)
        if step is not None and not self.ctx.closing:
            # _shutdown (inside _finish) cancels every task of the connection except this one.
            await self._finish(step, reason="max_session_duration_seconds reached")

    # ----------------------------------------------------------------- input audio

    async def _on_audio(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        if data[:4] == _WAV_MAGIC:
            await self._error(
                "invalid_audio", "audio starts with a RIFF/WAVE header; send raw PCM16 samples without a container"
            )
            return
        encoding = session.input_encoding
        kind, rate = ENCODING_RATES.get(encoding, ENCODING_RATES["audio/pcm"])
        if self._decoder is None or self._decoder_encoding != encoding:
            self._decoder = make_decoder(encoding=kind, samplerate=rate)
            self._decoder_encoding = encoding
        try:
            samples = self._decoder.decode(data)
        except CodecError as exc:
            await self._error("invalid_audio", f"audio could not be decoded as {encoding}: {exc}")
            return
        if len(samples):
            self._arrived += len(samples)
            self._audio.append(_Audio(samples, rate, self.ctx.clock()))
            self._audio_wake.set()

    async def _error(self, code: str, message: str, param: str | None = "audio") -> None:
        await self.ctx.send(wire.session_error(code=code, message=message, timestamp=time.time(), param=param))

    # ----------------------------------------------------------------- engine loop (recognition)

    async def _next_audio(self) -> list[_Audio]:
        while not self._audio:
            self._audio_wake.clear()
            await self._audio_wake.wait()
        batch = [self._audio.popleft()]
        while self._audio and self._audio[0].rate == batch[0].rate:  # a slow engine catches up in one call
            batch.append(self._audio.popleft())
        return batch

    async def _open_stream(self, rate: int) -> None:
        await self._close_stream(flush=True)
        self._stream = await self.ctx.run_engine(
            self.ctx.recognizer.open, samplerate=rate, word_times=False, partials=True, endpointing=self._endpointing()
        )
        self._stream_rate = rate

    async def _close_stream(self, *, flush: bool) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            if flush:
                await self._events(await self.ctx.run_engine(stream.flush, now=self.ctx.clock()))
        finally:
            await self.ctx.run_engine(stream.close)

    async def _engine_loop(self) -> None:
        ctx = self.ctx
        try:
            while not ctx.closing:
                batch = await self._next_audio()
                rate = batch[0].rate
                if self._stream is None or rate != self._stream_rate:
                    await self._open_stream(rate)
                samples = np.concatenate([b.samples for b in batch]) if len(batch) > 1 else batch[0].samples
                self._remember(samples, rate, batch[-1].now)
                events = await ctx.run_engine(self._stream.accept, samples, now=batch[-1].now)
                await self._events(events)
        except asyncio.CancelledError:
            raise
        except Exception:
            sid = self.session.session_id if self.session else None
            logger.exception("agent session %s: recognizer failed", sid)
            await ctx.send(
                wire.session_error(code="server_error", message="internal emulator error", timestamp=time.time())
            )
            await ctx.close(1011, "internal emulator error")
        finally:
            stream, self._stream = self._stream, None
            if stream is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(ctx.run_engine(stream.close))

    def _remember(self, samples: npt.NDArray[np.float32], rate: int, now: float) -> None:
        """Keep the last `_ECHO_WINDOW` seconds of input audio (for the echo check)."""
        if rate != self._recent_rate:
            self._recent.clear()
            self._recent_rate = rate
        self._recent.append((now, samples))
        self._fed += len(samples)
        total = sum(len(s) for _, s in self._recent)
        while self._recent and total - len(self._recent[0][1]) >= _ECHO_WINDOW * rate:
            total -= len(self._recent.popleft()[1])

    async def _events(self, events: list[Any]) -> None:
        send = self.ctx.send
        for ev in events:
            if isinstance(ev, SpeechStart | Partial) and not self._in_turn:
                self._in_turn = True
                self._item_id = _new_id("item")
                await send(wire.speech_started())
                await self._barge_in()
            if isinstance(ev, Partial):
                await send(wire.user_transcript_delta(text=ev.text))
            elif isinstance(ev, SpeechEnd | Final) and self._in_turn:
                self._in_turn = False
                await send(wire.speech_stopped())
            if isinstance(ev, Final):
                text = ev.text.strip()
                item = self._item_id or _new_id("item")
                self._item_id = ""
                await send(wire.user_transcript(text=text, item_id=item))
                self._jobs.put_nowait(_Job("user", text=text))

    # ----------------------------------------------------------------- barge-in

    async def _barge_in(self) -> None:
        reply, job = self._active, self._job_task
        if reply is None or job is None or job.done() or not self.interrupt_response:
            return
        played = reply.sent_seconds
        self._active = None
        job.cancel()
        await asyncio.wait({job})
        text = spoken_text(reply.speech, played)
        await self.ctx.send(
            wire.agent_transcript(text=text, reply_id=reply.reply_id, item_id=reply.item_id, interrupted=True)
        )
        await self.ctx.send(wire.reply_done(status="interrupted"))
        dropped = self.brain.discard_pending() if self.brain is not None else []
        self._stale_calls.update(dropped)
        sid = self.session.session_id if self.session else None
        logger.info(
            "agent session %s: reply %s interrupted after %.2f s of %.2f s%s",
            sid,
            reply.reply_id,
            played,
            reply.speech.duration,
            f"; discarded tool calls {dropped}" if dropped else "",
        )
        self._tasks.append(asyncio.create_task(self._echo_check(reply, played)))

    async def _echo_check(self, reply: _Reply, played: float) -> None:
        """Log when the speech that interrupted a reply looks like the reply itself (seed: echo loop)."""
        if self._recent_rate != reply.speech.samplerate or not self._recent:
            return
        # Only input that arrived after the reply started can be its echo. Sample counts, not clocks,
        # place it: input sample n after the mark was captured while reference sample ~n played.
        since = self._fed - reply.input_mark
        captured = np.concatenate([s for _, s in self._recent])
        if since < 0.2 * self._recent_rate:
            return
        captured = captured[-since:]
        offset = (since - len(captured)) / self._recent_rate
        try:
            check = await self.ctx.run_engine(
                detect_echo,
                reply.speech.to_float(),
                captured,
                samplerate=self._recent_rate,
                captured_offset_seconds=offset,
            )
        except AgentError:
            return
        logger.debug("echo check for reply %s: %s", reply.reply_id, check)
        if check.is_echo:
            logger.warning(
                "agent session %s: the speech that interrupted reply %s matches the reply's own audio "
                "(echo score %.2f): the agent hears itself; use headphones or echo cancellation",
                self.session.session_id if self.session else None,
                reply.reply_id,
                check.score,
            )

    # ----------------------------------------------------------------- responder (replies and tools)

    async def _responder(self) -> None:
        job_task: asyncio.Task[None] | None = None
        try:
            while True:
                job = await self._jobs.get()
                job_task = asyncio.create_task(self._run_job(job))
                self._job_task = job_task
                await asyncio.wait({job_task})
                self._job_task = None
        finally:
            if job_task is not None and not job_task.done():
                job_task.cancel()
                await asyncio.wait({job_task})

    async def _run_job(self, job: _Job) -> None:
        brain = self.brain
        assert brain is not None
        try:
            if job.kind == "greet":
                greeting = brain.greet()
                if greeting is not None:
                    await self._speak(greeting.text)
            elif job.kind == "create":
                await self._speak(brain.respond_to_instruction(job.text).text)
            elif job.kind == "tool_result":
                assert job.call_id is not None
                await self._speak(brain.tool_result(job.call_id, job.text or "").text)
            else:
                plan = brain.respond(job.text or "")
                if isinstance(plan, Say):
                    await self._speak(plan.text)
                else:
                    await self._call_tool(plan)
        except asyncio.CancelledError:
            raise
        except Exception:
            sid = self.session.session_id if self.session else None
            logger.exception("agent session %s: reply failed", sid)
            reply, self._active = self._active, None
            if reply is not None:
                await self.ctx.send(
                    wire.agent_transcript(
                        text=spoken_text(reply.speech, reply.sent_seconds),
                        reply_id=reply.reply_id,
                        item_id=reply.item_id,
                        interrupted=True,
                    )
                )
                await self.ctx.send(wire.reply_done(status="interrupted"))

    async def _call_tool(self, call: CallTool) -> None:
        brain = self.brain
        assert brain is not None
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters[call.call_id] = future
        message = wire.tool_call(call_id=call.call_id, name=call.name, arguments=call.arguments)
        try:
            if call.filler is not None:
                await self._speak(call.filler, tool_call=message)
            else:  # "hold": no reply.started, the agent stays silent while the tool runs
                await self.ctx.send(message)
            try:
                result = await asyncio.wait_for(asyncio.shield(future), timeout=call.timeout_seconds)
            except TimeoutError:
                logger.info("tool call %s (%s) timed out after %.1f s", call.call_id, call.name, call.timeout_seconds)
                self._stale_calls.add(call.call_id)
                say = brain.tool_timeout(call.call_id)
            else:
                say = brain.tool_result(call.call_id, result)
        finally:
            self._waiters.pop(call.call_id, None)
        await self._speak(say.text)

    async def _on_tool_result(self, call_id: str, result: str) -> None:
        waiter = self._waiters.get(call_id)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(result)
            return
        if self.brain is not None and call_id in self.brain.pending_calls:
            # A call made before a resume: nobody waits for it on this connection, answer it now.
            self._jobs.put_nowait(_Job("tool_result", text=result, call_id=call_id))
            return
        if call_id in self._stale_calls:
            logger.info("ignoring tool.result for %s: the call timed out or its reply was interrupted", call_id)
            return
        await self._error(
            "invalid_value", f"tool.result for unknown call_id {call_id!r}; answer each tool.call once", "call_id"
        )

    async def _synthesize(self, text: str) -> Speech:
        synth = synthesizer()
        speech: Speech = await self.ctx.run_engine(synth.synthesize, text, voice=self.voice)
        volume = self._section("output").get("volume")
        if isinstance(volume, int | float) and not isinstance(volume, bool) and volume != 100:
            scaled = np.clip(np.round(speech.pcm.astype(np.float32) * (float(volume) / 100.0)), -32768, 32767)
            speech = dataclasses.replace(speech, pcm=scaled.astype(np.int16), _bytes=[])
        return speech

    async def _speak(self, text: str, *, tool_call: JsonMessage | None = None) -> None:
        """One reply: ``reply.started`` [``tool.call``] ``reply.audio``* ``transcript.agent`` ``reply.done``."""
        ctx = self.ctx
        speech = await self._synthesize(text)
        chunks = await ctx.run_engine(chunk_speech, speech, chunk_seconds=CHUNK_SECONDS, encoding=self.output_encoding)
        reply = _Reply(reply_id=_new_id("reply"), item_id=_new_id("item"), speech=speech)
        await ctx.send(wire.reply_started(reply_id=reply.reply_id))
        if tool_call is not None:
            await ctx.send(tool_call)
        reply.t0 = ctx.clock()
        reply.input_mark = self._arrived
        self._active = reply
        for k, chunk in enumerate(chunks):
            wait = reply.t0 + k * CHUNK_SECONDS - ctx.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            await ctx.send(wire.reply_audio(audio=chunk))
            reply.sent_seconds = min(speech.duration, (k + 1) * CHUNK_SECONDS)
        wait = reply.t0 + speech.duration - ctx.clock()
        if wait > 0:  # let the last chunk play: a barge-in during it still interrupts
            await asyncio.sleep(wait)
        if self._active is not reply:  # interrupted between the last await and here
            return
        self._active = None
        await ctx.send(
            wire.agent_transcript(text=text, reply_id=reply.reply_id, item_id=reply.item_id, interrupted=False)
        )
        await ctx.send(wire.reply_done())

    # ----------------------------------------------------------------- shutdown

    async def _shutdown(self) -> None:
        """Cancel and await every task of this connection (idempotent)."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        self._tasks = [t for t in self._tasks if t is current]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for waiter in self._waiters.values():
            waiter.cancel()
        self._waiters.clear()
        self._active = None
