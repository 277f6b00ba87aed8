"""Sans-I/O wire protocols: build URLs and messages, parse messages into events, explain errors.

Each provider module holds both halves of one schema: the client half (used by
`voicelab.client`) and the server half (used by `voicelab.emulator`).  Nothing here imports
asyncio, websockets, threading or sockets.  The [UNK]/[INF] choices are listed in the
docstrings of `voicelab.protocols.pulse` and `voicelab.protocols.assemblyai_agent`.
"""

from __future__ import annotations

from voicelab.protocols import assemblyai_agent, pulse
from voicelab.protocols.errors import (
    ClientEventError,
    MessageError,
    ParameterError,
    ProtocolError,
    SessionConfigError,
    TokenError,
    UnknownProtocolError,
)
from voicelab.protocols.events import (
    AgentReplyAudio,
    AgentReplyDone,
    AgentReplyStarted,
    AgentTranscript,
    Closed,
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
    Utterance,
    Word,
)
from voicelab.protocols.redaction import SecretHeaders, SecretURL, redact, redact_url
from voicelab.protocols.registry import PROTOCOL_NAMES, ProtocolSpec, get_protocol
from voicelab.protocols.wire import ConnectRequest, Explanation, HandshakeRejection, HttpRequest

__all__ = [
    "PROTOCOL_NAMES",
    "AgentReplyAudio",
    "AgentReplyDone",
    "AgentReplyStarted",
    "AgentTranscript",
    "ClientEventError",
    "Closed",
    "ConnectRequest",
    "Error",
    "Event",
    "Explanation",
    "Final",
    "HandshakeRejection",
    "HttpRequest",
    "MessageError",
    "ParameterError",
    "Partial",
    "ProtocolError",
    "ProtocolSpec",
    "SecretHeaders",
    "SecretURL",
    "SessionConfigError",
    "SessionEnded",
    "SessionReady",
    "SessionUpdated",
    "SpeechStarted",
    "SpeechStopped",
    "TokenError",
    "ToolCall",
    "TurnEnd",
    "UnknownProtocolError",
    "Unrecognized",
    "Utterance",
    "Word",
    "assemblyai_agent",
    "get_protocol",
    "pulse",
    "redact",
    "redact_url",
]
