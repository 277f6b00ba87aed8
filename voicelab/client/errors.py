"""Exceptions of the streaming client; each says what happened, the likely cause and the fix."""

from __future__ import annotations

from voicelab.errors import VoicelabError
from voicelab.protocols.wire import Explanation

__all__ = [
    "AuthenticationError",
    "ConnectError",
    "ConnectionDropped",
    "HandshakeError",
    "NoTranscriptError",
    "RateLimitError",
    "ServerClosedError",
    "SessionError",
    "StreamTimeout",
]


class ConnectError(VoicelabError):
    """A connection could not be opened or did not stay open.

    Attributes:
        status: The HTTP status of a refused handshake, if any.
        close_code: The WebSocket close code, if any.
        explanation: The provider-specific explanation with its fix.
    """

    def __init__(self, message: str, *, status: int | None = None, close_code: int | None = None,
                 explanation: Explanation | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.close_code = close_code
        self.explanation = explanation


class HandshakeError(ConnectError):
    """The WebSocket upgrade was refused with an HTTP status."""


class AuthenticationError(HandshakeError):
    """401/403, or an auth failure reported during the session: the key or token is wrong or expired."""


class RateLimitError(HandshakeError):
    """429: too many requests or sessions; ``retry_after`` is the server's wait in seconds, if given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ConnectionDropped(ConnectError):
    """The connection closed without a close frame (1006) or with an unexpected code."""


class ServerClosedError(ConnectError):
    """The server closed the session with a non-normal close code (e.g. 1008, 1011)."""


class SessionError(VoicelabError):
    """The provider reported a fatal session error (e.g. AssemblyAI ``session.error``).

    Attributes:
        code: The provider's error code.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class StreamTimeout(VoicelabError, TimeoutError):
    """Waiting for the provider took longer than the configured timeout."""


class NoTranscriptError(VoicelabError):
    """The session worked (audio accepted, clean close) but no transcript ever arrived.

    The seed symptom "connected, but no transcripts": almost always audio whose encoding or rate
    differs from what the URL declares, silent audio, or audio sent as text instead of binary.
    """
