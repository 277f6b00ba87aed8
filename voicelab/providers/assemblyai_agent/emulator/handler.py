"""The AssemblyAI Voice Agent session behind the emulator's ``/v1/ws`` route: receive loop and lifecycle.

`handle` is the handler of the route in `voicelab.providers.assemblyai_agent.emulator.route`.
`AgentConnection` runs one connection's receive loop: it parses client frames with the sans-I/O
`voicelab.providers.assemblyai_agent.AgentServerSession` (ordering, validation, immutable
fields, ``session.end``), sends its replies, and hands each event to the part that owns it:

* `listener.Listener`: ``input.audio`` → the shared recognizer → ``input.speech.started`` →
  ``transcript.user.delta``* → ``input.speech.stopped`` → ``transcript.user``;
* `responder.Responder`: the greeting, user turns, ``reply.create`` and late tool results answered
  in order with paced reply audio, and barge-in;
* `tools.ToolCalls`: ``tool.call`` / ``tool.result`` and tool timeouts;
* `parking`: a connection that drops without ``session.end`` parks its session for
  ``session.resume``.

With the route's stores (`handle`'s ``agents`` and ``history``), ``session.update {"agent_id": …}``
binds a stored agent, and every session is recorded for the Sessions API: its configuration when
ready, its timeline as it runs, and how it ended.

No part ever blocks the event loop: recognition and speech synthesis run in the server's engine
thread pool. When the connection ends, every task it started is cancelled and awaited.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.emulator import parking, settings
from voicelab.providers.assemblyai_agent.emulator.brain import Brain
from voicelab.providers.assemblyai_agent.emulator.listener import Listener, UserTurn
from voicelab.providers.assemblyai_agent.emulator.responder import Job, Responder
from voicelab.providers.assemblyai_agent.emulator.tools import ToolCalls
from voicelab.providers.assemblyai_agent.emulator.tts import SyntheticSynthesizer, synthesizer

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext

__all__ = ["AgentConnection", "handle"]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

#: Longest sleep, in seconds, between checks of the session deadline.
_EXPIRY_POLL_SECONDS = 60.0


async def handle(
    conn: Any,
    ctx: ConnectionContext,
    *,
    agents: wire.AgentStore | None = None,
    history: wire.SessionHistory | None = None,
) -> None:
    """Serve one Voice Agent connection (the handler of the emulator's Voice Agent route).

    Args:
        conn: The websockets server connection (``ctx.conn``; unused directly).
        ctx: The connection context; ``ctx.config`` is the `AuthOk` or `AuthFailure` of the upgrade.
        agents: The stored agents ``agent_id`` binds; ``None``: every ``agent_id`` is unknown.
        history: Where sessions are recorded for the Sessions API; ``None`` records nothing.
    """
    await AgentConnection(ctx, agents=agents, history=history).run()


class AgentConnection:
    """One Voice Agent WebSocket connection of the emulator.

    Args:
        ctx: The connection context from `EmulatorServer`.
        agents: The stored agents ``agent_id`` binds, if any.
        history: Where the session is recorded for the Sessions API, if anywhere.
    """

    def __init__(
        self,
        ctx: ConnectionContext,
        *,
        agents: wire.AgentStore | None = None,
        history: wire.SessionHistory | None = None,
    ) -> None:
        self.ctx = ctx
        self.auth: Any = ctx.config
        self.agents = agents
        self.history = history
        self.session: wire.AgentServerSession | None = None
        self.brain: Brain | None = None
        self.deadline: float | None = None
        self.greeted = False
        self.ended = False
        self.timeline: wire.Timeline | None = None
        self._recorded = False  # the session's end is in the history
        self._resumed: parking.ParkedSession | None = None
        self._expiry: asyncio.Task[None] | None = None
        self.tools = ToolCalls(ctx, timeline=lambda: self.timeline)
        self.listener = Listener(
            ctx, config=lambda: self.config, on_speech_started=self._on_speech_started, on_turn=self._on_turn
        )
        self.responder = Responder(
            ctx,
            config=lambda: self.config,
            brain=lambda: self.brain,
            listener=self.listener,
            tools=self.tools,
            timeline=lambda: self.timeline,
        )

    def __repr__(self) -> str:
        sid = self.session.session_id if self.session else None
        return f"AgentConnection(session_id={sid!r}, ended={self.ended})"

    @property
    def config(self) -> Mapping[str, Any]:
        """The applied ``session`` configuration."""
        return self.session.config if self.session is not None else {}

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
            session_id=wire.new_session_id(),
            started_at=time.time(),
            resumable=self._resumable,
            agents=self.agents.session_config if self.agents is not None else None,
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
            parked = self._park()
            self._record_close(parked=parked)

    async def _frame(self, frame: str | bytes) -> bool:
        """Handle one client frame; True when the connection must stop reading."""
        session, ctx = self.session, self.ctx
        assert session is not None
        was_ready = session.ready
        if not was_ready:
            await parking.await_previous_connection(ctx, frame)
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
            problem = self.listener.receive(event.audio, encoding=session.input_encoding)
            if problem is not None:
                await self._error("invalid_audio", problem)
        elif isinstance(event, wire.SessionUpdate):
            self._on_update(event.session)
        elif isinstance(event, wire.ToolResult):
            await self._on_tool_result(event.call_id, event.result)
        elif isinstance(event, wire.ReplyCreate):
            self.responder.create(event.instructions)
        return False

    async def _error(self, code: str, message: str, param: str | None = "audio") -> None:
        await self.ctx.send(wire.session_error(code=code, message=message, timestamp=time.time(), param=param))

    async def _finish(self, step: wire.ServerStep, *, reason: str) -> None:
        """End the session: stop replies and recognition, send ``session.ended`` (and any error), close."""
        self.ended = True
        await self._shutdown()
        for reply in step.replies:
            await self.ctx.send(reply)
        sid = self.session.session_id if self.session else None
        logger.info("agent session %s: %s (close %s)", sid, reason, step.close_code)
        if self.history is not None and sid is not None and not self._recorded:
            self._recorded = True
            self.history.end(sid, how="end" if step.close_code == 1000 else "expired", now=time.time())
        await self.ctx.close(step.close_code or 1000, reason)

    # ----------------------------------------------------------------- ready / resume

    def _resumable(self, session_id: str) -> str:
        status, state = parking.claim(self.ctx, session_id, owner=self.auth.owner)
        self._resumed = state
        return status

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
        if self.history is not None:
            record = self.history.start(
                session.session_id, agent_id=session.agent_id, config=session.config, now=time.time()
            )
            self.timeline = record.timeline
        synth = await ctx.run_engine(synthesizer)
        logger.info(
            "agent session %s %s: input %s, output %s voice %s, engine %s, speech %s%s",
            session.session_id,
            "resumed" if resumed else "ready",
            session.input_encoding,
            settings.output_encoding(self.config),
            settings.voice(self.config) or "default",
            getattr(ctx.recognizer, "name", "?"),
            synth.engine,
            " (clearly-labelled synthetic audio, not speech)" if isinstance(synth, SyntheticSynthesizer) else "",
        )
        self.listener.start()
        self.responder.start()
        if self.deadline is not None:
            self._expiry = asyncio.create_task(self._expire(), name=f"agent-expiry-{session.session_id}")
        if not self.greeted and self.brain.greet() is not None:
            self.greeted = True
            self.responder.queue(Job("greet"))
        return False

    def _on_update(self, update: Mapping[str, Any]) -> None:
        if self.timeline is not None:
            self.timeline.config_change(update, now=time.time())
        brain = self.brain
        if brain is None:
            return
        if "tools" in update:
            brain.set_tools(self.config.get("tools") or ())
        if "system_prompt" in update:
            brain.instructions = self.config.get("system_prompt")
        if isinstance(update.get("input"), Mapping) and "turn_detection" in update["input"]:
            logger.debug("turn_detection changed; endpointing applies from the next recognizer stream")

    def _park(self) -> bool:
        """Keep a dropped session for ``session.resume`` (not after ``session.end`` or an error close)."""
        session = self.session
        if self.ended or session is None or not session.ready or session.ended or self.brain is None:
            return False
        return parking.park(
            self.ctx, session, brain=self.brain, owner=self.auth.owner, deadline=self.deadline, greeted=self.greeted
        )

    def _record_close(self, *, parked: bool) -> None:
        """Tell the Sessions API how a ready session's connection ended (once)."""
        session, history = self.session, self.history
        if history is None or session is None or not session.ready or self.timeline is None or self._recorded:
            return
        self._recorded = True
        if parked:
            grace = self.ctx.server.config.resume_grace_seconds
            history.dropped(session.session_id, now=time.time(), grace_seconds=grace)
        else:
            history.end(session.session_id, how="error", now=time.time())

    async def _expire(self) -> None:
        assert self.deadline is not None and self.session is not None
        while True:
            left = self.deadline - time.time()
            if left <= 0:
                break
            await asyncio.sleep(min(left, _EXPIRY_POLL_SECONDS))
        step = self.session.check_expiry(now=time.time(), deadline=self.deadline)
        if step is not None and not self.ctx.closing:
            # _shutdown (inside _finish) stops every task of the connection except this one.
            await self._finish(step, reason="max_session_duration_seconds reached")

    # ----------------------------------------------------------------- parts → each other

    async def _on_speech_started(self) -> None:
        await self.responder.barge_in()

    def _on_turn(self, turn: UserTurn) -> None:
        if self.timeline is not None:
            self.timeline.user_turn(
                item_id=turn.item_id, text=turn.text, started_at=turn.started_at, ended_at=turn.ended_at
            )
        self.responder.user_turn(turn.text)

    async def _on_tool_result(self, call_id: str, result: str) -> None:
        route = self.tools.route_result(call_id, result, brain=self.brain)
        if route == "resumed":  # a call made before a resume: nobody waits for it here, answer it now
            if self.timeline is not None:
                self.timeline.tool_result(call_id, result=result, now=time.time())
            self.responder.queue(Job("tool_result", text=result, call_id=call_id))
        elif route == "unknown":
            await self._error(
                "invalid_value", f"tool.result for unknown call_id {call_id!r}; answer each tool.call once", "call_id"
            )

    # ----------------------------------------------------------------- shutdown

    async def _shutdown(self) -> None:
        """Stop recognition, replies, tool waits and the expiry timer, and wait for them (idempotent)."""
        await self.listener.stop()
        await self.responder.stop()
        expiry = self._expiry
        if expiry is not None and expiry is not asyncio.current_task():
            self._expiry = None
            expiry.cancel()
            await asyncio.gather(expiry, return_exceptions=True)
        self.tools.cancel()
