"""The AssemblyAI Voice Agent route of the emulator: ``/v1/ws`` and its token endpoint ``GET /v1/token``.

`route` builds the `Route` the emulator hosts (named by `voicelab.providers.assemblyai_agent.SPEC`).
Each route owns its token state: a `TokenIssuer` for single-use temporary tokens and the tokens
an early-expiry fault (``token_ttl``) applies to. The upgrade check is the sans-I/O
`voicelab.providers.assemblyai_agent.accept_upgrade`; the session itself is
`voicelab.providers.assemblyai_agent.emulator.handler.handle`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from voicelab.emulator.server import ConnectionContext, HttpRequestView, Route, UpgradeRequest
from voicelab.protocols.wire import JsonMessage
from voicelab.providers import assemblyai_agent as wire
from voicelab.providers.assemblyai_agent.emulator.handler import handle

__all__ = ["PATHS", "TOKEN_PATH", "TokenDesk", "route"]

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


def _error_frame(message: str) -> JsonMessage:
    return wire.session_error(code="server_error", message=message, timestamp=time.time())


async def _over_capacity(ctx: ConnectionContext) -> None:
    await ctx.send(
        wire.session_error(
            code="server_error", message="At capacity: too many concurrent sessions; retry later", timestamp=time.time()
        )
    )


def route() -> Route:
    """Return the Voice Agent `Route`: the full agent session behind ``/v1/ws`` and ``GET /v1/token``."""
    desk = TokenDesk()

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

    def tokens(request: HttpRequestView) -> tuple[int, Mapping[str, Any]]:
        return desk.mint(request, api_key=request.server.api_key)

    return Route(
        name=wire.PROVIDER,
        paths=PATHS,
        accept=accept,
        handle=handle,
        error_frame=_error_frame,
        rejection_body=lambda status, rid: {"error": _REJECT.get(status, "error")},
        over_capacity=_over_capacity,
        http={TOKEN_PATH: tokens},
    )
