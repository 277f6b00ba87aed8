"""`serve`: run the emulator on a background thread with its own event loop.

Notebook cells and synchronous tests use it as a context manager::

    with voicelab.serve() as server:
        print(server.url_for("pulse"))   # ws://127.0.0.1:<port>/waves/v1/stt/live?model=pulse&language=en
        key = server.api_key      # never printed in full
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from voicelab.client.server_thread import ServerThread
from voicelab.emulator.config import Limits, ServerConfig, redact_key
from voicelab.emulator.errors import ServerStartError
from voicelab.emulator.faults import Faults
from voicelab.emulator.server import EmulatorServer, Route

__all__ = ["RunningServer", "serve"]

logger = logging.getLogger("voicelab.emulator")

_START_TIMEOUT = 120.0
_STOP_TIMEOUT = 30.0


class RunningServer:
    """An emulator running on a background thread; close it with `close` or a ``with`` block.

    Attributes:
        host: The bound address.
        port: The bound port.
        engine: The recognizer in use (``"whisper"`` or ``"sphinx"``).
    """

    def __init__(self, server: EmulatorServer, *, announce: bool = True) -> None:
        self._server = server
        self._runner = ServerThread(start=server.start, stop=server.stop, loop=asyncio.new_event_loop(),
                                    name="voicelab-emulator", error=ServerStartError, what="the emulator",
                                    log=logger, start_timeout_seconds=_START_TIMEOUT,
                                    stop_timeout_seconds=_STOP_TIMEOUT)
        self.host = server.host
        self.port = server.port
        self.engine = server.engine_name
        if announce:
            print(self.banner())
        logger.info("emulator running at %s (engine %s)", self.url, self.engine)

    # ----------------------------------------------------------------- URLs

    @property
    def api_key(self) -> str:
        """The API key every route accepts (``Authorization: Bearer``, ``?token=`` or ``?api_key=``)."""
        return self._server.api_key

    @property
    def url(self) -> str:
        """Base WebSocket URL, ``ws://host:port`` (pass it as ``base_url`` to voicelab clients)."""
        return self._server.url

    def url_for(self, provider: str, *, endpoint: str | None = None) -> str:
        """The URL of a provider's endpoint here, e.g. ``server.url_for("pulse")`` (see `EmulatorServer.url_for`)."""
        return self._server.url_for(provider, endpoint=endpoint)

    def token_url_for(self, provider: str) -> str:
        """The HTTP URL of a provider's token endpoint here (see `EmulatorServer.token_url_for`)."""
        return self._server.token_url_for(provider)

    @property
    def sessions(self) -> int:
        """Number of open sessions."""
        return len(self._server.registry)

    def banner(self) -> str:
        """The start-up text: URLs and a redacted key."""
        return self._server.banner(key_note=f"{redact_key(self.api_key)}  (read it from server.api_key)")

    def __repr__(self) -> str:
        state = "closed" if self._runner.closed else "running"
        return f"RunningServer(url={self.url!r}, engine={self.engine!r}, {state})"

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close every session (close frames sent), stop the server and join its thread."""
        if self._runner.close():
            logger.info("emulator at %s stopped", self.url)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    engine: str = "whisper",
    concurrency_limit: int | None = 100,
    faults: str | Iterable[str] | Mapping[str, Any] | Faults | None = None,
    limits: Limits | None = None,
    announce: bool = True,
    routes: list[Route] | None = None,
    recognizer: Any | None = None,
    **options: Any,
) -> RunningServer:
    """Start the local emulator on a background thread.

    Args:
        host: Interface to bind (local only by default).
        port: TCP port; 0 picks a free one (read it from ``server.port``).
        api_key: The accepted key; a random ``sk_…`` key when ``None`` (read ``server.api_key``).
        engine: ``"whisper"`` (accurate; falls back to sphinx with a warning when unavailable) or
            ``"sphinx"`` (light, many sessions).
        concurrency_limit: Most simultaneous sessions; the next one is closed with 1008. ``None``
            disables.
        faults: Server-wide faults, e.g. ``"reject:429;retry_after:2"`` (see docs/emulator.md).
        limits: Frame size, message rate, session length and idle limits.
        announce: Print the URLs (and a redacted key) once at start.
        routes: Routes to host (default: every registered provider's emulator route).
        recognizer: A loaded recognizer to share instead of loading ``engine``.
        **options: More `ServerConfig` fields (``engine_threads``, ``recognizer_options``).

    Returns:
        The running server; use it as a context manager or call ``close()``.

    Raises:
        ServerStartError: The port cannot be bound or the engine cannot load.
        ServerConfigError: A bad option.
        FaultSpecError: A bad fault specification.
    """
    config = ServerConfig.build(
        host=host,
        port=port,
        api_key=api_key,
        engine=engine,
        concurrency_limit=concurrency_limit,
        faults=faults,
        limits=limits,
        **options,
    )
    server = EmulatorServer(config, routes=routes, recognizer=recognizer)
    return RunningServer(server, announce=announce)
