"""The AssemblyAI Voice Agent route (``/v1/ws``): handshake, auth and the minimal session hook.

THE HOOK WHERE THE FULL AGENT LANDS. This module completes the upgrade and auth via
`voicelab.protocols.assemblyai_agent` (Bearer key or single-use ``?token=`` from ``GET /v1/token``)
and runs a *minimal* session: ``session.update`` → ``session.ready``, later updates →
``session.updated`` / ``immutable_field``, ``input.audio`` is accounted (no speech recognition,
no replies), ``session.end`` → ``session.ended`` + close 1000, and the session cap →
``session_expired``.

The full agent (VAD, user transcripts, TTS replies, barge-in, tools, resume) replaces
`minimal_handle`. It is picked up automatically when the package ``voicelab.emulator.agent``
exposes a handler with the provider-handler signature::

    # voicelab/emulator/agent/__init__.py
    async def handle(conn: ServerConnection, ctx: ConnectionContext) -> None: ...

``ctx.config`` is the `AuthOk` or `AuthFailure` returned by
`voicelab.protocols.assemblyai_agent.accept_upgrade`; ``ctx.server.token_issuer`` is the shared
`TokenIssuer`; ``ctx.registry.park(...)``/``take(...)`` keep sessions for ``session.resume``.
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from voicelab.emulator.server import ConnectionContext, Handler, Provider, UpgradeRequest
from voicelab.protocols import assemblyai_agent as wire
from voicelab.protocols.wire import JsonMessage

__all__ = ["PATHS", "agent_provider", "minimal_handle"]

logger = logging.getLogger("voicelab.emulator.assemblyai")

PATHS: tuple[str, ...] = (wire.PATH,)


def _accept(req: UpgradeRequest) -> Any:
    now = req.server.token_now(req.query.get("token"), time.time())
    return wire.accept_upgrade(
        path=req.route,
        query=req.query,
        headers=req.headers,
        now=now,
        api_keys=[req.server.api_key],
        issuer=req.server.token_issuer,
    )


def _error_frame(message: str) -> JsonMessage:
    return wire.session_error(code="server_error", message=message, timestamp=time.time())


async def _over_capacity(ctx: ConnectionContext) -> None:
    await ctx.send(
        wire.session_error(
            code="server_error", message="At capacity: too many concurrent sessions; retry later", timestamp=time.time()
        )
    )


async def minimal_handle(conn: Any, ctx: ConnectionContext) -> None:
    """Minimal Voice Agent session: handshake, ready/updated/ended; no recognition or replies."""
    auth = ctx.config
    if isinstance(auth, wire.AuthFailure):
        await ctx.send(auth.error)
        await ctx.close(auth.close_code, "unauthorized")
        return
    session = wire.AgentServerSession(session_id=wire.new_session_id(), started_at=time.time())
    ctx.session_id = session.session_id
    async for frame in ctx.frames():
        now = time.time()
        expired = session.check_expiry(now=now, deadline=auth.session_deadline)
        step = expired or session.receive(frame, now=now)
        for reply in step.replies:
            await ctx.send(reply)
        if step.close_code is not None:
            await ctx.close(step.close_code, "session ended")
            return
        if isinstance(step.event, wire.InputAudio) and await ctx.count_chunk():
            return


def _discover() -> Handler:
    try:
        module = importlib.import_module("voicelab.emulator.agent")
    except ImportError:
        return minimal_handle
    found = getattr(module, "handle", None)
    if callable(found):
        logger.debug("using the agent handler from voicelab.emulator.agent")
        return found  # type: ignore[no-any-return]
    return minimal_handle


def agent_provider(*, handle: Handler | None = None) -> Provider:
    """Return the AssemblyAI Voice Agent `Provider`.

    Args:
        handle: The connection handler; by default ``voicelab.emulator.agent.handle`` when it
            exists, else `minimal_handle`.
    """
    return Provider(
        name="assemblyai",
        paths=PATHS,
        accept=_accept,
        handle=handle or _discover(),
        error_frame=_error_frame,
        rejection_body=lambda status, rid: {"error": _REJECT.get(status, "error")},
        over_capacity=_over_capacity,
    )


_REJECT = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
