"""The agent side of a session: replies, their paced audio, barge-in and the echo check.

`Responder` answers one job at a time (the greeting, a user turn, ``reply.create``, a tool result
that arrived after a resume): the scripted `Brain` decides, the shared `Synthesizer` speaks (in
the engine thread pool), and the reply goes out as ``reply.started`` → ``reply.audio``* (50 ms
chunks paced at t0 + k·0.05 s) → ``transcript.agent`` → ``reply.done``. Tool calls go through
`ToolCalls`.

Speech that starts while reply audio plays interrupts the reply (barge-in, unless
``input.turn_detection.interrupt_response`` is false): the audio stops, and the client gets
``transcript.agent {interrupted: true}`` with the text actually spoken, then
``reply.done {status: "interrupted"}``; pending tool calls of the reply are discarded [DOC]
(https://assemblyai.com/docs/api-reference/voice-agent-api/voice-agent-web-socket). When the
interrupting audio matches the reply's own audio, the server logs an echo-loop warning.

While a ``hold`` tool runs (from its ``tool.call`` until its result or timeout), `hold` holds the
session, as AssemblyAI's skill reference describes hold mode [VND]
(https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md):
``reply.create`` is spoken at once ("Send ``reply.create`` … DURING the hold to deliver status
updates"), user transcripts are held back and flushed when the hold ends, and user-triggered
replies are suppressed ("Agent stays silent while the tool runs; user-triggered replies are
suppressed"), not queued.

Each reply is recorded in the session's `voicelab.providers.assemblyai_agent.Timeline` (the
Sessions API's timeline artifact) when there is one.

Choices where the vendor docs are silent ([INF]):

* Jobs run in order: a user turn finished while the agent waits for an ``interactive`` tool's result
  is answered after the tool's follow-up. Replies never overlap: a status update during a hold
  plays to its end before the hold's follow-up starts. Barge-in interrupts only while reply audio
  is playing; it cancels that reply (a job's reply with its pending tool calls; a status update
  alone, so the hold goes on) but not later queued jobs.
* During a hold, ``reply.create`` always gives a status update (never another tool call); outside
  one, instructions that ask for a declared tool call it (`Brain.plan_instruction`).
* ``transcript.agent`` carries a fresh ``item_id`` per reply (the docs' example reuses one placeholder).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from voicelab.protocols.wire import JsonMessage
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.emulator import settings
from voicelab.providers.assemblyai_agent.emulator.brain import Brain, Plan, Say
from voicelab.providers.assemblyai_agent.emulator.echo import detect_echo
from voicelab.providers.assemblyai_agent.emulator.errors import AgentError
from voicelab.providers.assemblyai_agent.emulator.ids import new_id
from voicelab.providers.assemblyai_agent.emulator.listener import Listener
from voicelab.providers.assemblyai_agent.emulator.tools import ToolCalls
from voicelab.providers.assemblyai_agent.emulator.tts import Speech, chunk_speech, spoken_text, synthesizer

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext
    from voicelab.providers.assemblyai_agent.history import Timeline

__all__ = ["CHUNK_SECONDS", "TRIGGERS", "Job", "Reply", "Responder"]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

#: Audio per ``reply.audio`` message, in seconds (2,400 bytes of 24 kHz PCM16) [DOC]
#: (https://assemblyai.com/docs/voice-agents/voice-agent-api/audio-format).
CHUNK_SECONDS = 0.05
#: The timeline ``trigger`` of each job kind.
TRIGGERS: dict[str, str] = {
    "greet": "greeting",
    "user": "user_speech",
    "create": "reply_create",
    "tool_result": "tool_result",
}


@dataclass(frozen=True)
class Job:
    """Something the agent answers, in turn.

    Attributes:
        kind: ``"greet"``, ``"user"`` (a user turn), ``"create"`` (``reply.create``) or
            ``"tool_result"`` (a result for a call made before a resume).
        text: The user's text, the instructions, or the tool result.
        call_id: The tool call a ``"tool_result"`` answers.
    """

    kind: Literal["greet", "user", "create", "tool_result"]
    text: str | None = None
    call_id: str | None = None


@dataclass
class Reply:
    """The reply whose audio is playing (between ``reply.started`` and ``reply.done``).

    Attributes:
        reply_id: Its ``reply_id``.
        item_id: The ``item_id`` of its ``transcript.agent``.
        speech: Its synthesised speech.
        t0: Server clock when its first audio chunk was due.
        input_mark: `Listener.arrived` when it started (input after this may be its echo).
        sent_seconds: Audio seconds sent so far.
        task: The task speaking it (a barge-in cancels it).
        turn: Its turn in the session's timeline, if any.
    """

    reply_id: str
    item_id: str
    speech: Speech
    t0: float = 0.0
    input_mark: int = 0
    sent_seconds: float = 0.0
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    turn: dict[str, Any] | None = field(default=None, repr=False)


class Responder:
    """The replies of one agent connection.

    Args:
        ctx: The connection context.
        config: Returns the applied session configuration.
        brain: Returns the session's brain (set once the session is ready).
        listener: The connection's input side (for the echo check and holding transcripts).
        tools: The connection's tool calls.
        timeline: Returns the session's timeline, if any.
    """

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        config: Callable[[], Mapping[str, Any]],
        brain: Callable[[], Brain | None],
        listener: Listener,
        tools: ToolCalls,
        timeline: Callable[[], Timeline | None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._config = config
        self._brain = brain
        self._listener = listener
        self._tools = tools
        self._timeline = timeline or (lambda: None)
        self._jobs: asyncio.Queue[Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._job_task: asyncio.Task[None] | None = None
        self._active: Reply | None = None
        self._voice = asyncio.Lock()  # one reply at a time
        self._holding = False
        self._side: set[asyncio.Task[None]] = set()  # status updates during a hold
        self._echo_checks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        active = self._active.reply_id if self._active is not None else None
        return f"Responder(playing={active!r}, queued={self._jobs.qsize()}, holding={self._holding})"

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start answering jobs (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"agent-reply-{self._ctx.session_id}")

    def queue(self, job: Job) -> None:
        """Queue a job; jobs are answered in order."""
        self._jobs.put_nowait(job)

    @property
    def holding(self) -> bool:
        """Whether a ``hold`` tool holds the session."""
        return self._holding

    def user_turn(self, text: str) -> None:
        """A user turn ended: answer it in turn, or suppress it during a hold (no reply, not queued)."""
        if self._holding:
            timeline = self._timeline()
            if timeline is not None:
                timeline.suppress(now=time.time())
            logger.info("agent session %s: user turn during a hold tool; no reply", self._ctx.session_id)
            return
        self.queue(Job("user", text=text))

    def create(self, instructions: str | None) -> None:
        """``reply.create``: a status update spoken at once during a hold, else a job answered in turn."""
        if not self._holding:
            self.queue(Job("create", text=instructions))
            return
        task = asyncio.create_task(self._status_update(instructions))
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the session while a ``hold`` tool runs; on leaving, flush the held user transcripts."""
        self._holding = True
        self._listener.hold()
        try:
            yield
        except BaseException:
            self._holding = False
            self._listener.drop_held()
            raise
        self._holding = False
        await self._listener.release()

    async def stop(self) -> None:
        """Cancel the current reply, the queue, status updates and echo checks, and wait (idempotent)."""
        tasks = [t for t in (self._task, *self._side, *self._echo_checks) if t is not None and not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._echo_checks.clear()
        self._side.clear()
        self._active = None

    async def _run(self) -> None:
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

    # ----------------------------------------------------------------- jobs

    def _turn(self, kind: str, instructions: str | None = None) -> dict[str, Any] | None:
        timeline = self._timeline()
        return None if timeline is None else timeline.begin(TRIGGERS[kind], now=time.time(), instructions=instructions)

    async def _run_job(self, job: Job) -> None:
        brain = self._brain()
        assert brain is not None
        try:
            if job.kind == "greet":
                greeting = brain.greet()
                if greeting is not None:
                    await self._speak(greeting.text, turn=self._turn("greet"))
            elif job.kind == "create":
                await self._answer(brain.plan_instruction(job.text), brain, self._turn("create", job.text or ""))
            elif job.kind == "tool_result":
                assert job.call_id is not None
                await self._speak(brain.tool_result(job.call_id, job.text or "").text, turn=self._turn("tool_result"))
            else:
                await self._answer(brain.respond(job.text or ""), brain, self._turn("user"))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("agent session %s: reply failed", self._ctx.session_id)
            await self._abandon()

    async def _answer(self, plan: Plan, brain: Brain, turn: dict[str, Any] | None) -> None:
        """Speak a plan: its text, or a tool call and then the follow-up (a new ``tool_result`` turn)."""
        if isinstance(plan, Say):
            await self._speak(plan.text, turn=turn)
            return
        speak = functools.partial(self._speak, turn=turn)
        say = await self._tools.call(plan, brain=brain, speak=speak, hold=self.hold, turn=turn)
        timeline = self._timeline()
        if timeline is not None and turn is not None:
            timeline.finish(turn)  # a hold tool's turn has no reply of its own
        await self._speak(say.text, turn=self._turn("tool_result"))

    async def _status_update(self, instructions: str | None) -> None:
        """``reply.create`` during a hold: spoken at once (it never calls a tool)."""
        brain = self._brain()
        if brain is None:
            return
        try:
            text = brain.respond_to_instruction(instructions).text
            await self._speak(text, turn=self._turn("create", instructions or ""))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("agent session %s: status update failed", self._ctx.session_id)
            await self._abandon()

    async def _abandon(self) -> None:
        """A reply failed midway: end it for the client as an interrupted reply."""
        reply = self._active
        if reply is not None and reply.task is asyncio.current_task():
            self._active = None
            await self._send_interrupted(reply, reply.sent_seconds)

    async def _synthesize(self, text: str) -> Speech:
        config = self._config()
        speech: Speech = await self._ctx.run_engine(synthesizer().synthesize, text, voice=settings.voice(config))
        volume = settings.volume(config)
        if volume is not None and volume != 100:
            scaled = np.clip(np.round(speech.pcm.astype(np.float32) * (volume / 100.0)), -32768, 32767)
            speech = dataclasses.replace(speech, pcm=scaled.astype(np.int16), _bytes=[])
        return speech

    async def _speak(
        self, text: str, *, tool_call: JsonMessage | None = None, turn: dict[str, Any] | None = None
    ) -> None:
        """One reply: ``reply.started`` [``tool.call``] ``reply.audio``* ``transcript.agent`` ``reply.done``.

        Replies never overlap: a reply waits for the one playing to end.
        """
        async with self._voice:
            await self._speak_now(text, tool_call=tool_call, turn=turn)

    async def _speak_now(self, text: str, *, tool_call: JsonMessage | None, turn: dict[str, Any] | None) -> None:
        ctx = self._ctx
        timeline = self._timeline() if turn is not None else None
        speech = await self._synthesize(text)
        encoding = settings.output_encoding(self._config())
        chunks = await ctx.run_engine(chunk_speech, speech, chunk_seconds=CHUNK_SECONDS, encoding=encoding)
        reply = Reply(
            reply_id=new_id("reply"), item_id=new_id("item"), speech=speech, task=asyncio.current_task(), turn=turn
        )
        await ctx.send(wire.reply_started(reply_id=reply.reply_id))
        if timeline is not None and turn is not None:
            timeline.reply_started(turn, now=time.time())
        if tool_call is not None:
            await ctx.send(tool_call)
        reply.t0 = ctx.clock()
        reply.input_mark = self._listener.arrived
        self._active = reply
        for k, chunk in enumerate(chunks):
            wait = reply.t0 + k * CHUNK_SECONDS - ctx.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            await ctx.send(wire.reply_audio(audio=chunk))
            if k == 0 and timeline is not None and turn is not None:
                timeline.first_audio(turn, now=time.time())
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
        if timeline is not None and turn is not None:
            timeline.reply_done(turn, text=text, now=time.time())

    async def _send_interrupted(self, reply: Reply, played: float) -> None:
        said = spoken_text(reply.speech, played)
        await self._ctx.send(
            wire.agent_transcript(text=said, reply_id=reply.reply_id, item_id=reply.item_id, interrupted=True)
        )
        await self._ctx.send(wire.reply_done(status="interrupted"))
        timeline = self._timeline()
        if timeline is not None and reply.turn is not None:
            timeline.reply_done(reply.turn, text=said, now=time.time(), interrupted=True)

    # ----------------------------------------------------------------- barge-in

    async def barge_in(self) -> None:
        """The user started speaking: interrupt the reply that is playing, if any and if allowed."""
        reply = self._active
        task = reply.task if reply is not None else None
        if reply is None or task is None or task.done() or not settings.interrupt_response(self._config()):
            return
        played = reply.sent_seconds
        self._active = None
        task.cancel()
        await asyncio.wait({task})
        await self._send_interrupted(reply, played)
        brain = self._brain()
        # A job's reply takes its pending tool calls with it; a status update during a hold does not.
        dropped = brain.discard_pending() if brain is not None and task is self._job_task else []
        self._tools.discard(dropped)
        logger.info(
            "agent session %s: reply %s interrupted after %.2f s of %.2f s%s",
            self._ctx.session_id,
            reply.reply_id,
            played,
            reply.speech.duration,
            f"; discarded tool calls {dropped}" if dropped else "",
        )
        task = asyncio.create_task(self._echo_check(reply))
        self._echo_checks.add(task)
        task.add_done_callback(self._echo_checks.discard)

    async def _echo_check(self, reply: Reply) -> None:
        """Log when the speech that interrupted a reply looks like the reply itself (seed: echo loop)."""
        # Only input that arrived after the reply started can be its echo. Sample counts, not clocks,
        # place it: input sample n after the mark was captured while reference sample ~n played.
        captured = self._listener.captured_since(reply.input_mark)
        if captured is None or captured.samplerate != reply.speech.samplerate:
            return
        try:
            check = await self._ctx.run_engine(
                detect_echo,
                reply.speech.to_float(),
                captured.samples,
                samplerate=captured.samplerate,
                captured_offset_seconds=captured.offset_seconds,
            )
        except AgentError:
            return
        logger.debug("echo check for reply %s: %s", reply.reply_id, check)
        if check.is_echo:
            logger.warning(
                "agent session %s: the speech that interrupted reply %s matches the reply's own audio "
                "(echo score %.2f): the agent hears itself; use headphones or echo cancellation",
                self._ctx.session_id,
                reply.reply_id,
                check.score,
            )
