"""The Echo STT wire protocol, both halves, sans-I/O (no asyncio, no websockets)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from voicelab.protocols.errors import MessageError
from voicelab.protocols.events import Closed, Error, Event, Final, Partial, SessionReady, Unrecognized
from voicelab.protocols.redaction import SecretHeaders, SecretURL, with_query
from voicelab.protocols.wire import ConnectRequest, Explanation, HandshakeRejection

NAME = "echo-test"
PATH = "/test/v1/listen"
RATES = (16000, 8000)

# ------------------------------------------------------------------ client half


def build_connect(*, api_key: str, base_url: str, samplerate: int) -> ConnectRequest:
    url = with_query(base_url.rstrip("/") + PATH, {"sample_rate": str(samplerate)})
    return ConnectRequest(url=SecretURL(url), headers=SecretHeaders({"Authorization": f"Bearer {api_key}"}),
                          provider=NAME)


def keepalive_message() -> str:
    return '{"type":"keepalive"}'


def close_message() -> str:
    return '{"type":"close"}'


def parse(message: str | bytes | Mapping[str, Any]) -> list[Event]:
    if isinstance(message, Mapping):
        msg = dict(message)
        raw: Any = json.dumps(msg)
    else:
        raw = message
        try:
            msg = json.loads(message)
        except ValueError as exc:
            raise MessageError(f"echo-test sent a frame that is not JSON: {exc}") from exc
    kind = msg.get("type")
    if kind == "ready":
        return [SessionReady(provider=NAME, raw=raw, session_id=msg.get("session_id"))]
    if kind == "partial":
        return [Partial(provider=NAME, raw=raw, text=str(msg.get("text", "")))]
    if kind == "final":
        return [Final(provider=NAME, raw=raw, text=str(msg.get("text", "")), is_last=bool(msg.get("last")))]
    if kind == "error":
        return [Error(provider=NAME, raw=raw, code=str(msg.get("code", "error")), message=str(msg.get("message", "")),
                      fatal=True)]
    return [Unrecognized(provider=NAME, raw=raw)]


def explain_close(code: int) -> Explanation:
    known = {1000: ("Normal close", "the session ended after the last final", "nothing to fix")}
    title, cause, fix = known.get(code, (f"Close code {code}", "not documented for echo-test", "log it"))
    return Explanation(code=code, title=title, cause=cause, fix=fix, evidence="[test]")


def explain_status(status: int) -> Explanation:
    known = {401: ("Unauthorized", "the key was refused", "send Authorization: Bearer <key>")}
    title, cause, fix = known.get(status, (f"HTTP {status}", "the upgrade was refused", "check the URL"))
    return Explanation(code=status, title=title, cause=cause, fix=fix, evidence="[test]")


def closed(*, code: int, reason: str = "") -> Closed:
    return Closed(provider=NAME, code=code, reason=reason, explanation=str(explain_close(code)), clean=code == 1000)


# ------------------------------------------------------------------ server half


def accept_upgrade(*, query: Mapping[str, str], headers: Mapping[str, str], api_keys: list[str]) -> Any:
    """The samplerate to decode at, or a `HandshakeRejection`."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if auth not in {f"Bearer {k}" for k in api_keys}:
        return HandshakeRejection(status=401, body={"error": "unauthorized"})
    try:
        rate = int(query.get("sample_rate", "16000"))
    except ValueError:
        rate = 0
    if rate not in RATES:
        return HandshakeRejection(status=400, body={"error": f"sample_rate must be one of {RATES}"})
    return rate


def ready(session_id: str) -> dict[str, Any]:
    return {"type": "ready", "session_id": session_id}


def partial(text: str) -> dict[str, Any]:
    return {"type": "partial", "text": text}


def final(text: str, *, start: float, end: float, last: bool = False, keepalives: int | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "final", "text": text, "start": round(start, 3), "end": round(end, 3),
                           "last": last}
    if keepalives is not None:
        msg["keepalives"] = keepalives
    return msg


def error(message: str) -> dict[str, Any]:
    return {"type": "error", "code": "bad_request", "message": message}
