"""Small value types and helpers shared by every protocol module.

Nothing here performs I/O: a `ConnectRequest` describes an upgrade request for the
connection layer to make, a `HandshakeRejection` describes the HTTP answer a server
half wants to give, and `Explanation` is what a status or close code means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from voicelab.protocols.errors import MessageError
from voicelab.protocols.redaction import SecretHeaders, SecretURL

__all__ = [
    "OMITTED_PAYLOAD_KEY",
    "omitted_payload",
    "omitted_payload_bytes",
    "EMULATOR_LIMIT_CLOSE_CODES",
    "ConnectRequest",
    "Explanation",
    "HandshakeRejection",
    "HttpRequest",
    "JsonMessage",
    "RawMessage",
    "bearer_token",
    "decode_json_object",
    "encode_json",
    "explain_emulator_close",
    "lower_headers",
    "parse_query",
]

#: A decoded JSON object as received or sent.
JsonMessage = dict[str, Any]
#: A message exactly as it travelled: decoded JSON, text, bytes, or nothing.
RawMessage = JsonMessage | str | bytes | None


@dataclass(frozen=True, kw_only=True)
class ConnectRequest:
    """Everything needed to open a WebSocket, with credentials hidden from printing.

    Attributes:
        url: The ``ws://``/``wss://`` URL (its `str` is redacted).
        headers: Upgrade request headers (credential values masked when read).
        provider: The protocol name, e.g. ``"pulse"``.
    """

    url: SecretURL
    headers: SecretHeaders = field(default_factory=SecretHeaders)
    provider: str = ""


@dataclass(frozen=True, kw_only=True)
class HttpRequest:
    """A plain HTTP request (e.g. a token endpoint call), credentials hidden from printing.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        url: The URL (its `str` is redacted).
        headers: Request headers (credential values masked when read).
        body: The request body (e.g. JSON for a ``POST``), or ``None`` for none.
    """

    method: str
    url: SecretURL
    headers: SecretHeaders = field(default_factory=SecretHeaders)
    body: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class HandshakeRejection:
    """An HTTP answer a server gives instead of ``101 Switching Protocols``.

    Attributes:
        status: The HTTP status code.
        body: The JSON body (as a dict).
        headers: Response headers.
    """

    status: int
    body: JsonMessage
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def body_json(self) -> str:
        """The body encoded as compact JSON text."""
        return encode_json(self.body)


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """What an HTTP status, close code or error code means, and how to fix it.

    Attributes:
        code: The status / close code / error code explained.
        title: One line naming the problem.
        cause: The likely cause(s).
        fix: What to do about it.
        evidence: The evidence tag (``[DOC]``, ``[VND]``, ``[INF]``, ``[UNK]``: see docs/protocols.md)
            and the vendor page behind it, e.g. ``"[DOC] https://docs.smallest.ai/…/error-reference"``.
    """

    code: int | str
    title: str
    cause: str
    fix: str
    evidence: str = ""

    def __str__(self) -> str:
        """Return the readable form."""
        return f"{self.code}: {self.title}. Cause: {self.cause}. Fix: {self.fix}"


def encode_json(message: Mapping[str, Any]) -> str:
    """Encode a message as compact JSON text (UTF-8 kept, no ASCII escaping)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def decode_json_object(message: str | bytes | Mapping[str, Any]) -> JsonMessage:
    """Decode a text frame into a JSON object.

    Args:
        message: JSON text (``str``, or UTF-8 ``bytes``) or an already-decoded mapping.

    Returns:
        The object as a dict.

    Raises:
        MessageError: The text is not JSON or not a JSON object.
    """
    if isinstance(message, Mapping):
        return dict(message)
    if isinstance(message, bytes | bytearray):
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageError(f"expected UTF-8 JSON text, got {len(message)} undecodable bytes") from exc
    try:
        value = json.loads(message)
    except json.JSONDecodeError as exc:
        preview = message[:60]
        raise MessageError(f"expected a JSON object, got non-JSON text {preview!r} ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise MessageError(f"expected a JSON object, got JSON {type(value).__name__}")
    return value


def parse_query(query: str | Mapping[str, str]) -> dict[str, str]:
    """Parse a query string (with or without a leading ``?``) into a dict; the last value wins."""
    if isinstance(query, Mapping):
        return {str(k): str(v) for k, v in query.items()}
    return dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))


def lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Return the headers with lower-case names (HTTP header names are case-insensitive)."""
    return {k.lower(): v for k, v in (headers or {}).items()}


def bearer_token(authorization: str | None) -> tuple[str | None, str | None]:
    """Split an ``Authorization`` header value into its scheme and credential.

    Args:
        authorization: The header value, e.g. ``"Bearer sk_123"``, or ``None``.

    Returns:
        ``(scheme, credential)``; ``(None, value)`` for a bare credential; ``(None, None)`` if absent.
    """
    if authorization is None or not authorization.strip():
        return None, None
    scheme, sep, rest = authorization.strip().partition(" ")
    if not sep:
        return None, scheme
    return scheme, rest.strip()


#: The close codes voicelab's emulator uses for its own limits (`voicelab.emulator.Limits`), which no
#: vendor documents. 1009 is RFC 6455's "message too big"; the others are private-use codes
#: (4000-4999), so a client never mistakes them for a vendor's (1008 is Pulse's "concurrency limit
#: reached"). The emulator closes with these; every provider's ``explain_close`` explains them.
EMULATOR_LIMIT_CLOSE_CODES: dict[str, int] = {
    "max_frame_bytes": 1009,
    "max_messages_per_second": 4001,
    "max_session_seconds": 4002,
    "idle_timeout": 4003,
    "max_sessions_per_credential": 4004,
}

_EMULATOR_DOC = "voicelab's emulator (docs/emulator.md, limits)"
_EMULATOR_LIMITS: dict[int, tuple[str, str, str, str]] = {
    4001: (
        "voicelab emulator: message rate limit",
        "more frames per second than the emulator allows (Limits.max_messages_per_second, 500 by default); "
        "audio sent much faster than real time",
        "pace audio at about real time (e.g. 4096 bytes every 128 ms at 16 kHz linear16)",
        f"[INF] {_EMULATOR_DOC}; the real service's rate limit is not documented",
    ),
    4002: (
        "voicelab emulator: session length limit",
        "the session reached the emulator's Limits.max_session_seconds (3 h by default)",
        "open a new connection for more audio",
        f"[INF] {_EMULATOR_DOC}; the real service's session cap is not documented",
    ),
    4003: (
        "voicelab emulator: idle timeout",
        "nothing went either way for Limits.idle_timeout seconds (60 s by default): no frame from the client, "
        "no message from the server and no recognizer work pending",
        "keep sending audio (silence while muted), or close the session when done",
        f"[INF] {_EMULATOR_DOC}; the real service's idle timeout is not documented",
    ),
    4004: (
        "voicelab emulator: sessions per credential limit",
        "this key or token already holds Limits.max_sessions_per_credential open sessions (50 by default), "
        "so the emulator refused one more to keep room for other clients",
        "close sessions you no longer use (end each one with close_stream / session.end), or give each "
        "client its own token",
        f"[INF] {_EMULATOR_DOC}; the real service's per-key limit is not documented",
    ),
}


def explain_emulator_close(code: int) -> Explanation | None:
    """Explain one of the emulator's own limit close codes (4001-4004), or ``None`` for any other code."""
    row = _EMULATOR_LIMITS.get(code)
    if row is None:
        return None
    title, cause, fix, evidence = row
    return Explanation(code=code, title=title, cause=cause, fix=fix, evidence=evidence)


#: The key of the placeholder a `voicelab.recording.Recording` writes instead of a base64 audio payload it
#: does not keep: ``{"omitted_base64_chars": N}``, N the payload's length in base64 characters. A parser
#: reads a placeholder as audio of known size and no samples (`omitted_payload_bytes`), never as bad base64.
OMITTED_PAYLOAD_KEY = "omitted_base64_chars"


def omitted_payload(chars: int) -> dict[str, int]:
    """The placeholder standing for a base64 payload of ``chars`` characters that was left out."""
    return {OMITTED_PAYLOAD_KEY: chars}


def omitted_payload_bytes(value: Any) -> int | None:
    """The bytes a left-out payload held when ``value`` is its placeholder (`omitted_payload`), else ``None``.

    N base64 characters carry ``N * 3 // 4`` bytes: the count is at most 2 bytes high (the ``=``
    padding of the payload, which the placeholder does not record, is counted as data).
    """
    if isinstance(value, Mapping):
        chars = value.get(OMITTED_PAYLOAD_KEY)
        if type(chars) is int and chars >= 0:
            return chars * 3 // 4
    return None
