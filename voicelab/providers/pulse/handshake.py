"""Smallest Pulse connection setup.

Client URL and auth, the server's upgrade validation, and explanations of handshake HTTP statuses
and close codes. Sources: the ``/waves/v1/stt/live`` AsyncAPI spec, the authentication page, the
error reference and the real-time troubleshooting page (URLs below and in docs/protocols.md).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from voicelab.protocols.errors import ParameterError
from voicelab.protocols.events import Closed, Error
from voicelab.protocols.redaction import SecretHeaders, SecretURL, with_query
from voicelab.protocols.wire import (
    ConnectRequest,
    Explanation,
    HandshakeRejection,
    bearer_token,
    explain_emulator_close,
    lower_headers,
    parse_query,
)
from voicelab.providers.pulse.messages import CLOSE_INVALID_FRAME, CLOSE_REGION, PROVIDER
from voicelab.providers.pulse.params import (
    ENDPOINTS,
    HOSTS,
    MISSING_LANGUAGE_MESSAGE,
    MISSING_MODEL_MESSAGE,
    PULSE_PRO_MESSAGE,
    Endpoint,
    PulseParams,
    PulseSessionConfig,
    check_endpoint_language,
    decode_query,
    other_region,
    region_violation,
)
from voicelab.providers.pulse.tokens import AccessTokenIssuer, is_access_token

__all__ = [
    "AuthMethod",
    "accept_upgrade",
    "build_connect",
    "build_url",
    "closed",
    "explain_close",
    "explain_http_status",
    "explain_region",
    "handshake_error",
]

logger = logging.getLogger("voicelab.providers.pulse")

AuthMethod = Literal["bearer", "token", "api_key"]
AUTH_METHODS: tuple[str, ...] = ("bearer", "token", "api_key")
#: Legacy alias path some clients still use; the server half accepts it as ``legacy``. [DOC-old] the v4.0.0
#: reference (Feb 2026), https://waves-docs.smallest.ai/v4.0.0/content/api-references/pulse-asr-ws
OLD_LEGACY_PATH = "/api/v1/pulse/get_text"


def build_url(
    *,
    params: PulseParams | None = None,
    endpoint: Endpoint = "live",
    region: str = "india",
    base_url: str | None = None,
) -> str:
    """Build a Pulse WebSocket URL without credentials.

    It formats what it is given; `build_connect` also checks what the endpoint requires (``language``
    on live).

    Args:
        params: Query parameters (defaults to ``PulseParams()``, i.e. only ``model=pulse`` on live).
        endpoint: ``"live"`` (``/waves/v1/stt/live``) or ``"legacy"`` (``/waves/v1/pulse/get_text``).
        region: ``"india"`` (``api.smallest.ai``), ``"india_pinned"`` (``api.india.smallest.ai``) or
            ``"us"`` (``api.us.smallest.ai``); ignored with ``base_url``.
        base_url: ``ws://host:port`` or ``wss://host`` to use instead of the vendor host (e.g. the emulator).

    Returns:
        The URL.

    Raises:
        ParameterError: Bad endpoint, region, or a ``base_url`` that is not ``ws://``/``wss://``.
    """
    params = params or PulseParams()
    if endpoint not in ENDPOINTS:
        raise ParameterError(param="endpoint", value=endpoint, allowed=tuple(ENDPOINTS))
    if base_url is None:
        if region not in HOSTS:
            raise ParameterError(param="region", value=region, allowed=tuple(HOSTS))
        root = f"wss://{HOSTS[region]}"
    else:
        scheme = urlsplit(base_url).scheme
        if scheme not in ("ws", "wss"):
            raise ParameterError(
                param="base_url",
                value=base_url,
                allowed="a ws:// or wss:// URL",
                hint="https:// and http:// are not WebSocket URLs; use wss://api.smallest.ai",
            )
        root = base_url.rstrip("/")
    return with_query(root + ENDPOINTS[endpoint], params.to_query(endpoint=endpoint))


def build_connect(
    *,
    api_key: str,
    params: PulseParams | None = None,
    endpoint: Endpoint = "live",
    region: str = "india",
    base_url: str | None = None,
    auth: AuthMethod = "bearer",
    check_region: bool = True,
    extra_headers: Mapping[str, str] | None = None,
) -> ConnectRequest:
    """Build the upgrade request: URL, auth and headers.

    Args:
        api_key: The API key or a short-lived access token (``wat_…``, from
            `voicelab.providers.pulse.tokens`).
        params: Query parameters; ``language`` is required on live.
        endpoint: ``"live"`` or ``"legacy"``.
        region: ``"india"``, ``"india_pinned"`` or ``"us"`` (ignored with ``base_url``).
        base_url: Override host, e.g. ``ws://127.0.0.1:8765`` for the emulator.
        auth: ``"bearer"`` (``Authorization: Bearer <key>``, default), ``"token"`` (``?token=``) or
            ``"api_key"`` (``?api_key=``). Access tokens travel as ``bearer`` or ``api_key`` only.
        check_region: Refuse a language the chosen vendor region does not serve.
        extra_headers: More upgrade headers.

    Returns:
        A `ConnectRequest` whose printed forms hide the key.

    Raises:
        ParameterError: Something the service would refuse: no ``language`` on live (or a
            pre-recorded-only one), an access token on the legacy path or in ``?token=``, a language
            the region does not serve, a bad endpoint, region or ``base_url``.
    """
    if not isinstance(api_key, str) or not api_key.strip():
        raise ParameterError(param="api_key", value="<empty>", allowed="a non-empty API key or access token")
    if api_key != api_key.strip() or not all(" " <= c <= "~" for c in api_key):  # the message never echoes the key
        raise ParameterError(param="api_key", value="<hidden: it has surrounding whitespace, a control character "
                             "or non-ASCII>", allowed="printable ASCII, no surrounding whitespace",
                             hint="a key read from a file often ends with a newline: pass api_key.strip()")
    if auth not in AUTH_METHODS:
        raise ParameterError(param="auth", value=auth, allowed=AUTH_METHODS)
    params = params or PulseParams()
    if endpoint in ENDPOINTS:
        check_endpoint_language(params.language, endpoint)
    if is_access_token(api_key):
        if endpoint != "live":
            raise ParameterError(param="endpoint", value=endpoint, allowed=("live",),
                                 hint="access tokens are accepted on /waves/v1/stt/live only (the legacy path "
                                 "answers 403); connect to live, or use the API key")
        if auth == "token":
            raise ParameterError(param="auth", value=auth, allowed=("bearer", "api_key"),
                                 hint="send an access token as the Authorization: Bearer header or ?api_key=")
    if check_region and base_url is None:
        violation = region_violation(params.language, region)
        if violation is not None:
            other = other_region(region)
            raise ParameterError(
                param="language",
                value=params.language,
                allowed=f"languages served by region {region!r}",
                hint=f"use region={other!r} ({HOSTS[other]}) for this language",
            )
    url = build_url(params=params, endpoint=endpoint, region=region, base_url=base_url)
    headers = dict(extra_headers or {})
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {api_key}"
    else:
        url = with_query(url, {auth: api_key})
    return ConnectRequest(url=SecretURL(url), headers=SecretHeaders(headers), provider=PROVIDER)


# --------------------------------------------------------------------------- server half


def _reject(status: int, body: dict[str, Any], request_id: str) -> HandshakeRejection:
    return HandshakeRejection(
        status=status, body=body, headers={"content-type": "application/json", "x-request-id": request_id}
    )


def accept_upgrade(
    *,
    path: str,
    query: str | Mapping[str, str] = "",
    headers: Mapping[str, str] | None = None,
    api_keys: Collection[str] | None = None,
    region: str | None = None,
    request_id: str | None = None,
    tokens: AccessTokenIssuer | None = None,
    now: float = 0.0,
) -> PulseSessionConfig | HandshakeRejection:
    """Validate an upgrade request as a Pulse server would (before sending ``101``).

    Order of checks: path (404), credentials (401; an access token on a path that refuses tokens:
    403), ``model`` (400), ``language`` (400 on live), other parameters (400).

    Access tokens (``wat_…``) are accepted as the Bearer header or ``?api_key=``, on
    ``/waves/v1/stt/live`` only, until they expire [DOC: the access-token documentation, see
    `voicelab.providers.pulse.tokens`]; elsewhere the answer is 403, in ``?token=`` 401 [INF].

    Args:
        path: The request path (a query string on it is split off and merged with ``query``).
        query: The query string or mapping.
        headers: Request headers (any case).
        api_keys: Accepted credentials; ``None`` accepts any non-empty credential.
        region: The simulated host (a key of `HOSTS`), to flag languages it does not serve; ``None``
            flags none.
        request_id: Id for error bodies and ``x-request-id``; a UUID4 by default.
        tokens: The access tokens minted so far; ``None`` refuses every ``wat_…`` credential.
        now: The server clock (seconds), to check a token's expiry.

    Returns:
        The resolved `PulseSessionConfig`, or a `HandshakeRejection` to send instead of ``101``.
    """
    rid = request_id or str(uuid.uuid4())
    split = urlsplit(path)
    values = parse_query(split.query)
    values.update(parse_query(query))
    route = split.path.rstrip("/")
    endpoint: Endpoint
    if route == ENDPOINTS["live"]:
        endpoint = "live"
    elif route in (ENDPOINTS["legacy"], OLD_LEGACY_PATH):
        endpoint = "legacy"
    else:
        return _reject(404, {"error": f"Not found: {route}", "request_id": rid}, rid)

    hdrs = lower_headers(headers)
    credential: str | None = None
    method = "bearer"
    scheme, header_value = bearer_token(hdrs.get("authorization"))
    token_q, key_q = values.pop("token", None), values.pop("api_key", None)
    if header_value is not None:
        if scheme is None or scheme.lower() != "bearer":
            logger.info("Pulse handshake rejected: Authorization scheme %r is not Bearer", scheme)
            return _reject(401, {"error": "unauthorized"}, rid)
        credential = header_value
    elif token_q:
        credential, method = token_q, "token"
    elif key_q:
        credential, method = key_q, "api_key"
    if not credential:
        return _reject(401, {"message": "Unauthorized: No tokens provided"}, rid)
    access_token = is_access_token(credential)
    if access_token:
        state = "unknown" if tokens is None or method == "token" else tokens.check(credential, now=now)
        if state != "valid":
            logger.info("Pulse handshake rejected: access token %s", state if method != "token" else "in ?token=")
            return _reject(401, {"error": "unauthorized"}, rid)
        if endpoint != "live":
            return _reject(403, {"error": "Forbidden: access tokens are not accepted on this route; "
                                 "use an API key", "request_id": rid}, rid)
    elif api_keys is not None and credential not in api_keys:
        return _reject(401, {"error": "unauthorized"}, rid)

    if endpoint == "live":
        model = values.get("model")
        if model == "pulse-pro":
            return _reject(400, {"error": PULSE_PRO_MESSAGE, "request_id": rid}, rid)
        if model != "pulse":
            return _reject(400, {"error": MISSING_MODEL_MESSAGE, "request_id": rid}, rid)
        if not values.get("language"):
            return _reject(400, {"error": MISSING_LANGUAGE_MESSAGE, "request_id": rid,
                                 "details": [{"param": "language"}]}, rid)
    try:
        params, ignored = decode_query(values, endpoint=endpoint)
    except ParameterError as exc:
        return _reject(400, {"error": str(exc), "request_id": rid, "details": [{"param": exc.param}]}, rid)
    return PulseSessionConfig.resolve(
        params,
        endpoint=endpoint,
        auth_method=method,
        access_token=access_token,
        region_violation=region_violation(params.language, region),
        ignored=ignored,
    )


# --------------------------------------------------------------------------- explanations (client half)

# The vendor pages the explanations rest on (their ``evidence``).
_DOCS_REPO = "https://github.com/smallest-inc/smallest-ai-documentation/blob/main"
_LIVE_SPEC = f"{_DOCS_REPO}/fern/apis/waves/asyncapi/stt-live-ws.yaml"
_REST_ERRORS_SPEC = f"{_DOCS_REPO}/fern/apis/waves/openapi/stt-openapi.yaml"
_LIMITS_CHANGELOG = (f"{_DOCS_REPO}/fern/products/waves/pages/changelog-entries/pulse-stt/"
                     "2026-05-28-unified-stt-endpoint-and-pulse-pro.mdx")
_PAGES = "https://docs.smallest.ai/models"
_AUTHENTICATION = f"{_PAGES}/api-reference/authentication"
_ERROR_REFERENCE = f"{_PAGES}/documentation/troubleshooting/error-reference"
_RESPONSE_FORMAT = f"{_PAGES}/documentation/speech-to-text-pulse/realtime-web-socket/response-format"
_TROUBLESHOOTING = f"{_PAGES}/documentation/speech-to-text-pulse/realtime-web-socket/troubleshooting"
_TOKENS_DOC = ("https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/"
               "SmallestAI.IAuthClient.CreateAccessToken.g.cs")
_REGION_CHANGELOGS = (f"{_DOCS_REPO}/fern/products/waves/pages/changelog-entries/pulse-stt/"
                      "2026-06-16-pulse-stt-asian-languages-us-region.mdx, "
                      f"{_DOCS_REPO}/fern/products/waves/pages/changelog-entries/pulse-stt/"
                      "2026-06-29-pulse-stt-south-indic-languages.mdx")
_EMULATOR_DOC = "voicelab's emulator (docs/emulator.md, limits)"

_HTTP: dict[int, tuple[str, str, str, str]] = {
    400: (
        "Bad request before the upgrade",
        "model missing or invalid, model=pulse-pro on the WebSocket, or an invalid parameter",
        "use model=pulse on /waves/v1/stt/live (Pulse Pro is HTTP only: POST /waves/v1/stt/?model=pulse-pro) "
        "and check the parameter values",
        f"[DOC] {_LIVE_SPEC}, {_ERROR_REFERENCE}",
    ),
    401: (
        "Unauthorized",
        "missing or invalid API key, or the wrong Authorization scheme",
        "use `Authorization: Bearer <key>`, not Token/Key; check the key in the console "
        "(browsers: `?token=<key>` or a backend proxy)",
        f"[DOC] {_AUTHENTICATION}, {_ERROR_REFERENCE}, {_TROUBLESHOOTING}",
    ),
    403: (
        "Forbidden",
        "valid key without permission: wrong workspace or product, trial or usage limit, "
        "plan lacks the model, "
        "or an access token on a route that refuses tokens",
        "check the plan and workspace of this key; access tokens work on /waves/v1/stt/live only: "
        "use the API key on /waves/v1/pulse/get_text, or connect to /waves/v1/stt/live",
        f"[DOC] {_ERROR_REFERENCE}, {_TOKENS_DOC}",
    ),
    429: (
        "Rate or concurrency limit",
        "too many requests or concurrent sessions (Standard plan: 100 concurrent streams)",
        "back off exponentially from 500 ms, doubling up to 30 s; honour Retry-After",
        f"[DOC] {_LIMITS_CHANGELOG}, {_ERROR_REFERENCE}",
    ),
    500: (
        "Server error",
        "an error inside the provider",
        "retry with backoff; include the x-request-id header value in a support ticket",
        f"[DOC] {_ERROR_REFERENCE}",
    ),
    503: (
        "Service unavailable",
        "worker temporarily unavailable",
        "retry with backoff",
        f"[DOC] {_REST_ERRORS_SPEC}",
    ),
}

_CLOSE: dict[int, tuple[str, str, str, str]] = {
    1000: (
        "Normal close",
        "the session ended normally (after the is_last final, or the client closed)",
        "nothing to fix; wait for is_last:true before closing so the transcript is not truncated",
        f"[DOC] {_RESPONSE_FORMAT} (the server's code after is_last is [INF])",
    ),
    CLOSE_INVALID_FRAME: (
        "Unsupported data: a text frame that is not a control message, or audio that is not the declared "
        "encoding",
        "audio sent as text (base64 or JSON) instead of binary frames, an unknown message type, or bytes that "
        "cannot be the declared encoding (e.g. a WAV header with encoding=ogg_opus)",
        "send raw audio of the declared encoding as binary frames; text frames only for "
        '{"type":"finalize"} and {"type":"close_stream"}',
        "[INF] the error frame precedes the close (the AsyncAPI spec's error event); the code is RFC 6455's",
    ),
    1006: (
        "Connection dropped without a close frame",
        "network instability, a server timeout, invalid audio, or a handshake failure seen by a browser",
        "reconnect with exponential backoff (close code != 1000); "
        "check the URL is wss:// and the key is valid",
        f"[DOC] {_TROUBLESHOOTING}",
    ),
    1008: (
        "Policy violation: concurrency limit reached",
        "more concurrent streaming sessions than the plan allows",
        "close idle sessions, back off and retry, or raise the plan's limit",
        f"[DOC] {_LIVE_SPEC}",
    ),
    1009: (
        "Message too big",
        "a frame larger than the server accepts (voicelab's emulator: over Limits.max_frame_bytes, 1 MiB by "
        "default; the real service's limit is not documented)",
        "send smaller chunks: 4096 bytes every 50-100 ms is recommended",
        f"[INF] RFC 6455's code; {_EMULATOR_DOC}",
    ),
    1011: (
        "Server internal error",
        "the provider hit an error during the session (not documented for Pulse)",
        "reconnect with backoff; report the session_id and time to support",
        "[INF]",
    ),
    CLOSE_REGION: (
        "Language not served in this region",
        "the host does not serve the requested language: East Asian languages (zh, yue, ja, ko, multi-asian) are "
        "served by the US host only (the India host closes without a transcription frame), South Indic ones "
        "(ta, te, kn, ml, multi-south-indic) by the India host only (the US host sends "
        "LANGUAGE_NOT_ENABLED_IN_REGION first)",
        f"East Asian: region='us' (wss://{HOSTS['us']}); South Indic: region='india' "
        f"(wss://{HOSTS['india']}) or 'india_pinned' (wss://{HOSTS['india_pinned']})",
        f"[DOC] {_REGION_CHANGELOGS} (this close code is voicelab's emulator's choice [UNK])",
    ),
}


def _explain(table: Mapping[int, tuple[str, str, str, str]], code: int,
             default: tuple[str, str, str, str]) -> Explanation:
    title, cause, fix, evidence = table.get(code, default)
    return Explanation(code=code, title=title, cause=cause, fix=fix, evidence=evidence)


def explain_http_status(status: int) -> Explanation:
    """Explain a handshake HTTP status for Pulse.

    Args:
        status: The HTTP status the upgrade got instead of 101.

    Returns:
        The explanation (a generic one for unlisted statuses).
    """
    return _explain(_HTTP, status, (
        f"Unexpected HTTP {status}",
        "the upgrade was refused",
        "check the URL (wss://api.smallest.ai/waves/v1/stt/live?model=pulse) and the key",
        "",
    ))


def explain_close(code: int) -> Explanation:
    """Explain a WebSocket close code for Pulse.

    Args:
        code: The close code.

    Returns:
        The explanation (a generic one for unlisted codes).
    """
    emulator = explain_emulator_close(code)
    if emulator is not None:
        return emulator
    return _explain(_CLOSE, code, (
        f"Close code {code}",
        "not documented for Pulse",
        "reconnect with backoff if the session was not over",
        "[UNK]",
    ))


def handshake_error(*, status: int, body: str | bytes | None = None) -> Error:
    """Turn a refused upgrade into a fatal `Error` event with the explanation and fix.

    Args:
        status: The HTTP status.
        body: The response body, if any (kept as ``raw``).

    Returns:
        The error event (``code`` is the status as a string).
    """
    exp = explain_http_status(status)
    return Error(
        provider=PROVIDER,
        raw=body,
        code=str(status),
        message=f"{exp.title}: {exp.cause}",
        fatal=True,
        fix=exp.fix,
    )


def closed(*, code: int, reason: str = "") -> Closed:
    """Build the `Closed` event for a Pulse close code, with its explanation.

    Args:
        code: The close code.
        reason: The close reason.

    Returns:
        The event; ``clean`` is True for 1000.
    """
    exp = explain_close(code)
    return Closed(provider=PROVIDER, code=code, reason=reason, explanation=str(exp), clean=code == 1000)


def explain_region(params: Mapping[str, Any], region: str) -> Explanation | None:
    """Explain why the host of ``region`` will not serve the ``language`` in ``params`` (``None``: it will).

    East Asian languages are served by the US host only (the India host closes without a frame);
    South Indic languages by the India host only (the US host answers ``language_not_enabled``).
    See `voicelab.providers.pulse.params.region_violation`.

    Args:
        params: Query parameters (``language`` is read; other keys are ignored).
        region: ``"india"``, ``"india_pinned"`` or ``"us"``; other values are not judged.

    Returns:
        The explanation (``code`` is the region's way of refusing), or ``None``.
    """
    language = params.get("language")
    if not isinstance(language, str) or region not in HOSTS:
        return None
    violation = region_violation(language, region)
    if violation is None:
        return None
    other = other_region(region)
    how = ("closes the connection without a frame" if violation == "close_without_frame"
           else "answers with a language_not_enabled error")
    return Explanation(
        code=violation,
        title=f"Language {language!r} is not served by the {region} host",
        cause=f"{HOSTS[region]} ({region}) does not serve {language!r}: it {how}",
        fix=f"use region={other!r} (wss://{HOSTS[other]}) for {language!r}",
        evidence=f"[DOC] {_REGION_CHANGELOGS}",
    )
