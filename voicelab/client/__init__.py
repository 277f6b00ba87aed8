"""The streaming client: the only layer that does network I/O (websockets), plus its pure helpers."""

from voicelab.client.errors import (
    AuthenticationError,
    ConnectError,
    ConnectionDropped,
    HandshakeError,
    NoTranscriptError,
    RateLimitError,
    ServerClosedError,
    SessionError,
    StreamTimeout,
)
from voicelab.client.front import Stream, StreamSetupError, replay, stream
from voicelab.client.pacing import Pacer
from voicelab.client.retry import RetryPolicy

__all__ = [
    "AuthenticationError",
    "ConnectError",
    "ConnectionDropped",
    "HandshakeError",
    "NoTranscriptError",
    "Pacer",
    "RateLimitError",
    "RetryPolicy",
    "ServerClosedError",
    "Stream",
    "SessionError",
    "StreamSetupError",
    "StreamTimeout",
    "replay",
    "stream",
]
