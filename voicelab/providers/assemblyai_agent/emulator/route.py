"""The AssemblyAI Voice Agent route of the emulator: ``/v1/ws`` and the REST endpoints beside it.

`route` builds the `Route` the emulator hosts (named by `voicelab.providers.assemblyai_agent.SPEC`):

* ``GET /v1/token``: temporary tokens;
* ``POST``/``GET /v1/agents``, ``GET``/``PUT``/``DELETE /v1/agents/{agent_id}``: stored agents,
  which ``session.update {"agent_id": …}`` binds
  (https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents);
* ``GET /v1/sessions``, ``GET``/``DELETE /v1/sessions/{session_id}``: the Sessions API over this
  server's own sessions, and ``GET /v1/session-artifacts/{key}``, the timeline artifact a session
  links to (https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-history).

Each route owns its state (`AgentApi`): a `TokenIssuer` for single-use temporary tokens and the
tokens an early-expiry fault (``token_ttl``) applies to, the stored agents and the session history.
The REST endpoints take the key raw or as ``Bearer <key>``; artifact URLs need no credentials. The
upgrade check is the sans-I/O `voicelab.providers.assemblyai_agent.accept_upgrade`; the session
itself is `voicelab.providers.assemblyai_agent.emulator.handler.handle`; the REST answers come from
the sans-I/O `AgentStore` and `SessionHistory`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelab.emulator.server import ConnectionContext, HttpRequestView, Route, UpgradeRequest
from voicelab.protocols.wire import JsonMessage
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.emulator.handler import handle

__all__ = ["PATHS", "TOKEN_PATH", "AgentApi", "TokenDesk", "route"]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")

PATHS: tuple[str, ...] = (wire.PATH,)
#: Where temporary tokens are minted.
TOKEN_PATH = "/v1/token"

_REJECT = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class TokenDesk:
    """One server's temporary tokens: the issuer, and when each token minted under a fault expires."""

    def __init__(self) -> None:
        self.issuer = wire.TokenIssuer()
        self.minted: dict[str, tuple[float, float]] = {}

    def mint(self, request: HttpRequestView, *, api_key: str) -> tuple[int, Mapping[str, Any]]:
        """Serve ``GET /v1/token`` (wall-clock token windows; a ``token_ttl`` fault shortens them)."""
        now = time.time()
        status, body = wire.handle_token_request(
            query=request.query, headers=request.headers, issuer=self.issuer, now=now, api_keys=[api_key]
        )
        if status == 200 and request.faults.token_ttl is not None:
            self.minted[str(body["token"])] = (now, request.faults.token_ttl)
        return status, body

    def redeem_time(self, token: str | None, now: float) -> float:
        """The clock value to redeem ``token`` with: far in the future when an early-expiry fault ended it."""
        if token and token in self.minted:
            minted, ttl = self.minted[token]
            if now - minted > ttl:
                return now + 1e6
        return now


@dataclass
class AgentApi:
    """What one emulated Voice Agent account holds besides its sockets.

    Attributes:
        tokens: Temporary tokens.
        agents: Stored agents (``/v1/agents``).
        history: Its sessions (``/v1/sessions``).
    """

    tokens: TokenDesk = field(default_factory=TokenDesk)
    agents: wire.AgentStore = field(default_factory=wire.AgentStore)
    history: wire.SessionHistory = field(default_factory=wire.SessionHistory)

    def endpoints(self) -> dict[str, Any]:
        """The plain-HTTP endpoints, by path and method (`voicelab.emulator.server.HttpRoutes`)."""
        agents, history = self.agents, self.history
        one_agent = wire.AGENTS_PATH + "/{agent_id}"
        one_session = wire.SESSIONS_PATH + "/{session_id}"
        return {
            TOKEN_PATH: lambda req: self.tokens.mint(req, api_key=req.server.api_key),
            wire.AGENTS_PATH: {
                "GET": _rest(lambda req: agents.list()),
                "POST": _rest(lambda req: agents.create(req.json(), now=time.time())),
            },
            one_agent: {
                "GET": _rest(lambda req: agents.get(req.params["agent_id"])),
                "PUT": _rest(lambda req: agents.update(req.params["agent_id"], req.json(), now=time.time())),
                "DELETE": _rest(lambda req: agents.delete(req.params["agent_id"], now=time.time())),
            },
            wire.SESSIONS_PATH: {"GET": _rest(lambda req: history.list(req.query, now=time.time()))},
            one_session: {
                "GET": _rest(lambda req: history.get(req.params["session_id"], now=time.time(), base_url=req.base_url)),
                "DELETE": _rest(lambda req: history.delete(req.params["session_id"], now=time.time())),
            },
            wire.ARTIFACTS_PATH: lambda req: history.artifact(req.params["key"], now=time.time()),
        }


def _rest(answer: Callable[[HttpRequestView], tuple[int, Any]]) -> Callable[[HttpRequestView], tuple[int, Any]]:
    """A REST endpoint: the key checked first (raw or ``Bearer``), a body that is not JSON a 422."""

    def endpoint(req: HttpRequestView) -> tuple[int, Any]:
        refused = wire.check_rest_auth(req.headers, api_keys=[req.server.api_key])
        if refused is not None:
            return refused
        try:
            return answer(req)
        except ValueError as exc:  # the body is not JSON
            return 422, {"detail": [{"loc": ["body"], "msg": f"JSON decode error: {exc}", "type": "json_invalid"}]}

    return endpoint


def _error_frame(message: str) -> JsonMessage:
    return wire.session_error(code="server_error", message=message, timestamp=time.time())


async def _over_capacity(ctx: ConnectionContext) -> None:
    await ctx.send(
        wire.session_error(
            code="server_error", message="At capacity: too many concurrent sessions; retry later", timestamp=time.time()
        )
    )


def route() -> Route:
    """Return the Voice Agent `Route`: the full agent session behind ``/v1/ws`` and its REST endpoints."""
    api = AgentApi()
    desk = api.tokens

    def accept(req: UpgradeRequest) -> Any:
        now = desk.redeem_time(req.query.get("token"), time.time())
        return wire.accept_upgrade(
            path=req.route,
            query=req.query,
            headers=req.headers,
            now=now,
            api_keys=[req.server.api_key],
            issuer=desk.issuer,
        )

    async def serve(conn: Any, ctx: ConnectionContext) -> None:
        await handle(conn, ctx, agents=api.agents, history=api.history)

    return Route(
        name=wire.PROVIDER,
        paths=PATHS,
        accept=accept,
        handle=serve,
        error_frame=_error_frame,
        rejection_body=lambda status, rid: {"error": _REJECT.get(status, "error")},
        over_capacity=_over_capacity,
        http=api.endpoints(),
    )
