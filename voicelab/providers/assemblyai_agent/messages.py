"""AssemblyAI Voice Agent events.

Client → server builders, server → client parsing into voicelab events, the server half's builders,
and the ``session.error`` code table. Sources: the events reference and the WebSocket API reference
(URLs below and in docs/protocols.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voicelab.protocols.errors import MessageError, ParameterError
from voicelab.protocols.events import (
    AgentReplyAudio,
    AgentReplyDone,
    AgentReplyStarted,
    AgentTranscript,
    Error,
    Event,
    Final,
    Partial,
    SessionEnded,
    SessionReady,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
    TurnEnd,
    Unrecognized,
)
from voicelab.protocols.wire import JsonMessage, decode_json_object, encode_json, omitted_payload_bytes
from voicelab.providers.assemblyai_agent.config import ENCODING_RATES, validate_session

__all__ = [
    "CLIENT_EVENT_TYPES",
    "ERROR_CODES",
    "PROVIDER",
    "SERVER_EVENT_TYPES",
    "ErrorCode",
    "agent_transcript",
    "error_info",
    "input_audio",
    "parse",
    "reply_audio",
    "reply_create",
    "reply_done",
    "reply_started",
    "session_end",
    "session_ended",
    "session_error",
    "session_ready",
    "session_resume",
    "session_update",
    "session_updated",
    "speech_started",
    "speech_stopped",
    "timestamp_text",
    "tool_call",
    "tool_result",
    "user_transcript",
    "user_transcript_delta",
]

logger = logging.getLogger("voicelab.providers.assemblyai_agent")

PROVIDER = "assemblyai-agent"
CLIENT_EVENT_TYPES: tuple[str, ...] = (
    "session.update",
    "session.resume",
    "input.audio",
    "tool.result",
    "reply.create",
    "session.end",
)
SERVER_EVENT_TYPES: tuple[str, ...] = (
    "session.ready",
    "session.updated",
    "input.speech.started",
    "input.speech.stopped",
    "transcript.user.delta",
    "transcript.user",
    "reply.started",
    "reply.audio",
    "transcript.agent",
    "reply.done",
    "tool.call",
    "session.error",
    "session.ended",
)


@dataclass(frozen=True, kw_only=True)
class ErrorCode:
    """One ``session.error`` code.

    Attributes:
        code: The code as sent.
        phase: ``"connect"``, ``"resume"``, ``"live"`` or ``"connect/live"``.
        close_code: The close code that follows, or ``None`` if the socket stays open.
        fatal: Whether the session ends.
        meaning: What it means.
        fix: What to do.
        evidence: The evidence tag and the vendor page(s) behind it.
    """

    code: str
    phase: str
    close_code: int | None
    fatal: bool
    meaning: str
    fix: str
    evidence: str


# The vendor pages the error table rests on (``ErrorCode.evidence``).
#: AssemblyAI's own reference for coding agents: vendor-authored, not the docs ([VND]).
SKILL_REFERENCE = "https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md"
_DOCS = "https://www.assemblyai.com/docs"
#: The events reference [DOC].
EVENTS_REFERENCE = f"{_DOCS}/voice-agents/voice-agent-api/events-reference"
#: The WebSocket API reference [DOC].
WS_REFERENCE = f"{_DOCS}/api-reference/voice-agent-api/voice-agent-web-socket"
#: The temporary-token API [DOC].
TOKEN_REFERENCE = f"{_DOCS}/api-reference/voice-agent-api/generate-voice-agent-token"
#: The troubleshooting page [DOC].
TROUBLESHOOTING = f"{_DOCS}/voice-agents/voice-agent-api/troubleshooting"

_NEW = "start a fresh session without session.resume"
#: Every documented ``session.error`` code; keys are lower case.
ERROR_CODES: dict[str, ErrorCode] = {
    e.code.lower(): e
    for e in (
        ErrorCode(
            code="UNAUTHORIZED",
            phase="connect",
            close_code=1008,
            fatal=True,
            meaning="missing or invalid credentials, or an expired/used temporary token",
            fix="send `Authorization: Bearer <key>`; mint a fresh token right before each connection",
            evidence=f"[VND] {SKILL_REFERENCE}; [DOC] {TOKEN_REFERENCE}",
        ),
        ErrorCode(
            code="FORBIDDEN",
            phase="connect",
            close_code=1008,
            fatal=True,
            meaning="valid credentials without permission",
            fix="check the account and key permissions",
            evidence=f"[VND] {SKILL_REFERENCE}",
        ),
        ErrorCode(
            code="INTERNAL_ERROR",
            phase="connect",
            close_code=1011,
            fatal=True,
            meaning="exception during setup",
            fix="retry with backoff",
            evidence=f"[VND] {SKILL_REFERENCE}",
        ),
        ErrorCode(
            code="server_error",
            phase="connect/live",
            close_code=1008,
            fatal=True,
            meaning="at capacity at connect, or an exception while applying an update",
            fix="retry later with backoff",
            evidence=f"[VND] {SKILL_REFERENCE}",
        ),
        ErrorCode(
            code="session_not_found",
            phase="resume",
            close_code=1008,
            fatal=True,
            meaning="unknown session id or the 30 s grace window expired",
            fix=_NEW,
            evidence=f"[DOC] {EVENTS_REFERENCE}",
        ),
        ErrorCode(
            code="session_forbidden",
            phase="resume",
            close_code=1008,
            fatal=True,
            meaning="the session belongs to another account or key",
            fix=_NEW,
            evidence=f"[DOC] {EVENTS_REFERENCE}",
        ),
        ErrorCode(
            code="session_expired",
            phase="live",
            close_code=1008,
            fatal=True,
            meaning="max_session_duration_seconds reached (no warning beforehand)",
            fix="run a client-side timer; mint a token with a longer max_session_duration_seconds",
            evidence=f"[VND] {SKILL_REFERENCE}; [DOC] {TOKEN_REFERENCE}",
        ),
        ErrorCode(
            code="agent_init_failed",
            phase="connect",
            close_code=1011,
            fatal=True,
            meaning="the agent worker failed to start",
            fix="retry with backoff",
            evidence=f"[VND] {SKILL_REFERENCE}; close code [UNK]→[INF] 1011",
        ),
        ErrorCode(
            code="agent_timeout",
            phase="connect",
            close_code=1011,
            fatal=True,
            meaning="the agent was not ready within 10 s",
            fix="retry with backoff",
            evidence=f"[VND] {SKILL_REFERENCE}; close code [UNK]→[INF] 1011",
        ),
        ErrorCode(
            code="invalid_format",
            phase="live",
            close_code=None,
            fatal=False,
            meaning="bad JSON, missing or unknown type, schema failure, or audio sent before session.ready",
            fix="send session.update first, wait for session.ready, check the message shape",
            evidence=f"[DOC] {WS_REFERENCE}",
        ),
        ErrorCode(
            code="invalid_audio",
            phase="live",
            close_code=None,
            fatal=False,
            meaning="input.audio failed base64 or PCM decoding",
            fix="send base64 of raw PCM16 LE 24 kHz mono (no WAV header, not float32, not binary frames)",
            evidence=f"[DOC] {TROUBLESHOOTING}; [VND] {SKILL_REFERENCE}",
        ),
        ErrorCode(
            code="invalid_value",
            phase="live",
            close_code=None,
            fatal=False,
            meaning="bad voice or field type in an update",
            fix="check GET /v1/voices and field types",
            evidence=f"[VND] {SKILL_REFERENCE}",
        ),
        ErrorCode(
            code="immutable_field",
            phase="live",
            close_code=None,
            fatal=False,
            meaning="tried to change greeting or output.* after session.ready",
            fix="set greeting, voice and output format in the first session.update",
            evidence=f"[DOC] {EVENTS_REFERENCE}",
        ),
        ErrorCode(
            code="invalid_config",
            phase="live",
            close_code=None,
            fatal=False,
            meaning="the update failed validation",
            fix="fix the named field",
            evidence=f"[VND] {SKILL_REFERENCE}",
        ),
    )
}


def error_info(code: str | None) -> ErrorCode | None:
    """Look up a ``session.error`` code, case-insensitively (``unauthorized`` = ``UNAUTHORIZED``)."""
    return None if code is None else ERROR_CODES.get(code.lower())


def timestamp_text(when: float | str) -> str:
    """Format seconds since the Unix epoch as ISO-8601 UTC (strings pass through)."""
    if isinstance(when, str):
        return when
    return datetime.fromtimestamp(when, tz=UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- client → server builders


def session_update(session: Mapping[str, Any], *, first: bool = True) -> str:
    """Build ``session.update`` after validating its body (see `validate_session`).

    Args:
        session: The ``session`` object (see `make_session`).
        first: Whether this is the connection's first update.

    Returns:
        The JSON text.
    """
    return encode_json({"type": "session.update", "session": validate_session(session, first=first)})


def session_resume(session_id: str) -> str:
    """Build ``session.resume`` (first message of a reconnect within 30 s)."""
    if not isinstance(session_id, str) or not session_id:
        raise ParameterError(param="session_id", value=session_id, allowed="the id from session.ready")
    return encode_json({"type": "session.resume", "session_id": session_id})


def input_audio(audio: bytes, *, encoding: str = "audio/pcm") -> str:
    """Build ``input.audio`` with base64 audio (never a binary frame: the audio-format page).

    Args:
        audio: PCM16 LE 24 kHz mono for ``audio/pcm``; G.711 bytes (8 kHz) for pcmu/pcma.
        encoding: The session's input encoding.

    Returns:
        The JSON text.
    """
    if encoding not in ENCODING_RATES:
        raise ParameterError(param="encoding", value=encoding, allowed=tuple(ENCODING_RATES))
    if not isinstance(audio, bytes | bytearray | memoryview):
        raise ParameterError(param="audio", value=type(audio).__name__, allowed="bytes")
    data = bytes(audio)
    if encoding == "audio/pcm" and len(data) % 2:
        raise ParameterError(
            param="audio", value=f"<{len(data)} bytes>", allowed="an even number of PCM16 bytes"
        )
    return encode_json({"type": "input.audio", "audio": base64.b64encode(data).decode("ascii")})


def tool_result(*, call_id: str, result: Any) -> str:
    """Build ``tool.result``; ``result`` is sent as a JSON **string** (non-strings are JSON-encoded).

    Args:
        call_id: The id from ``tool.call``.
        result: The tool's result.

    Returns:
        The JSON text.
    """
    if not isinstance(call_id, str) or not call_id:
        raise ParameterError(param="call_id", value=call_id, allowed="the call_id from tool.call")
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    return encode_json({"type": "tool.result", "call_id": call_id, "result": text})


def reply_create(*, instructions: str | None = None) -> str:
    """Build ``reply.create`` (ask for a reply now; one-shot ``instructions``)."""
    msg: JsonMessage = {"type": "reply.create"}
    if instructions is not None:
        msg["instructions"] = instructions
    return encode_json(msg)


def session_end() -> str:
    """Build ``session.end`` (ends the session and billing; cannot be resumed)."""
    return encode_json({"type": "session.end"})


# --------------------------------------------------------------------------- server → client parsing


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _arguments(msg: Mapping[str, Any]) -> dict[str, Any]:
    args = msg.get("arguments", msg.get("args"))
    if isinstance(args, str):  # tolerate a JSON-encoded string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return {"_raw": args}
    return dict(args) if isinstance(args, Mapping) else {}


def parse(message: str | bytes | Mapping[str, Any], *, output_encoding: str = "audio/pcm") -> list[Event]:
    """Parse one server → client message into events.

    Handles the field variants seen across doc versions: ``arguments``/``args`` in ``tool.call``; ``reply.done`` with no
    status (= completed); upper/lower-case error codes; ``reply.audio`` audio in ``data`` (or
    ``audio``); a bare ``error`` type. A ``reply.audio`` read from a Recording that did not keep its
    audio holds the Recording's placeholder instead of base64: it gives an `AgentReplyAudio` with no
    samples and ``omitted_bytes`` (its duration), not an error.

    Args:
        message: The JSON text (or decoded dict).
        output_encoding: The session's output encoding (sets `AgentReplyAudio` rate and encoding).

    Returns:
        The events (``transcript.user`` gives a `Final` and a `TurnEnd`).

    Raises:
        MessageError: Binary frame, non-JSON text, or undecodable audio.
    """
    if isinstance(message, bytes | bytearray):
        raise MessageError(
            f"the Voice Agent API sent a {len(message)}-byte binary frame; it only sends JSON text"
        )
    msg = decode_json_object(message)
    kind = msg.get("type")
    p = PROVIDER
    if kind == "session.ready":
        return [
            SessionReady(
                provider=p,
                raw=msg,
                session_id=_str(msg.get("session_id")),
                resume_token=_str(msg.get("resume_token")),
            )
        ]
    if kind == "session.updated":
        return [SessionUpdated(provider=p, raw=msg)]
    if kind == "input.speech.started":
        return [SpeechStarted(provider=p, raw=msg)]
    if kind == "input.speech.stopped":
        return [SpeechStopped(provider=p, raw=msg)]
    if kind == "transcript.user.delta":
        return [Partial(provider=p, raw=msg, text=str(msg.get("text", "")))]
    if kind == "transcript.user":
        item = _str(msg.get("item_id"))
        return [
            Final(provider=p, raw=msg, text=str(msg.get("text", "")), item_id=item),
            TurnEnd(provider=p, raw=msg, reason="transcript", item_id=item),
        ]
    if kind == "reply.started":
        return [AgentReplyStarted(provider=p, raw=msg, reply_id=_str(msg.get("reply_id")))]
    if kind == "reply.audio":
        data = msg.get("data", msg.get("audio"))
        omitted = omitted_payload_bytes(data)  # a Recording's placeholder: audio of known size, no samples
        try:
            pcm = b"" if omitted is not None else base64.b64decode(data or "", validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise MessageError("reply.audio 'data' is not valid base64") from exc
        encoding, rate = ENCODING_RATES.get(output_encoding, ENCODING_RATES["audio/pcm"])
        return [AgentReplyAudio(provider=p, raw=msg, pcm=pcm, sample_rate=rate, encoding=encoding,
                                omitted_bytes=omitted or 0)]
    if kind == "transcript.agent":
        return [
            AgentTranscript(
                provider=p,
                raw=msg,
                text=str(msg.get("text", "")),
                interrupted=bool(msg.get("interrupted", False)),
                reply_id=_str(msg.get("reply_id")),
                item_id=_str(msg.get("item_id")),
            )
        ]
    if kind == "reply.done":
        status = msg.get("status") or "completed"
        return [AgentReplyDone(provider=p, raw=msg, status=str(status), reply_id=_str(msg.get("reply_id")))]
    if kind == "tool.call":
        return [
            ToolCall(
                provider=p,
                raw=msg,
                call_id=str(msg.get("call_id", "")),
                name=str(msg.get("name", "")),
                arguments=_arguments(msg),
                reply_id=_str(msg.get("reply_id")),
            )
        ]
    if kind in ("session.error", "error"):
        code = _str(msg.get("code"))
        info = error_info(code)
        return [
            Error(
                provider=p,
                raw=msg,
                code=code,
                message=str(msg.get("message", "")),
                fatal=info.fatal if info else False,
                close_code=info.close_code if info else None,
                param=_str(msg.get("param")),
                fix=info.fix if info else None,
            )
        ]
    if kind == "session.ended":
        return [
            SessionEnded(
                provider=p,
                raw=msg,
                session_duration=_num(msg.get("session_duration_seconds")),
                audio_duration=_num(msg.get("audio_duration_seconds")),
                timestamp=msg.get("timestamp"),
            )
        ]
    logger.debug("unrecognised Voice Agent message type %r", kind)
    return [Unrecognized(provider=p, raw=msg, type=_str(kind))]


# --------------------------------------------------------------------------- server → client builders


def session_ready(*, session_id: str, resume_token: str | None = None) -> JsonMessage:
    """Build ``session.ready``."""
    msg: JsonMessage = {"type": "session.ready", "session_id": session_id}
    if resume_token is not None:
        msg["resume_token"] = resume_token
    return msg


def session_updated() -> JsonMessage:
    """Build ``session.updated``."""
    return {"type": "session.updated"}


def speech_started() -> JsonMessage:
    """Build ``input.speech.started``."""
    return {"type": "input.speech.started"}


def speech_stopped() -> JsonMessage:
    """Build ``input.speech.stopped``."""
    return {"type": "input.speech.stopped"}


def user_transcript_delta(*, text: str) -> JsonMessage:
    """Build ``transcript.user.delta`` (the whole utterance so far; clients replace)."""
    return {"type": "transcript.user.delta", "text": text}


def user_transcript(*, text: str, item_id: str) -> JsonMessage:
    """Build ``transcript.user``."""
    return {"type": "transcript.user", "text": text, "item_id": item_id}


def reply_started(*, reply_id: str) -> JsonMessage:
    """Build ``reply.started``."""
    return {"type": "reply.started", "reply_id": reply_id}


def reply_audio(*, audio: bytes) -> JsonMessage:
    """Build ``reply.audio`` with base64 audio in ``data`` (not ``audio``)."""
    return {"type": "reply.audio", "data": base64.b64encode(audio).decode("ascii")}


def agent_transcript(*, text: str, reply_id: str, item_id: str, interrupted: bool = False) -> JsonMessage:
    """Build ``transcript.agent`` (after all of the reply's audio)."""
    return {
        "type": "transcript.agent",
        "text": text,
        "reply_id": reply_id,
        "item_id": item_id,
        "interrupted": interrupted,
    }


def reply_done(*, status: str | None = None) -> JsonMessage:
    """Build ``reply.done``; ``status`` omitted on normal completion, ``"interrupted"`` on barge-in."""
    if status not in (None, "completed", "interrupted"):
        raise ParameterError(param="status", value=status, allowed=(None, "completed", "interrupted"))
    msg: JsonMessage = {"type": "reply.done"}
    if status is not None:
        msg["status"] = status
    return msg


def tool_call(*, call_id: str, name: str, arguments: Mapping[str, Any]) -> JsonMessage:
    """Build ``tool.call`` with ``arguments`` as an object."""
    return {"type": "tool.call", "call_id": call_id, "name": name, "arguments": dict(arguments)}


def session_error(
    *, code: str, message: str, timestamp: float | str, param: str | None = None
) -> JsonMessage:
    """Build ``session.error``.

    Args:
        code: One of `ERROR_CODES` (any documented casing).
        message: Human-readable message.
        timestamp: Seconds since the epoch (formatted ISO-8601 UTC) or a preformatted string.
        param: The offending field, for validation errors.

    Returns:
        The message as a dict.
    """
    if error_info(code) is None:
        raise ParameterError(param="code", value=code, allowed=[e.code for e in ERROR_CODES.values()])
    msg: JsonMessage = {
        "type": "session.error",
        "code": code,
        "message": message,
        "timestamp": timestamp_text(timestamp),
    }
    if param is not None:
        msg["param"] = param
    return msg


def session_ended(
    *, session_duration_seconds: float, audio_duration_seconds: float | None, timestamp: float | str
) -> JsonMessage:
    """Build ``session.ended`` (``audio_duration_seconds`` is null when no audio was sent)."""
    return {
        "type": "session.ended",
        "session_duration_seconds": round(session_duration_seconds, 3),
        "audio_duration_seconds": None
        if audio_duration_seconds is None
        else round(audio_duration_seconds, 3),
        "timestamp": timestamp_text(timestamp),
    }
