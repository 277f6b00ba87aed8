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
from voicelab.client.pacing import Pacer
from voicelab.client.retry import RetryPolicy
from voicelab.client.session import Session, StreamSetupError, replay, stream

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
    "Session",
    "SessionError",
    "StreamSetupError",
    "StreamTimeout",
    "replay",
    "stream",
]
