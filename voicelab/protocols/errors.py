"""Exceptions raised by the protocol layer; all derive from `voicelab.errors.VoicelabError`.

Messages name the parameter, the bad value and the allowed values, and never contain a
credential (callers must not pass secrets as ``value``).
"""

from __future__ import annotations

from collections.abc import Iterable

from voicelab.errors import VoicelabError

__all__ = [
    "ClientEventError",
    "MessageError",
    "ParameterError",
    "ProtocolError",
    "SessionConfigError",
    "TokenError",
]


class ProtocolError(VoicelabError):
    """Root of every error raised by `voicelab.protocols`."""


def _describe_allowed(allowed: Iterable[object] | str) -> str:
    if isinstance(allowed, str):
        return allowed
    return ", ".join(repr(a) if not isinstance(a, str) else a for a in allowed)


class ParameterError(ProtocolError, ValueError):
    """A connection or message parameter has a value the protocol does not allow.

    Attributes:
        param: The parameter's name as it appears on the wire (e.g. ``"sample_rate"``).
        value: The rejected value.
        allowed: A human-readable description of the allowed values.
        hint: An optional extra sentence on how to fix it.
    """

    def __init__(
        self,
        *,
        param: str,
        value: object,
        allowed: Iterable[object] | str,
        hint: str | None = None,
    ) -> None:
        """Initialise."""
        self.param = param
        self.value = value
        self.allowed = _describe_allowed(allowed)
        self.hint = hint
        text = f"{param}={value!r} is not allowed; use {self.allowed}"
        if hint:
            text += f". {hint}"
        super().__init__(text)


class SessionConfigError(ParameterError):
    """A voice-agent session configuration (``session.update`` body) failed validation.

    Attributes:
        code: The ``session.error`` code a server would answer with (e.g. ``"invalid_value"``).
    """

    def __init__(
        self,
        *,
        param: str,
        value: object,
        allowed: Iterable[object] | str,
        hint: str | None = None,
        code: str = "invalid_config",
    ) -> None:
        """Initialise."""
        self.code = code
        super().__init__(param=param, value=value, allowed=allowed, hint=hint)


class MessageError(ProtocolError, ValueError):
    """A message received from the other side is not valid for the protocol (bad JSON, binary, ...)."""


class ClientEventError(MessageError):
    """A client → server message the server half cannot accept.

    Attributes:
        code: The ``session.error`` code to answer with (``invalid_format``, ``invalid_audio``, ...).
        param: The offending field, when known.
    """

    def __init__(self, message: str, *, code: str = "invalid_format", param: str | None = None) -> None:
        """Initialise."""
        self.code = code
        self.param = param
        super().__init__(message)


class TokenError(ProtocolError):
    """A temporary token cannot be redeemed (unknown, already used, or its window elapsed).

    Attributes:
        code: The ``session.error`` code the server sends (``"unauthorized"``).
        reason: ``"unknown"``, ``"used"`` or ``"expired"``.
    """

    def __init__(self, message: str, *, reason: str, code: str = "unauthorized") -> None:
        """Initialise."""
        self.code = code
        self.reason = reason
        super().__init__(message)
