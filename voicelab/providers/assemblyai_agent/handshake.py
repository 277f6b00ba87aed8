"""AssemblyAI Voice Agent connection setup.

Client URL/auth, the server's upgrade check, and close-code explanations. Sources: the overview and
the token API pages, the troubleshooting page, and AssemblyAI's own skill reference (URLs in
`voicelab.providers.assemblyai_agent.messages` and docs/protocols.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from voicelab.protocols.errors import ParameterError, TokenError
from voicelab.protocols.events import Closed
from voicelab.protocols.redaction import SecretHeaders, SecretURL, with_query
from voicelab.protocols.wire import (
    ConnectRequest,
    Explanation,
    HandshakeRejection,
    JsonMessage,
    bearer_token,
    explain_emulator_close,
    lower_headers,
    parse_query,
)
from voicelab.providers.assemblyai_agent.messages import (
    PROVIDER,
    SKILL_REFERENCE,
    TROUBLESHOOTING,
    error_info,
    session_error,
)
from voicelab.providers.assemblyai_agent.tokens import HOSTS, TokenGrant, TokenIssuer, key_fingerprint

__all__ = [
    "PATH",
    "AuthFailure",
    "AuthOk",
    "accept_upgrade",
    "build_connect",
    "build_url",
    "closed",
    "explain_http_status",
    "explain_close",
]

PATH = "/v1/ws"


def build_url(*, region: str = "us", base_url: str | None = None) -> str:
    """Build the Voice Agent WebSocket URL without credentials.

    Args:
        region: ``"us"`` (``agents.assemblyai.com``) or ``"eu"`` (``agents.eu.assemblyai.com``).
        base_url: ``ws://``/``wss://`` override (e.g. the emulator).

    Returns:
        The URL.
    """
    if base_url is None:
        if region not in HOSTS:
            raise ParameterError(param="region", value=region, allowed=tuple(HOSTS))
        return f"wss://{HOSTS[region]}{PATH}"
    if urlsplit(base_url).scheme not in ("ws", "wss"):
        raise ParameterError(param="base_url", value=base_url, allowed="a ws:// or wss:// URL")
    return base_url.rstrip("/") + PATH


def build_connect(
    *,
    api_key: str | None = None,
    token: str | None = None,
    region: str = "us",
    base_url: str | None = None,
) -> ConnectRequest:
    """Build the upgrade request: ``Authorization: Bearer <key>``, or ``?token=`` for a temporary token.

    Args:
        api_key: A permanent API key (server side); exclusive with ``token``.
        token: A single-use temporary token (browsers); exclusive with ``api_key``.
        region: ``"us"`` or ``"eu"``.
        base_url: Host override.

    Returns:
        A `ConnectRequest` whose printed forms hide the credential.
    """
    if (api_key is None) == (token is None):
        raise ParameterError(param="api_key/token", value="<both or neither>", allowed="exactly one of them")
    url = build_url(region=region, base_url=base_url)
    headers: dict[str, str] = {}
    credential, param = (api_key, "api_key") if api_key is not None else (token, "token")
    if not isinstance(credential, str) or not credential.strip():
        raise ParameterError(param=param, value="<empty>", allowed=f"a non-empty {param.replace('_', ' ')}")
    if credential != credential.strip() or not all(" " <= c <= "~" for c in credential):  # never echo it
        raise ParameterError(param=param, value="<hidden: it has surrounding whitespace, a control character "
                             "or non-ASCII>", allowed="printable ASCII, no surrounding whitespace",
                             hint=f"a key read from a file often ends with a newline: pass {param}.strip()")
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    else:
        assert token is not None
        url = with_query(url, {"token": token})
    return ConnectRequest(url=SecretURL(url), headers=SecretHeaders(headers), provider=PROVIDER)


@dataclass(frozen=True, kw_only=True)
class AuthOk:
    """The upgrade is accepted.

    Attributes:
        method: ``"bearer"`` or ``"token"``.
        owner: A fingerprint of the key (never the key itself).
        max_session_duration_seconds: The session cap.
        started_at: When the session started (caller's clock).
    """

    method: str
    owner: str
    max_session_duration_seconds: int
    started_at: float

    @property
    def session_deadline(self) -> float:
        """When the session expires."""
        return self.started_at + self.max_session_duration_seconds


@dataclass(frozen=True, kw_only=True)
class AuthFailure:
    """Credentials are refused: upgrade, send ``error`` as the first frame, then close.

    Attributes:
        error: The ``session.error`` frame.
        close_code: The close code (1008).
    """

    error: JsonMessage
    close_code: int


def accept_upgrade(
    *,
    path: str,
    query: str | Mapping[str, str] = "",
    headers: Mapping[str, str] | None = None,
    now: float,
    api_keys: Collection[str] | None = None,
    issuer: TokenIssuer | None = None,
    max_session_duration_seconds: int = 10800,
) -> AuthOk | AuthFailure | HandshakeRejection:
    """Check a Voice Agent upgrade request as the server would.

    Auth failures are not HTTP errors: the server upgrades, sends ``session.error``
    (``UNAUTHORIZED``; ``unauthorized`` when a token's window elapsed) and closes 1008.

    Args:
        path: Request path (may include the query string).
        query: Query string or mapping.
        headers: Request headers.
        now: Current time in seconds (for token redemption).
        api_keys: Accepted API keys; ``None`` accepts any non-empty key.
        issuer: Token store for ``?token=``; ``None`` refuses tokens.
        max_session_duration_seconds: Cap for key-authenticated sessions.

    Returns:
        `AuthOk`, `AuthFailure`, or a 404 `HandshakeRejection` for an unknown path.
    """
    split = urlsplit(path)
    if split.path.rstrip("/") != PATH:
        return HandshakeRejection(status=404, body={"error": f"Not found: {split.path}"})
    values = parse_query(split.query)
    values.update(parse_query(query))
    scheme, key = bearer_token(lower_headers(headers).get("authorization"))

    def fail(code: str, message: str) -> AuthFailure:
        info = error_info(code)
        close = info.close_code if info and info.close_code else 1008
        return AuthFailure(error=session_error(code=code, message=message, timestamp=now), close_code=close)

    if key and scheme is not None and scheme.lower() != "bearer":  # [DOC] Bearer; `Token`/`Key` are refused
        return fail("UNAUTHORIZED", f"Unsupported authorization scheme {scheme!r}: send Authorization: Bearer <key>")
    if key:
        if api_keys is not None and key not in api_keys:
            return fail("UNAUTHORIZED", "Invalid API key")
        return AuthOk(
            method="bearer",
            owner=key_fingerprint(key),
            max_session_duration_seconds=max_session_duration_seconds,
            started_at=now,
        )
    token = values.get("token")
    if token:
        if issuer is None:
            return fail("UNAUTHORIZED", "Temporary tokens are not accepted here")
        try:
            grant: TokenGrant = issuer.redeem(token, now=now)
        except TokenError as exc:
            return fail(exc.code, str(exc))
        return AuthOk(
            method="token",
            owner=grant.owner,
            max_session_duration_seconds=grant.max_session_duration_seconds,
            started_at=now,
        )
    return fail("UNAUTHORIZED", "Missing credentials: send Authorization: Bearer <key> or ?token=")


_CLOSE: dict[int, tuple[str, str, str, str]] = {
    1000: ("Normal close", "the session ended (after session.ended)", "nothing to fix", "[INF]"),
    1006: (
        "Connection dropped without a close frame",
        "a network drop, or (in browsers) a pre-handshake auth failure whose session.error is invisible",
        "fetch a fresh temporary token before each attempt; reconnect and send session.resume within 30 s",
        f"[VND] {SKILL_REFERENCE}",
    ),
    1008: (
        "Policy violation",
        "UNAUTHORIZED/FORBIDDEN credentials, session_not_found/session_forbidden on resume, "
        "or session_expired at max_session_duration_seconds",
        "check the preceding session.error code; use `Authorization: Bearer <key>` or a fresh ?token=",
        f"[VND] {SKILL_REFERENCE}; [DOC] {TROUBLESHOOTING}",
    ),
    1011: ("Server internal error", "INTERNAL_ERROR during setup", "retry with backoff", f"[VND] {SKILL_REFERENCE}"),
}


def explain_close(code: int) -> Explanation:
    """Explain a Voice Agent WebSocket close code (the emulator's own limit codes included)."""
    emulator = explain_emulator_close(code)
    if emulator is not None:
        return emulator
    title, cause, fix, evidence = _CLOSE.get(
        code,
        (f"Close code {code}", "not documented for the Voice Agent API", "log the code and reason", "[UNK]"),
    )
    return Explanation(code=code, title=title, cause=cause, fix=fix, evidence=evidence)


_HTTP: dict[int, tuple[str, str, str]] = {
    401: ("Unauthorized", "the key or temporary token was refused before the upgrade",
          "send `Authorization: Bearer <key>` (not `Token`), or a fresh single-use ?token="),
    403: ("Forbidden", "the key has no access to the Voice Agent API", "check the key's plan and region"),
    404: ("Not found", "the path is wrong", f"connect to wss://agents.assemblyai.com{PATH}"),
    429: ("Too many requests", "the concurrency or rate limit was reached", "retry with backoff"),
}


def explain_http_status(status: int) -> Explanation:
    """Explain a refused Voice Agent upgrade (most auth failures arrive as ``session.error`` instead)."""
    title, cause, fix = _HTTP.get(
        status,
        (f"HTTP {status}", "the upgrade was refused", f"check the URL (wss://agents.assemblyai.com{PATH}) and the key"),
    )
    return Explanation(code=status, title=title, cause=cause, fix=fix, evidence="[INF]")


def closed(*, code: int, reason: str = "") -> Closed:
    """Build the `Closed` event for a Voice Agent close, with its explanation."""
    return Closed(
        provider=PROVIDER, code=code, reason=reason, explanation=str(explain_close(code)), clean=code == 1000
    )
