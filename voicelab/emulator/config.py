"""Server configuration: address, credentials, engine, limits and faults."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelab.emulator.errors import ServerConfigError
from voicelab.emulator.faults import Faults, parse_faults
from voicelab.protocols.wire import EMULATOR_LIMIT_CLOSE_CODES

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_SESSIONS_PER_CREDENTIAL",
    "ENGINES",
    "LIMIT_CLOSE_CODES",
    "Limits",
    "ServerConfig",
    "new_api_key",
    "redact_key",
]

#: Engines the server accepts (see `voicelab.emulator.recognizers`).
ENGINES: tuple[str, ...] = ("whisper", "sphinx")
#: The close code of each limit (after the provider's error frame); defined with the shared protocol
#: vocabulary so every provider's ``explain_close`` explains the same numbers (docs/emulator.md lists them).
LIMIT_CLOSE_CODES = EMULATOR_LIMIT_CLOSE_CODES


#: `Limits.idle_timeout` by default, seconds.
DEFAULT_IDLE_TIMEOUT = 60.0
#: `Limits.max_sessions_per_credential` by default.
DEFAULT_SESSIONS_PER_CREDENTIAL = 50


def new_api_key() -> str:
    """Return a random key in the vendors' style (``sk_`` + 32 hex digits)."""
    return "sk_" + secrets.token_hex(16)


def redact_key(key: str | None) -> str:
    """Return a printable form of a key: its first 5 characters and ``…`` (never the whole key)."""
    if not key:
        return "<none>"
    return key[: min(5, max(0, len(key) // 4))] + "…" + f"({len(key)} chars)"


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-connection limits; ``None`` disables a limit (docs/emulator.md lists them).

    Each violation sends the provider's error frame, then closes with the limit's code in
    `LIMIT_CLOSE_CODES`. The vendors document none of these values; the defaults keep a busy or
    careless client from tipping the emulator over.

    Attributes:
        max_frame_bytes: Largest accepted frame; larger ones close 1009.
        max_messages_per_second: Frames per second a client may send (over a sliding 1 s window);
            more close 4001.
        max_session_seconds: Session length cap; then close 4002.
        idle_timeout: Seconds in which nothing happens on a connection (no client frame, no server
            message, no recognizer work pending) before the server closes it (4003). 60 s by default, so
            silent clients cannot hold sessions for hours.
        max_sessions_per_credential: Most sessions open at once with one credential (the same API key or
            token); one more is closed 4004 after the upgrade, so one client cannot take every session
            of `ServerConfig.concurrency_limit`.
    """

    max_frame_bytes: int | None = 1 << 20
    max_messages_per_second: float | None = 500.0
    max_session_seconds: float | None = 10800.0
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    max_sessions_per_credential: int | None = DEFAULT_SESSIONS_PER_CREDENTIAL

    def __post_init__(self) -> None:
        """Validate the values."""
        for name in ("max_frame_bytes", "max_messages_per_second", "max_session_seconds", "idle_timeout"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise ServerConfigError(f"{name}={value!r} must be a positive number, or None to disable the limit.")
        per = self.max_sessions_per_credential
        if per is not None and (isinstance(per, bool) or not isinstance(per, int) or per < 1):
            raise ServerConfigError(
                f"max_sessions_per_credential={per!r} must be a whole number >= 1, or None to disable the limit.")


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Everything a server needs to start.

    Attributes:
        host: Interface to bind (``127.0.0.1`` keeps it local).
        port: TCP port; 0 picks a free one.
        api_key: The one accepted key (hidden from repr); a random one when ``None``.
        engine: ``"whisper"`` or ``"sphinx"``.
        concurrency_limit: Most simultaneous sessions over all providers; ``None`` disables.
        faults: Server-wide faults.
        limits: Per-connection limits.
        engine_threads: Worker threads for recognizer work.
        recognizer_options: Extra keyword options for `get_recognizer`.
        resume_grace_seconds: How long a session dropped without a clean end stays resumable, for
            providers that resume sessions (the Voice Agent API keeps them 30 s).
        route_options: Options for each route, by route (provider) name, e.g.
            ``{"pulse": {"region": "us"}}``; each route checks its own (`Route.check_options`) when the
            server starts.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = field(default_factory=new_api_key, repr=False)
    engine: str = "whisper"
    concurrency_limit: int | None = 100
    faults: Faults = field(default_factory=Faults)
    limits: Limits = field(default_factory=Limits)
    engine_threads: int = 8
    recognizer_options: Mapping[str, Any] = field(default_factory=dict)
    resume_grace_seconds: float = 30.0
    route_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate the values."""
        if self.engine not in ENGINES:
            raise ServerConfigError(f"engine={self.engine!r} is unknown; use 'whisper' (accurate) or 'sphinx' (light).")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ServerConfigError(f"port={self.port!r} must be 0 (any free port) to 65535.")
        if self.concurrency_limit is not None and (
            isinstance(self.concurrency_limit, bool)
            or not isinstance(self.concurrency_limit, int)
            or self.concurrency_limit < 1
        ):
            raise ServerConfigError(
                f"concurrency_limit={self.concurrency_limit!r} must be a whole number >= 1, or None for no limit."
            )
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ServerConfigError("api_key must be a non-empty string; omit it to get a random key.")
        grace = self.resume_grace_seconds
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not 0 <= grace <= 3600:
            raise ServerConfigError(f"resume_grace_seconds={grace!r} must be a number of seconds from 0 to 3600.")
        if not isinstance(self.engine_threads, int) or self.engine_threads < 1:
            raise ServerConfigError(f"engine_threads={self.engine_threads!r} must be a whole number >= 1.")
        if not isinstance(self.route_options, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Mapping) for k, v in self.route_options.items()
        ):
            raise ServerConfigError(
                "route_options must map route names to option mappings, e.g. {'pulse': {'region': 'us'}}."
            )

    @classmethod
    def build(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        engine: str = "whisper",
        concurrency_limit: int | None = 100,
        faults: str | Iterable[str] | Mapping[str, Any] | Faults | None = None,
        limits: Limits | None = None,
        **extra: Any,
    ) -> ServerConfig:
        """Build a config from user-facing values (fault specs as strings, ``None`` key → random)."""
        return cls(
            host=host,
            port=port,
            api_key=api_key if api_key is not None else new_api_key(),
            engine=engine,
            concurrency_limit=concurrency_limit,
            faults=parse_faults(faults),
            limits=limits or Limits(),
            **extra,
        )
