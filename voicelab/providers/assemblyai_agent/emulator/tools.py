"""Tool calls of one agent connection: ``tool.call`` out, waiting for ``tool.result``, timeouts, late results.

When the brain plans a tool call, the filler reply ("One moment, let me check.") carries
``tool.call`` right after its ``reply.started``; a ``hold`` tool sends ``tool.call`` with no reply.
The agent then waits for ``tool.result``, which a client may only send after that reply's
``reply.done`` [DOC] (https://assemblyai.com/docs/voice-agents/voice-agent-api/tool-calling).

A ``hold`` tool holds the session from its ``tool.call`` until its result (or timeout) arrives: the
caller's ``hold`` context keeps user transcripts back and suppresses user-triggered replies, and
``reply.create`` status updates are spoken at once [VND]
(https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md).

Choices where the vendor docs are silent ([INF]):

* A tool's ``timeout_seconds`` counts from the ``reply.done`` of the filler reply; then the brain's
  timeout sentence is spoken instead.
* A result for a call that timed out or was discarded by an interruption is ignored (logged); one
  for a ``call_id`` never issued gets ``session.error invalid_value``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal

from voicelab.protocols.wire import JsonMessage
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.emulator.brain import Brain, CallTool, Say

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext
    from voicelab.providers.assemblyai_agent.history import Timeline

__all__ = ["ResultRoute", "ToolCalls"]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

#: Where a ``tool.result`` goes: to the reply waiting for it; to a new reply (a call made before a
#: resume, that nobody on this connection waits for); nowhere (a call that timed out or was
#: interrupted); or back as an error (a ``call_id`` never issued).
ResultRoute = Literal["delivered", "resumed", "stale", "unknown"]
#: Speaks one reply: ``speak(text, tool_call=message)``.
Speak = Callable[..., Awaitable[None]]
#: Holds the session while a ``hold`` tool runs (an async context).
Hold = Callable[[], AbstractAsyncContextManager[None]]


class ToolCalls:
    """The tool calls one connection waits for, and the ones whose results come too late.

    Args:
        ctx: The connection context (to send ``tool.call`` for a ``hold`` tool).
        timeline: Returns the session's timeline (calls and results are recorded there), if any.
    """

    def __init__(self, ctx: ConnectionContext, *, timeline: Callable[[], Timeline | None] | None = None) -> None:
        self._ctx = ctx
        self._waiters: dict[str, asyncio.Future[str]] = {}
        self._stale: set[str] = set()
        self._timeline = timeline or (lambda: None)

    def __repr__(self) -> str:
        return f"ToolCalls(waiting={sorted(self._waiters)}, stale={len(self._stale)})"

    async def call(
        self,
        call: CallTool,
        *,
        brain: Brain,
        speak: Speak,
        hold: Hold | None = None,
        turn: dict[str, Any] | None = None,
    ) -> Say:
        """Announce `call`, wait for its result (or its timeout) and return what the agent says next.

        Args:
            call: The brain's planned call.
            brain: The brain that planned it (it turns the result into the follow-up).
            speak: Speaks the filler reply, ``speak(text, tool_call=message)``.
            hold: Holds the session while a ``hold`` tool runs (from its ``tool.call`` until its
                result or timeout); ``None`` holds nothing.
            turn: The timeline turn the call belongs to.

        Returns:
            The follow-up: the brain's answer from the result, or its timeout sentence.
        """
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters[call.call_id] = future
        timeline = self._timeline()
        message: JsonMessage = wire.tool_call(call_id=call.call_id, name=call.name, arguments=call.arguments)
        if timeline is not None and turn is not None:
            timeline.tool_call(turn, call_id=call.call_id, name=call.name, arguments=call.arguments, now=time.time())
        try:
            if call.filler is not None:
                await speak(call.filler, tool_call=message)
                return await self._wait(call, future, brain=brain)
            # "hold": no reply.started; the agent stays silent while the tool runs
            async with hold() if hold is not None else contextlib.nullcontext():
                await self._ctx.send(message)
                return await self._wait(call, future, brain=brain)
        finally:
            self._waiters.pop(call.call_id, None)

    async def _wait(self, call: CallTool, future: asyncio.Future[str], *, brain: Brain) -> Say:
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout=call.timeout_seconds)
        except TimeoutError:
            logger.info("tool call %s (%s) timed out after %.1f s", call.call_id, call.name, call.timeout_seconds)
            self._stale.add(call.call_id)
            timeline = self._timeline()
            if timeline is not None:
                timeline.tool_result(call.call_id, result=None, now=time.time(), timed_out=True)
            return brain.tool_timeout(call.call_id)
        return brain.tool_result(call.call_id, result)

    def route_result(self, call_id: str, result: str, *, brain: Brain | None) -> ResultRoute:
        """Hand a ``tool.result`` to the call waiting for it, or say where else it goes (`ResultRoute`)."""
        waiter = self._waiters.get(call_id)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(result)
                timeline = self._timeline()
                if timeline is not None:
                    timeline.tool_result(call_id, result=result, now=time.time())
            return "delivered"
        if brain is not None and call_id in brain.pending_calls:
            return "resumed"
        if call_id in self._stale:
            logger.info("ignoring tool.result for %s: the call timed out or its reply was interrupted", call_id)
            return "stale"
        return "unknown"

    def discard(self, call_ids: Iterable[str]) -> None:
        """Mark calls whose reply was interrupted: their results are ignored."""
        self._stale.update(call_ids)

    def cancel(self) -> None:
        """Stop waiting for every result (the connection ends)."""
        for waiter in self._waiters.values():
            waiter.cancel()
        self._waiters.clear()
