"""Smallest access tokens: ``POST /waves/v1/auth/token``, sans-I/O.

Source: the access-token endpoint's documentation, generated from the vendor's OpenAPI spec
(https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs,
response model
https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.Models.AccessTokenResponse.g.cs).
What it says [DOC]:

- ``POST /waves/v1/auth/token`` with ``Authorization: Bearer <API key>`` and the JSON body
  ``{"ttl_seconds": N}``, N a whole number from 30 to 900, 300 when omitted;
- the answer is ``{"access_token": "wat_…", "token_type": "Bearer", "expires_in": N,
  "expires_at": "<ISO 8601 UTC>"}``; a token works any number of times until it expires;
- it goes in ``Authorization: Bearer`` or, on WebSockets, the ``api_key`` query parameter; of Pulse's
  paths only ``WSS /waves/v1/stt/live`` takes it ("treat any route not listed as unavailable to
  tokens"; ``/waves/v1/pulse/get_text`` answers 403);
- 400 when ``ttl_seconds`` is out of range, 401 for a missing or invalid key, 403 when a token asks for
  a token ("only an API key can mint tokens"), 429 for too many mint requests;
- a token is valid only in the region that minted it.

Client half: `build_token_request`, `parse_token_response`. Server half: `AccessTokenIssuer` (pure:
every method takes the time as float seconds) and `handle_token_request`.

Choices [INF]: the 400 body copies the spec's validation-error shape (``status``, ``message``,
``errors[{code, message, path}]``) with voicelab's wording; a body that is not a JSON object gets the
same 400; an empty body means ``{}`` (so ``ttl_seconds`` 300); the 401 bodies are Pulse's WebSocket
ones.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from voicelab.protocols.errors import MessageError, ParameterError
from voicelab.protocols.redaction import SecretHeaders, SecretURL
from voicelab.protocols.wire import HttpRequest, bearer_token, decode_json_object, encode_json, lower_headers
from voicelab.providers.pulse.params import HOSTS

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "TOKEN_PATH",
    "TOKEN_PREFIX",
    "TTL_RANGE",
    "AccessToken",
    "AccessTokenIssuer",
    "build_token_request",
    "check_ttl",
    "handle_token_request",
    "is_access_token",
    "parse_token_response",
]

#: The endpoint's path [DOC].
TOKEN_PATH = "/waves/v1/auth/token"
#: Every access token starts with this [DOC].
TOKEN_PREFIX = "wat_"
#: Allowed ``ttl_seconds`` [DOC].
TTL_RANGE = (30, 900)
#: ``ttl_seconds`` when omitted [DOC].
DEFAULT_TTL_SECONDS = 300


def is_access_token(credential: str) -> bool:
    """Whether ``credential`` is an access token (``wat_…``) rather than an API key."""
    return credential.startswith(TOKEN_PREFIX)


def check_ttl(value: object) -> int:
    """Validate ``ttl_seconds``: a whole number of seconds from 30 to 900.

    Raises:
        ParameterError: Anything else.
    """
    lo, hi = TTL_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or not lo <= value <= hi:
        raise ParameterError(param="ttl_seconds", value=value, allowed=f"whole seconds from {lo} to {hi}")
    return int(value)


def build_token_request(
    *, api_key: str, ttl_seconds: int | None = DEFAULT_TTL_SECONDS, region: str = "india", base_url: str | None = None
) -> HttpRequest:
    """Build ``POST /waves/v1/auth/token`` with the JSON body ``{"ttl_seconds": N}``.

    Mint through the host the token will be used on: a token is valid only in its region [DOC].

    Args:
        api_key: The API key (sent as ``Authorization: Bearer``); never an access token.
        ttl_seconds: Lifetime, 30-900 s; ``None`` sends ``{}`` (the server applies 300).
        region: A key of `voicelab.providers.pulse.params.HOSTS`; ignored with ``base_url``.
        base_url: ``http(s)://host:port`` override (e.g. the emulator).

    Returns:
        The request; its printed forms hide the key.

    Raises:
        ParameterError: A bad ``ttl_seconds`` or region, or an access token given as the key.
    """
    if not isinstance(api_key, str) or not api_key.strip():
        raise ParameterError(param="api_key", value="<empty>", allowed="a non-empty API key")
    if is_access_token(api_key):
        raise ParameterError(param="api_key", value="wat_…", allowed="an API key",
                             hint="only an API key can mint access tokens (a token gets 403)")
    body: dict[str, Any] = {} if ttl_seconds is None else {"ttl_seconds": check_ttl(ttl_seconds)}
    if base_url is None:
        if region not in HOSTS:
            raise ParameterError(param="region", value=region, allowed=tuple(HOSTS))
        root = f"https://{HOSTS[region]}"
    else:
        root = base_url.rstrip("/")
    return HttpRequest(
        method="POST",
        url=SecretURL(root + TOKEN_PATH),
        headers=SecretHeaders({"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}),
        body=encode_json(body).encode("utf-8"),
    )


@dataclass(frozen=True, kw_only=True)
class AccessToken:
    """A minted access token (the endpoint's answer).

    Attributes:
        access_token: The token, ``wat_…`` (hidden from repr).
        token_type: Always ``"Bearer"``.
        expires_in: Seconds it stays valid (the applied ``ttl_seconds``).
        expires_at: When it expires, ISO 8601 UTC as sent.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    expires_at: str


def parse_token_response(body: str | bytes | Mapping[str, Any]) -> AccessToken:
    """Parse ``{"access_token", "token_type", "expires_in", "expires_at"}``.

    Raises:
        MessageError: A field is missing or has the wrong type.
    """
    msg = decode_json_object(body)
    token, kind, expires_in, expires_at = (msg.get(k) for k in ("access_token", "token_type", "expires_in",
                                                                "expires_at"))
    if not isinstance(token, str) or not token:
        raise MessageError("access-token response has no 'access_token' string")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise MessageError("access-token response has no numeric 'expires_in'")
    return AccessToken(access_token=token, token_type=str(kind or "Bearer"), expires_in=int(expires_in),
                       expires_at=str(expires_at or ""))


# --------------------------------------------------------------------------- server half


class AccessTokenIssuer:
    """Mints and checks access tokens (server half; pure, reusable tokens until expiry).

    Args:
        api_keys: API keys allowed to mint; ``None`` accepts any non-token credential.
    """

    def __init__(self, *, api_keys: Collection[str] | None = None) -> None:
        self.api_keys = api_keys
        self._expiry: dict[str, float] = {}

    def mint(self, *, ttl_seconds: int, now: float, wall_now: datetime,
             cap_seconds: float | None = None) -> AccessToken:
        """Mint a token valid for ``ttl_seconds`` from ``now``.

        Args:
            ttl_seconds: Validated lifetime (see `check_ttl`).
            now: The server clock, seconds.
            wall_now: The wall-clock time, for ``expires_at``.
            cap_seconds: Make the token stop working this soon instead, though the answer still says
                ``ttl_seconds`` (the emulator's ``token_ttl`` fault).

        Returns:
            The token as the endpoint answers it.
        """
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        life = float(ttl_seconds) if cap_seconds is None else min(float(ttl_seconds), cap_seconds)
        self._expiry[token] = now + life
        expiry = wall_now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=ttl_seconds)
        expires_at = expiry.isoformat().replace("+00:00", "Z")
        return AccessToken(access_token=token, token_type="Bearer", expires_in=ttl_seconds, expires_at=expires_at)

    def check(self, token: str, *, now: float) -> str:
        """``"valid"``, ``"expired"`` or ``"unknown"`` (tokens are reusable until they expire [DOC])."""
        expiry = self._expiry.get(token)
        if expiry is None:
            return "unknown"
        return "valid" if now < expiry else "expired"


def _validation_error(message: str) -> dict[str, Any]:
    return {"status": "error", "message": "Invalid request body",
            "errors": [{"code": "invalid_ttl_seconds", "message": message, "path": ["ttl_seconds"]}]}


def handle_token_request(
    *,
    issuer: AccessTokenIssuer,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    wall_now: datetime,
    cap_seconds: float | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer ``POST /waves/v1/auth/token`` as the service documents it.

    Args:
        issuer: The token state.
        headers: The request headers (any case).
        body: The request body (empty means ``{}``).
        now: The server clock, seconds.
        wall_now: The wall-clock time.
        cap_seconds: See `AccessTokenIssuer.mint`.

    Returns:
        ``(status, JSON body)``: 200 with the token, 400 (bad ``ttl_seconds`` or body), 401 (no or a
        wrong key, or not ``Bearer``) or 403 (a token asking for a token).
    """
    scheme, credential = bearer_token(lower_headers(headers).get("authorization"))
    if not credential:
        return 401, {"message": "Unauthorized: No tokens provided"}
    if scheme is None or scheme.lower() != "bearer":
        return 401, {"error": "unauthorized"}
    if is_access_token(credential):
        return 403, {"error": "Forbidden: an access token cannot mint access tokens; use an API key"}
    if issuer.api_keys is not None and credential not in issuer.api_keys:
        return 401, {"error": "unauthorized"}
    try:
        request = decode_json_object(body) if body.strip() else {}
    except MessageError as exc:
        return 400, _validation_error(f"the body must be a JSON object such as {{\"ttl_seconds\": 300}} ({exc})")
    try:
        ttl = check_ttl(request.get("ttl_seconds", DEFAULT_TTL_SECONDS))
    except ParameterError as exc:
        return 400, _validation_error(str(exc))
    token = issuer.mint(ttl_seconds=ttl, now=now, wall_now=wall_now, cap_seconds=cap_seconds)
    return 200, {"access_token": token.access_token, "token_type": token.token_type,
                 "expires_in": token.expires_in, "expires_at": token.expires_at}
