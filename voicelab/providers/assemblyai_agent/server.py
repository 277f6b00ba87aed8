"""The Voice Agent server half's message handling.

Parse client events and enforce ordering and mutability rules (the events reference and the
WebSocket API reference; URLs in `voicelab.providers.assemblyai_agent.messages`).

`AgentServerSession.receive` takes one client frame and returns a `ServerStep`: the parsed
event (if valid), the messages to send back now, and a close code if the socket must close.
Producing speech, transcripts and replies is the emulator's job, not this module's.

A rejected first ``session.update`` gets the validator's code, as the skill reference's error table
says [VND]: ``invalid_value`` for a bad voice or field type, ``invalid_config`` for a validation
error, ``invalid_format`` for an unknown field; then ``session.ready`` on defaults [INF: a
third-party client's report]. ``{"agent_id": …}`` binds a stored agent: the session runs on the
configuration `agents` returns for it; an unknown id is ``invalid_value`` [INF], then ready on
defaults.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voicelab.protocols.errors import ClientEventError, MessageError, SessionConfigError
from voicelab.protocols.wire import JsonMessage, decode_json_object
from voicelab.providers.assemblyai_agent.config import (
    ENCODING_RATES,
    MAX_INSTRUCTIONS_CHARS,
    changed_immutable_fields,
    merge_session,
    validate_session,
)
from voicelab.providers.assemblyai_agent.messages import (
    CLIENT_EVENT_TYPES,
    session_ended,
    session_error,
    session_ready,
    session_updated,
)

__all__ = [
    "AgentServerSession",
    "InputAudio",
    "ReplyCreate",
    "ServerStep",
    "SessionEnd",
    "SessionResume",
    "SessionUpdate",
    "ToolResult",
    "new_session_id",
    "parse_client_event",
]


@dataclass(frozen=True, kw_only=True)
class SessionUpdate:
    """``session.update``. Attributes: session: the ``session`` object."""

    session: JsonMessage


@dataclass(frozen=True, kw_only=True)
class SessionResume:
    """``session.resume``. Attributes: session_id: the session to resume."""

    session_id: str


@dataclass(frozen=True, kw_only=True)
class InputAudio:
    """``input.audio``. Attributes: audio: decoded bytes (not yet checked against the encoding)."""

    audio: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """``tool.result``. Attributes: call_id: the call answered; result: the JSON string."""

    call_id: str
    result: str


@dataclass(frozen=True, kw_only=True)
class ReplyCreate:
    """``reply.create``. Attributes: instructions: one-shot instructions, if any."""

    instructions: str | None = None


@dataclass(frozen=True, kw_only=True)
class SessionEnd:
    """``session.end``."""


ClientEvent = SessionUpdate | SessionResume | InputAudio | ToolResult | ReplyCreate | SessionEnd


def parse_client_event(message: str | bytes) -> ClientEvent:
    """Parse one client → server frame (server half).

    Args:
        message: The frame (binary frames are always invalid: audio travels as base64 JSON).

    Returns:
        The typed client event.

    Raises:
        ClientEventError: With ``code`` ``invalid_format`` (shape) or ``invalid_audio`` (base64).
    """
    if isinstance(message, bytes | bytearray):
        raise ClientEventError(
            "binary frames are not accepted; send audio as base64 in input.audio", code="invalid_format"
        )
    try:
        msg = decode_json_object(message)
    except MessageError as exc:
        raise ClientEventError(f"Invalid message format: {exc}") from exc
    kind = msg.get("type")
    if kind not in CLIENT_EVENT_TYPES:
        raise ClientEventError(f"Invalid message format: unknown or missing type {kind!r}", param="type")
    if kind == "session.update":
        session = msg.get("session", {})
        if not isinstance(session, Mapping):
            raise ClientEventError("session.update 'session' must be an object", param="session")
        return SessionUpdate(session=dict(session))
    if kind == "session.resume":
        sid = msg.get("session_id")
        if not isinstance(sid, str) or not sid:
            raise ClientEventError("session.resume requires session_id", param="session_id")
        return SessionResume(session_id=sid)
    if kind == "input.audio":
        data = msg.get("audio")
        if not isinstance(data, str):
            raise ClientEventError("input.audio requires an 'audio' base64 string", param="audio")
        try:
            return InputAudio(audio=base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ClientEventError(
                "input.audio 'audio' is not valid base64", code="invalid_audio", param="audio"
            ) from exc
    if kind == "tool.result":
        call_id, result = msg.get("call_id"), msg.get("result")
        if not isinstance(call_id, str) or not call_id:
            raise ClientEventError("tool.result requires call_id", param="call_id")
        if not isinstance(result, str):
            raise ClientEventError("tool.result 'result' must be a JSON string", param="result")
        return ToolResult(call_id=call_id, result=result)
    if kind == "reply.create":
        instructions = msg.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise ClientEventError("reply.create 'instructions' must be a string", param="instructions")
        if instructions is not None and len(instructions) > MAX_INSTRUCTIONS_CHARS:
            raise ClientEventError(
                f"reply.create 'instructions' has {len(instructions):,} characters; at most "
                f"{MAX_INSTRUCTIONS_CHARS:,} are accepted (voicelab's limit; the vendor documents none)",
                code="invalid_value", param="instructions")
        return ReplyCreate(instructions=instructions)
    return SessionEnd()


def new_session_id(*, token_hex: Callable[[int], str] | None = None) -> str:
    """Return ``sess_`` + 32 hex digits, as third-party clients observed live (the docs show ``sess_abc123``)."""
    return "sess_" + (token_hex or secrets.token_hex)(16)


@dataclass(frozen=True, kw_only=True)
class ServerStep:
    """The server's reaction to one client frame.

    Attributes:
        event: The parsed client event, or ``None`` when it was rejected.
        replies: Messages to send now, in order.
        close_code: Close the socket with this code after sending ``replies``, if not ``None``.
    """

    event: ClientEvent | None
    replies: Sequence[JsonMessage] = ()
    close_code: int | None = None


class AgentServerSession:
    """Ordering and configuration state of one Voice Agent connection (server half).

    Args:
        session_id: The id to announce in ``session.ready``.
        started_at: Session start, seconds on the caller's clock.
        voices: Accepted voice names (``None``: any name not known to be removed).
        resumable: Looks up a resumable session by id: returns ``"ok"``, ``"not_found"`` or ``"forbidden"``.
        agents: Looks up a stored agent's session configuration by ``agent_id`` (``None``: unknown);
            without it every ``agent_id`` is unknown.

    Attributes:
        agent_id: The stored agent the session is bound to, or ``None``.
    """

    def __init__(
        self,
        *,
        session_id: str,
        started_at: float,
        voices: Sequence[str] | None = None,
        resumable: Callable[[str], str] | None = None,
        agents: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Initialise."""
        self.session_id = session_id
        self.started_at = started_at
        self.ready = False
        self.ended = False
        self.config: dict[str, Any] = {}
        self.audio_seconds = 0.0
        self._voices = voices
        self._resumable = resumable or (lambda _sid: "not_found")
        self._agents = agents or (lambda _aid: None)
        self.agent_id: str | None = None

    def __repr__(self) -> str:
        """Return a representation with secrets hidden."""
        return f"AgentServerSession(session_id={self.session_id!r}, ready={self.ready}, ended={self.ended})"

    @property
    def input_encoding(self) -> str:
        """The configured input encoding (``audio/pcm`` by default)."""
        fmt = self.config.get("input", {}).get("format", {})
        return str(fmt.get("encoding", "audio/pcm"))

    def _error(self, code: str, message: str, now: float, param: str | None = None) -> JsonMessage:
        return session_error(code=code, message=message, timestamp=now, param=param)

    def receive(self, message: str | bytes, *, now: float) -> ServerStep:
        """Handle one client frame.

        Args:
            message: The frame.
            now: Current time in seconds.

        Returns:
            What to send back and whether to close.
        """
        if self.ended:
            return ServerStep(event=None, replies=[self._error("invalid_format", "session has ended", now)])
        try:
            event = parse_client_event(message)
        except ClientEventError as exc:
            return ServerStep(event=None, replies=[self._error(exc.code, str(exc), now, exc.param)])
        if not self.ready:
            return self._before_ready(event, now)
        return self._live(event, now)

    def _before_ready(self, event: ClientEvent, now: float) -> ServerStep:
        if isinstance(event, SessionUpdate):
            self.ready = True
            ready = session_ready(session_id=self.session_id)
            try:
                config = validate_session(event.session, first=True, voices=self._voices)
            except SessionConfigError as exc:
                # A rejected first update leaves the call on defaults (a third-party client's report).
                return ServerStep(event=event, replies=[self._error(exc.code, str(exc), now, exc.param), ready])
            agent_id = config.get("agent_id")
            if isinstance(agent_id, str):
                stored = self._agents(agent_id)
                if stored is None:
                    text = f"agent_id {agent_id!r} not found; create the agent with POST /v1/agents"
                    error = self._error("invalid_value", text, now, "session.agent_id")
                    return ServerStep(event=event, replies=[error, ready])
                self.agent_id = agent_id
                config = {"agent_id": agent_id, **stored}
            self.config = config
            return ServerStep(event=event, replies=[ready])
        if isinstance(event, SessionResume):
            outcome = self._resumable(event.session_id)
            if outcome == "ok":
                self.session_id, self.ready = event.session_id, True
                return ServerStep(event=event, replies=[session_ready(session_id=self.session_id)])
            code = "session_forbidden" if outcome == "forbidden" else "session_not_found"
            text = (
                "Session belongs to another account"
                if outcome == "forbidden"
                else "Session not found or grace window has expired"
            )
            self.ended = True
            return ServerStep(event=event, replies=[self._error(code, text, now)], close_code=1008)
        what = "input.audio before session.ready" if isinstance(event, InputAudio) else "the first message"
        return ServerStep(
            event=None,
            replies=[
                self._error(
                    "invalid_format", f"Invalid message format: {what}; send session.update first", now
                )
            ],
        )

    def _live(self, event: ClientEvent, now: float) -> ServerStep:
        if isinstance(event, SessionUpdate):
            changed = changed_immutable_fields(self.config, event.session)
            if changed:
                return ServerStep(
                    event=None,
                    replies=[
                        self._error(
                            "immutable_field",
                            f"{changed[0]} cannot change after session.ready",
                            now,
                            changed[0],
                        )
                    ],
                )
            try:
                validate_session(event.session, first=False, voices=self._voices)
            except SessionConfigError as exc:
                return ServerStep(event=None, replies=[self._error(exc.code, str(exc), now, exc.param)])
            self.config = merge_session(self.config, event.session)
            return ServerStep(event=event, replies=[session_updated()])
        if isinstance(event, SessionResume):
            return ServerStep(
                event=None,
                replies=[
                    self._error(
                        "invalid_format", "session.resume must be the first message of a connection", now
                    )
                ],
            )
        if isinstance(event, InputAudio):
            encoding, rate = ENCODING_RATES.get(self.input_encoding, ENCODING_RATES["audio/pcm"])
            width = 2 if encoding == "linear16" else 1
            if len(event.audio) % width:
                return ServerStep(
                    event=None,
                    replies=[self._error("invalid_audio", "audio is not whole PCM16 samples", now, "audio")],
                )
            self.audio_seconds += len(event.audio) / (width * rate)
            return ServerStep(event=event)
        if isinstance(event, SessionEnd):
            return self.end(now=now, close_code=1000, event=event)
        return ServerStep(event=event)

    def end(
        self,
        *,
        now: float,
        close_code: int = 1000,
        event: ClientEvent | None = None,
        error_code: str | None = None,
    ) -> ServerStep:
        """End the session: optional ``session.error``, then ``session.ended``, then close.

        Args:
            now: Current time in seconds.
            close_code: 1000 for ``session.end``; 1008 for ``session_expired``.
            event: The client event that caused it, if any.
            error_code: E.g. ``"session_expired"``, sent before ``session.ended``.

        Returns:
            The step to perform.
        """
        self.ended = True
        replies: list[JsonMessage] = []
        if error_code is not None:
            replies.append(self._error(error_code, "Maximum session duration reached", now))
        replies.append(
            session_ended(
                session_duration_seconds=max(0.0, now - self.started_at),
                audio_duration_seconds=self.audio_seconds or None,
                timestamp=now,
            )
        )
        return ServerStep(event=event, replies=replies, close_code=close_code)

    def check_expiry(self, *, now: float, deadline: float | None) -> ServerStep | None:
        """Return the ``session_expired`` ending once ``deadline`` (s) has passed; ``None`` disables it."""
        if deadline is None or self.ended or now < deadline:
            return None
        return self.end(now=now, close_code=1008, error_code="session_expired")
