"""Resume parking: what a dropped agent session keeps for ``session.resume``, and getting it back.

A connection that drops without ``session.end`` parks its session in the server's
`voicelab.emulator.server.SessionRegistry` for ``ServerConfig.resume_grace_seconds`` (30 s by
default, as the API does [DOC] https://www.assemblyai.com/docs/voice-agents/voice-agent-api).
``session.resume`` as the first message of a new connection (with a fresh credential) takes it
back: the same session id, configuration, brain (and its pending tool calls) and durations. The
credential itself is never kept.

Sessions are parked after a drop, a server-side 1006/1011 fault or a server shutdown; not after
``session.end``, an error close or a limit violation ([INF]).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from voicelab.providers.assemblyai_agent.emulator.brain import Brain

if TYPE_CHECKING:
    from voicelab.emulator.server import ConnectionContext
    from voicelab.providers.assemblyai_agent import AgentServerSession

__all__ = ["PARKED_AFTER_CLOSE", "ParkedSession", "await_previous_connection", "claim", "park"]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

#: How the server closed a connection whose session is parked (``None``: the client dropped it).
PARKED_AFTER_CLOSE: tuple[int | None, ...] = (None, 1000, 1001, 1006, 1011)
#: Longest wait, in seconds, for a dropped connection that still holds a session to park it.
WINDING_DOWN_WAIT = 1.0
_POLL_SECONDS = 0.05


@dataclass
class ParkedSession:
    """What a dropped session keeps for ``session.resume`` (never the credential).

    Attributes:
        config: The applied session configuration.
        brain: The scripted brain, with its pending tool calls.
        started_at: Wall-clock start of the session (``time.time()``), for ``session_duration_seconds``.
        audio_seconds: Input audio seconds received so far.
        owner: Who may resume it (the credential's owner).
        deadline: Wall-clock end of the session (``max_session_duration_seconds``), ``inf`` for none.
        until: Server clock at which the grace window ends.
        greeted: Whether the greeting was spoken (it is not repeated).
    """

    config: dict[str, Any]
    brain: Brain
    started_at: float
    audio_seconds: float
    owner: str
    deadline: float
    until: float
    greeted: bool


async def await_previous_connection(ctx: ConnectionContext, frame: str | bytes) -> None:
    """Before a ``session.resume``, let a dropped connection that still holds the session park it.

    A client that reconnects at once can arrive before the old connection has wound down; a real
    service gives it a moment too (up to `WINDING_DOWN_WAIT` here).

    Args:
        ctx: The new connection's context.
        frame: Its first client frame (anything but a ``session.resume`` returns at once).
    """
    if not isinstance(frame, str) or '"session.resume"' not in frame:
        return
    try:
        session_id = json.loads(frame).get("session_id")
    except (ValueError, AttributeError):
        return
    for _ in range(round(WINDING_DOWN_WAIT / _POLL_SECONDS)):
        if not isinstance(session_id, str) or not ctx.registry.winding_down(session_id, besides=ctx):
            return
        await asyncio.sleep(_POLL_SECONDS)


def claim(
    ctx: ConnectionContext, session_id: str, *, owner: str
) -> tuple[Literal["ok", "not_found", "forbidden"], ParkedSession | None]:
    """Take a parked session out of the registry for `owner`.

    Returns:
        ``("ok", state)``; ``("not_found", None)`` when unknown or its grace window passed;
        ``("forbidden", None)`` when another owner parked it (it stays parked).
    """
    state = ctx.registry.take(session_id, now=ctx.clock())
    if not isinstance(state, ParkedSession):
        return "not_found", None
    if state.owner != owner:
        ctx.registry.park(session_id, state, until=state.until)
        return "forbidden", None
    return "ok", state


def park(
    ctx: ConnectionContext,
    session: AgentServerSession,
    *,
    brain: Brain,
    owner: str,
    deadline: float | None,
    greeted: bool,
) -> bool:
    """Park a ready session whose connection ended, unless the server closed it for an error.

    Returns:
        Whether the session was parked.
    """
    if ctx.closed_by_server not in PARKED_AFTER_CLOSE:
        return False
    grace = ctx.server.config.resume_grace_seconds
    until = ctx.clock() + grace
    state = ParkedSession(
        config=session.config,
        brain=brain,
        started_at=session.started_at,
        audio_seconds=session.audio_seconds,
        owner=owner,
        deadline=deadline if deadline is not None else float("inf"),
        until=until,
        greeted=greeted,
    )
    ctx.registry.park(session.session_id, state, until=until)
    logger.info("agent session %s dropped without session.end; resumable for %.0f s", session.session_id, grace)
    return True
