"""The normalised event vocabulary every protocol's client half parses messages into.

Each event is a frozen, keyword-only dataclass carrying the ``provider`` name and the
``raw`` message it came from (decoded JSON dict, or the text/bytes as received).  Times
are seconds (float).  `Event.to_dict` gives a JSON-ready dict for logs and recordings.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from voicelab.protocols.wire import RawMessage

__all__ = [
    "AgentReplyAudio",
    "AgentReplyDone",
    "AgentReplyStarted",
    "AgentTranscript",
    "Closed",
    "Error",
    "Event",
    "Final",
    "Partial",
    "SessionEnded",
    "SessionReady",
    "SessionUpdated",
    "SpeechStarted",
    "SpeechStopped",
    "ToolCall",
    "TurnEnd",
    "Unrecognized",
    "Utterance",
    "Word",
]

def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"bytes_base64": base64.b64encode(bytes(value)).decode("ascii"), "length": len(value)}
    if isinstance(value, Word | Utterance):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Word:
    """One recognised word with its audio time span.

    Attributes:
        word: The word as written by the provider (may include punctuation).
        start: Start time in seconds of audio.
        end: End time in seconds of audio.
        confidence: Recognition confidence in [0, 1], if given.
        speaker: Speaker index when diarization is on.
        speaker_confidence: Confidence of the speaker label, if given.
    """

    word: str
    start: float
    end: float
    confidence: float | None = None
    speaker: int | str | None = None
    speaker_confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the word as a JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class Utterance:
    """A sentence-level segment (Pulse ``utterances[]``), times in seconds.

    Attributes:
        text: The segment text.
        start: Start time in seconds.
        end: End time in seconds.
        speaker: Speaker index when diarization is on.
    """

    text: str
    start: float
    end: float
    speaker: int | str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the utterance as a JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events.

    Attributes:
        provider: The protocol name that produced the event (``"pulse"``, ``"assemblyai-agent"``).
        raw: The message the event was parsed from.
    """

    kind: ClassVar[str] = "event"
    provider: str
    raw: RawMessage = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ``kind``, ``provider``, the event's fields and ``raw``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


@dataclass(frozen=True, kw_only=True)
class Partial(Event):
    """An interim transcript of the current segment; replaces the previous partial.

    Attributes:
        text: The interim text.
        words: Word timings, when the provider sends them.
        session_id: The provider's session id, if present.
        full_transcript: The session's finals so far, if the provider sends it on interims too.
    """

    kind: ClassVar[str] = "partial"
    text: str
    words: tuple[Word, ...] = ()
    session_id: str | None = None
    full_transcript: str | None = None


@dataclass(frozen=True, kw_only=True)
class Final(Event):
    """A final transcript of a segment or user turn.

    Attributes:
        text: The final text.
        words: Word timings, when present.
        is_last: True on the terminal final of the session (Pulse ``close_stream``).
        from_finalize: True when the final answers a client ``finalize``.
        language: The (detected) language, if given.
        languages: All languages detected, if given.
        full_transcript: The session transcript so far, if the provider sends it.
        utterances: Sentence-level segments, if present.
        redacted_entities: Redaction placeholders, if present.
        session_id: The provider's session id, if present.
        item_id: The conversation item id (voice agents), if present.
    """

    kind: ClassVar[str] = "final"
    text: str
    words: tuple[Word, ...] = ()
    is_last: bool = False
    from_finalize: bool = False
    language: str | None = None
    languages: tuple[str, ...] = ()
    full_transcript: str | None = None
    utterances: tuple[Utterance, ...] = ()
    redacted_entities: tuple[str, ...] = ()
    session_id: str | None = None
    item_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TurnEnd(Event):
    """The user's turn ended (a final that closes a turn).

    Attributes:
        reason: Why the turn ended: ``"finalize"``, ``"last"``, ``"transcript"``.
        item_id: The conversation item id (voice agents), if present.
    """

    kind: ClassVar[str] = "turn_end"
    reason: str = ""
    item_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SpeechStarted(Event):
    """The provider's VAD heard speech start.

    Attributes:
        audio_time: Seconds of audio since the first frame, when the provider gives it.
    """

    kind: ClassVar[str] = "speech_started"
    audio_time: float | None = None


@dataclass(frozen=True, kw_only=True)
class SpeechStopped(Event):
    """The provider's VAD heard speech stop.

    Attributes:
        audio_time: Seconds of audio since the first frame, when the provider gives it.
    """

    kind: ClassVar[str] = "speech_stopped"
    audio_time: float | None = None


@dataclass(frozen=True, kw_only=True)
class AgentReplyStarted(Event):
    """The agent started a reply.

    Attributes:
        reply_id: The reply's id.
    """

    kind: ClassVar[str] = "agent_reply_started"
    reply_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentReplyAudio(Event):
    """A chunk of agent speech, decoded from base64.

    Attributes:
        pcm: The audio bytes (PCM16 LE for ``audio/pcm``; G.711 bytes for pcmu/pcma); empty when a
            Recording did not keep them.
        sample_rate: Samples per second, in Hz.
        encoding: The voicelab encoding name (``"linear16"``, ``"mulaw"``, ``"alaw"``).
        omitted_bytes: Bytes of audio the message carried that the Recording it was read from did not
            keep (a `voicelab.protocols.wire.omitted_payload` placeholder stands for them; ``pcm`` is then
            empty); ``0`` for audio received live. `duration` counts them.
    """

    kind: ClassVar[str] = "agent_reply_audio"
    pcm: bytes = field(repr=False)
    sample_rate: int
    encoding: str = "linear16"
    omitted_bytes: int = 0

    @property
    def duration(self) -> float:
        """The chunk's duration in seconds (of the audio received, kept or not)."""
        width = 2 if self.encoding == "linear16" else 1
        return (len(self.pcm) + self.omitted_bytes) / (width * self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; audio is summarised by length, not repeated."""
        out = super().to_dict()
        out["pcm"] = {"length": len(self.pcm)}
        out["duration"] = self.duration
        return out


@dataclass(frozen=True, kw_only=True)
class AgentTranscript(Event):
    """What the agent said in a reply (cut back to what was spoken if interrupted).

    Attributes:
        text: The agent's words.
        interrupted: True when the user barged in.
        reply_id: The reply's id, if given.
        item_id: The conversation item id, if given.
    """

    kind: ClassVar[str] = "agent_transcript"
    text: str
    interrupted: bool = False
    reply_id: str | None = None
    item_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AgentReplyDone(Event):
    """The agent's reply finished.

    Attributes:
        status: ``"completed"`` or ``"interrupted"`` (absent on the wire means completed).
        reply_id: The reply's id, if given.
    """

    kind: ClassVar[str] = "agent_reply_done"
    status: str = "completed"
    reply_id: str | None = None

    @property
    def interrupted(self) -> bool:
        """Whether the reply was cut short by the user (pending tool results must be dropped)."""
        return self.status == "interrupted"


@dataclass(frozen=True, kw_only=True)
class ToolCall(Event):
    """The agent asks the client to run a tool.

    Attributes:
        call_id: Id to echo in ``tool.result``.
        name: The tool's name.
        arguments: The decoded arguments object.
        reply_id: The reply it belongs to, if given.
    """

    kind: ClassVar[str] = "tool_call"
    call_id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    reply_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SessionReady(Event):
    """The session is configured and ready for audio.

    Attributes:
        session_id: The provider's session id (keep it for support and resume).
        resume_token: An extra resume token, if the provider sends one.
    """

    kind: ClassVar[str] = "session_ready"
    session_id: str | None = None
    resume_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class SessionUpdated(Event):
    """A mid-session configuration change was applied."""

    kind: ClassVar[str] = "session_updated"


@dataclass(frozen=True, kw_only=True)
class SessionEnded(Event):
    """The provider ended the session.

    Attributes:
        session_duration: Seconds the session lasted, if given.
        audio_duration: Seconds of audio received, or ``None`` (e.g. no audio was sent).
        timestamp: The provider's timestamp, as given.
    """

    kind: ClassVar[str] = "session_ended"
    session_duration: float | None = None
    audio_duration: float | None = None
    timestamp: str | float | None = None


@dataclass(frozen=True, kw_only=True)
class Error(Event):
    """An error reported by the provider (error frame, ``session.error``, handshake status).

    Attributes:
        code: The provider's error code (or HTTP status as a string), if any.
        message: The provider's message, plus voicelab's explanation where known.
        fatal: Whether the session cannot continue.
        close_code: The WebSocket close code that follows, when known.
        param: The offending field, when the provider names one.
        fix: How to fix it, when voicelab knows.
    """

    kind: ClassVar[str] = "error"
    code: str | None = None
    message: str = ""
    fatal: bool = False
    close_code: int | None = None
    param: str | None = None
    fix: str | None = None


@dataclass(frozen=True, kw_only=True)
class Closed(Event):
    """The WebSocket closed.

    Attributes:
        code: The close code (1006 when the connection dropped without a close frame).
        reason: The close reason text.
        explanation: What the code means for this provider.
        clean: Whether this is a normal end of session.
    """

    kind: ClassVar[str] = "closed"
    code: int
    reason: str = ""
    explanation: str | None = None
    clean: bool = False


@dataclass(frozen=True, kw_only=True)
class Unrecognized(Event):
    """A message the parser does not know; kept so nothing received is lost.

    Attributes:
        type: The message's ``type`` field, if any.
    """

    kind: ClassVar[str] = "unrecognized"
    type: str | None = None
