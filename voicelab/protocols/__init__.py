"""The vocabulary every provider's protocol shares: normalised events, wire types, redaction, errors.

The protocols themselves live in their provider packages (`voicelab.providers.pulse`,
`voicelab.providers.assemblyai_agent`), each holding both halves of one schema: the client half
(used by `voicelab.client`) and the server half (used by `voicelab.emulator`). Nothing here
imports asyncio, websockets, threading or sockets.
"""

from __future__ import annotations

from voicelab.protocols.errors import (
    ClientEventError,
    MessageError,
    ParameterError,
    ProtocolError,
    SessionConfigError,
    TokenError,
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
from voicelab.protocols.wire import ConnectRequest, Explanation, HandshakeRejection, HttpRequest

__all__ = [
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
    "Unrecognized",
    "Utterance",
    "Word",
    "redact",
    "redact_url",
]
