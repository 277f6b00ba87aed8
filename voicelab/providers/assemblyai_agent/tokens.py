"""AssemblyAI Voice Agent temporary tokens.

Source: the token API page
https://www.assemblyai.com/docs/api-reference/voice-agent-api/generate-voice-agent-token

Client half: build the ``GET /v1/token`` request and parse its response.  Server half: a pure
`TokenIssuer` (single use, a redemption window, a session cap) whose every method takes the
current time as float seconds; it never reads a clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelab.protocols.errors import MessageError, ParameterError, TokenError
from voicelab.protocols.redaction import SecretHeaders, SecretURL, with_query
from voicelab.protocols.wire import HttpRequest, bearer_token, decode_json_object, lower_headers, parse_query

__all__ = [
    "DEFAULT_MAX_SESSION_DURATION",
    "EXPIRES_IN_RANGE",
    "MAX_SESSION_RANGE",
    "IssuedToken",
    "TemporaryToken",
    "TokenGrant",
    "TokenIssuer",
    "build_token_request",
    "check_token_params",
    "handle_token_request",
    "key_fingerprint",
    "parse_token_response",
]

HOSTS = {"us": "agents.assemblyai.com", "eu": "agents.eu.assemblyai.com"}
#: ``expires_in_seconds`` range: the redemption window [DOC].
EXPIRES_IN_RANGE = (1, 600)
#: ``max_session_duration_seconds`` range [DOC].
MAX_SESSION_RANGE = (60, 10800)
DEFAULT_MAX_SESSION_DURATION = 10800


def key_fingerprint(key: str) -> str:
    """Return a short, non-reversible label for a credential (safe to print)."""
    return "key_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _check_range(name: str, value: object, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != int(value)
        or not lo <= value <= hi
    ):
        raise ParameterError(param=name, value=value, allowed=f"whole seconds from {lo} to {hi}")
    return int(value)


def check_token_params(
    *, expires_in_seconds: object, max_session_duration_seconds: object = None
) -> tuple[int, int]:
    """Validate token parameters.

    Args:
        expires_in_seconds: Redemption window, 1-600 s (required).
        max_session_duration_seconds: Session cap, 60-10800 s; ``None`` means the default 10800.

    Returns:
        ``(expires_in_seconds, max_session_duration_seconds)`` as ints.
    """
    window = _check_range("expires_in_seconds", expires_in_seconds, EXPIRES_IN_RANGE)
    if max_session_duration_seconds is None:
        return window, DEFAULT_MAX_SESSION_DURATION
    return window, _check_range(
        "max_session_duration_seconds", max_session_duration_seconds, MAX_SESSION_RANGE
    )


def build_token_request(
    *,
    api_key: str,
    expires_in_seconds: int,
    max_session_duration_seconds: int | None = None,
    region: str = "us",
    base_url: str | None = None,
) -> HttpRequest:
    """Build ``GET /v1/token?expires_in_seconds=…[&max_session_duration_seconds=…]``.

    Args:
        api_key: The API key (sent as ``Authorization: Bearer``).
        expires_in_seconds: Redemption window, 1-600 s.
        max_session_duration_seconds: Session cap, 60-10800 s; omitted when ``None`` (server default 10800).
        region: ``"us"`` or ``"eu"``.
        base_url: ``http(s)://host:port`` override (e.g. the emulator).

    Returns:
        The request; its printed forms hide the key.
    """
    window, cap = check_token_params(
        expires_in_seconds=expires_in_seconds, max_session_duration_seconds=max_session_duration_seconds
    )
    if base_url is None:
        if region not in HOSTS:
            raise ParameterError(param="region", value=region, allowed=tuple(HOSTS))
        root = f"https://{HOSTS[region]}"
    else:
        root = base_url.rstrip("/")
    query = {"expires_in_seconds": str(window)}
    if max_session_duration_seconds is not None:
        query["max_session_duration_seconds"] = str(cap)
    return HttpRequest(
        method="GET",
        url=SecretURL(with_query(root + "/v1/token", query)),
        headers=SecretHeaders({"Authorization": f"Bearer {api_key}"}),
    )


@dataclass(frozen=True, kw_only=True)
class TemporaryToken:
    """A minted temporary token (the ``/v1/token`` response).

    Attributes:
        token: The token (hidden from repr).
        expires_in_seconds: Its redemption window.
    """

    token: str = field(repr=False)
    expires_in_seconds: int


def parse_token_response(body: str | bytes | Mapping[str, Any]) -> TemporaryToken:
    """Parse ``{"token": "...", "expires_in_seconds": 300}``.

    Args:
        body: The response body.

    Returns:
        The token.

    Raises:
        MessageError: The body lacks a token or window.
    """
    msg = decode_json_object(body)
    token, window = msg.get("token"), msg.get("expires_in_seconds")
    if not isinstance(token, str) or not token:
        raise MessageError("token response has no 'token' string")
    if isinstance(window, bool) or not isinstance(window, int | float):
        raise MessageError(f"token response has no numeric 'expires_in_seconds' (got {window!r})")
    return TemporaryToken(token=token, expires_in_seconds=int(window))


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    """A token as the issuer stores it.

    Attributes:
        token: The token string (hidden from repr).
        issued_at: Issue time, seconds on the caller's clock.
        expires_in_seconds: Redemption window.
        max_session_duration_seconds: Cap on a session started with it.
        owner: Who minted it (e.g. an API-key label), for ``session_forbidden`` checks.
    """

    token: str = field(repr=False)
    issued_at: float
    expires_in_seconds: int
    max_session_duration_seconds: int
    owner: str = ""

    @property
    def redeem_deadline(self) -> float:
        """The last instant the token may open a WebSocket."""
        return self.issued_at + self.expires_in_seconds


@dataclass(frozen=True, kw_only=True)
class TokenGrant:
    """What redeeming a token grants.

    Attributes:
        started_at: When the session started (the redemption time).
        max_session_duration_seconds: The session cap.
        owner: The token's owner.
    """

    started_at: float
    max_session_duration_seconds: int
    owner: str = ""

    @property
    def session_deadline(self) -> float:
        """When the session must end with ``session_expired``."""
        return self.started_at + self.max_session_duration_seconds

    def expired(self, *, now: float) -> bool:
        """Whether the session cap has been reached at ``now``."""
        return now >= self.session_deadline


class TokenIssuer:
    """Issues and redeems single-use temporary tokens; time always comes from the caller.

    Args:
        token_factory: Makes a new token string; defaults to a random URL-safe string.
    """

    def __init__(self, *, token_factory: Callable[[], str] | None = None) -> None:
        """Initialise."""
        self._factory = token_factory or (lambda: secrets.token_urlsafe(24))
        self._tokens: dict[str, IssuedToken] = {}
        self._used: set[str] = set()

    def __repr__(self) -> str:
        """Return a representation with secrets hidden."""
        return f"TokenIssuer(issued={len(self._tokens)}, used={len(self._used)})"

    def issue(
        self,
        *,
        now: float,
        expires_in_seconds: int,
        max_session_duration_seconds: int | None = None,
        owner: str = "",
    ) -> IssuedToken:
        """Mint a token.

        Args:
            now: Current time in seconds.
            expires_in_seconds: Redemption window, 1-600.
            max_session_duration_seconds: Session cap, 60-10800; ``None`` = 10800.
            owner: Who minted it.

        Returns:
            The issued token.
        """
        window, cap = check_token_params(
            expires_in_seconds=expires_in_seconds, max_session_duration_seconds=max_session_duration_seconds
        )
        token = self._factory()
        issued = IssuedToken(
            token=token,
            issued_at=now,
            expires_in_seconds=window,
            max_session_duration_seconds=cap,
            owner=owner,
        )
        self._tokens[token] = issued
        return issued

    def redeem(self, token: str, *, now: float) -> TokenGrant:
        """Use a token to open a session (single use).

        Args:
            token: The token from ``?token=``.
            now: Current time in seconds.

        Returns:
            The grant (session start and cap).

        Raises:
            TokenError: Unknown token, already used, or the redemption window elapsed
                (``code`` is ``"unauthorized"``).
        """
        issued = self._tokens.get(token)
        if issued is None:
            raise TokenError("unknown temporary token", reason="unknown", code="UNAUTHORIZED")
        if token in self._used:
            raise TokenError(
                "temporary token already used; tokens are single-use, mint a new one per connection",
                reason="used",
                code="UNAUTHORIZED",
            )
        if now > issued.redeem_deadline:
            raise TokenError(
                f"temporary token redemption window of {issued.expires_in_seconds} s elapsed; "
                "mint the token right before connecting",
                reason="expired",
                code="unauthorized",
            )
        self._used.add(token)
        return TokenGrant(
            started_at=now,
            max_session_duration_seconds=issued.max_session_duration_seconds,
            owner=issued.owner,
        )


def handle_token_request(
    *,
    query: str | Mapping[str, str],
    headers: Mapping[str, str] | None,
    issuer: TokenIssuer,
    now: float,
    api_keys: Collection[str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer ``GET /v1/token`` as a server (the emulator).

    Accepts the key as ``Bearer <key>`` or raw (the vendor's examples vary).

    Args:
        query: The query string.
        headers: Request headers.
        issuer: The token store.
        now: Current time in seconds.
        api_keys: Accepted keys; ``None`` accepts any non-empty key.

    Returns:
        ``(status, body)``: 200 with ``{"token","expires_in_seconds"}``, 400 or 401 with ``{"error": …}``.
    """
    _, key = bearer_token(lower_headers(headers).get("authorization"))
    if not key or (api_keys is not None and key not in api_keys):
        return 401, {"error": "Unauthorized"}
    values = parse_query(query)
    if "expires_in_seconds" not in values:
        return 400, {"error": "expires_in_seconds is required (1-600)"}
    try:
        window = int(values["expires_in_seconds"])
        cap = (
            int(values["max_session_duration_seconds"]) if "max_session_duration_seconds" in values else None
        )
        issued = issuer.issue(
            now=now, expires_in_seconds=window, max_session_duration_seconds=cap, owner=key_fingerprint(key)
        )
    except ValueError as exc:  # ParameterError is a ValueError; int() failures too
        return 400, {"error": str(exc)}
    return 200, {"token": issued.token, "expires_in_seconds": issued.expires_in_seconds}
