"""The emulator's network core: one websockets server hosting every registered provider by path.

`EmulatorServer` owns the listening socket, the shared recognizer, a thread pool for
recognizer work, the session registry and the server-wide faults. It knows no provider: each
provider package names an emulator `Route` factory in its `voicelab.providers.ProviderSpec`,
and the server asks the registry for them when it starts. Routing, auth and the plain-HTTP
endpoints (a provider's token endpoint, ``GET /``) happen in ``process_request``, before the
upgrade; an accepted upgrade is then handed to its route's handler with a `ConnectionContext`.

Route handler interface::

    async def handle(conn: websockets.asyncio.server.ServerConnection, ctx: ConnectionContext) -> None:
        async for frame in ctx.frames(conn):        # limits enforced; ends when the socket closes
            ...
            await ctx.send({"type": ...})           # faults (latency, drops, malformed) applied
            events = await ctx.run_engine(stream.accept, pcm, now=ctx.clock())
        await ctx.close(1000)                       # after every queued message

A `Route` bundles ``accept`` (the sans-I/O upgrade check, run in ``process_request``),
``handle``, the provider's error-frame builder, its over-capacity behaviour and any plain-HTTP
endpoints (``http``: path → `HttpEndpoint`, or method → `HttpEndpoint`; a path may hold ``{name}``
segments, e.g. ``/v1/agents/{agent_id}``).

websockets itself parses only bodiless GET requests (they open WebSockets). So that providers can
also serve REST APIs (``POST`` with a JSON body, ``PUT``, ``DELETE``), each connection reads a
plain-HTTP request's method and body itself (`MAX_HTTP_BODY` at most) before websockets sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http
import json
import logging
import os
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voicelab.emulator.config import LIMIT_CLOSE_CODES, ServerConfig
from voicelab.emulator.errors import FaultSpecError, ServerStartError
from voicelab.emulator.faults import FAULT_QUERY_PARAM, Faults, FaultState, parse_faults
from voicelab.protocols.redaction import SECRET_QUERY_PARAMS, redact_url, redacting_logger
from voicelab.protocols.wire import HandshakeRejection, JsonMessage, bearer_token, encode_json, parse_query

__all__ = [
    "ConnectionContext",
    "EmulatorServer",
    "Handler",
    "HttpEndpoint",
    "HttpRequestView",
    "HttpRoutes",
    "Route",
    "SessionRegistry",
    "UpgradeRequest",
]

logger = logging.getLogger("voicelab.emulator.server")

T = TypeVar("T")
#: A provider's connection handler.
Handler = Callable[[ServerConnection, "ConnectionContext"], Awaitable[None]]

_CLOSE_TIMEOUT = 2.0
#: websockets' own frame-size guard; the configurable limit (`Limits.max_frame_bytes`) is checked per frame.
_HARD_MAX_SIZE = 64 << 20
#: Most worker processes a server starts for the sphinx engine (one per core up to this).
SPHINX_MAX_PROCESSES = 4
#: Sphinx decoders a server builds before its first session (about 90 MB each); more are built as needed.
SPHINX_WARM_DECODERS = 6
#: Largest plain-HTTP request body the emulator reads, in bytes (larger requests get 413).
MAX_HTTP_BODY = 1 << 20
#: Largest plain-HTTP request head (request line and headers) the emulator reads itself, in bytes.
_MAX_HTTP_HEAD = 64 << 10
#: Seconds after a session ends before the server returns freed memory to the system (`malloc_trim`).
TRIM_DELAY = 1.0


def _malloc_trim() -> None:
    """Return free heap memory to the system (glibc's ``malloc_trim``; nothing elsewhere)."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util

        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - raises AttributeError off glibc
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None


def sphinx_server_options(options: dict[str, Any]) -> dict[str, Any]:
    """The sphinx engine's options for a server: decoders in worker processes, some built ahead.

    pocketsphinx holds the GIL while it decodes or builds a decoder (0.3–0.7 s), so in-process
    decoders would stall the server's event loop; worker processes use every core. The server
    starts them (with its decoders built, about 1.5 s) and stops them when it stops. Explicit
    ``processes``/``warm`` options win.

    Args:
        options: The caller's ``recognizer_options``.

    Returns:
        The options with ``processes`` (cores, at most `SPHINX_MAX_PROCESSES`) and ``warm``
        (`SPHINX_WARM_DECODERS`) filled in.
    """
    processes = min(os.cpu_count() or 1, SPHINX_MAX_PROCESSES)
    return {"processes": processes, "warm": SPHINX_WARM_DECODERS, **options}


@dataclass(frozen=True, kw_only=True)
class UpgradeRequest:
    """An HTTP upgrade request as providers see it (``vl_fault`` already removed from the query).

    Attributes:
        route: The path without query string or trailing slash.
        query: Query parameters (last value wins).
        headers: Request headers (original case; last value wins).
        request_id: Id for error bodies and logs.
        now: The server clock at the request.
        server: The server (for its key, token issuer and clock).
    """

    route: str
    query: Mapping[str, str]
    headers: Mapping[str, str] = field(repr=False)
    request_id: str
    now: float
    server: EmulatorServer = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class HttpRequestView:
    """A plain-HTTP request as a route's `HttpEndpoint` sees it.

    Attributes:
        path: The path without query string.
        query: Query parameters (last value wins; ``vl_fault`` removed).
        headers: Request headers (original case; last value wins).
        faults: The effective faults for this request.
        now: The server clock at the request.
        server: The server (for its key and clock).
        method: The HTTP method (upper case).
        body: The request body (empty without one).
        params: The values of the path's ``{name}`` segments.
    """

    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str] = field(repr=False)
    faults: Faults
    now: float
    server: EmulatorServer = field(repr=False)
    method: str = "GET"
    body: bytes = field(default=b"", repr=False)
    params: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body decoded as JSON (``None`` for an empty body).

        Raises:
            ValueError: The body is not UTF-8 JSON.
        """
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    @property
    def base_url(self) -> str:
        """The server's plain-HTTP base URL, e.g. ``http://127.0.0.1:54321``."""
        return "http" + self.server.url.removeprefix("ws")


#: A plain-HTTP endpoint of a route: the request → (status, body). The body is any JSON value, or
#: ``None`` for a response without one (``204``).
HttpEndpoint = Callable[[HttpRequestView], tuple[int, Any]]
#: A route's plain-HTTP endpoints by path: one endpoint (GET only), or one per method.
HttpRoutes = Mapping[str, HttpEndpoint | Mapping[str, HttpEndpoint]]


@dataclass(frozen=True, kw_only=True)
class Route:
    """One emulated API, as the server hosts it (made by the provider package's route factory).

    Attributes:
        name: The provider's registry name (``"pulse"``, ``"assemblyai-agent"``).
        paths: The WebSocket paths it serves.
        accept: Checks an upgrade (auth, parameters) and returns the parsed config or a rejection;
            runs on the event loop inside ``process_request``, so it must be quick.
        handle: The connection handler.
        error_frame: Builds the provider's error message (used for limit violations and crashes).
        rejection_body: Builds the JSON body for a fault-injected HTTP rejection of this status.
        over_capacity: What to do with an upgraded connection over the concurrency limit;
            the default sends nothing and closes 1008.
        check_options: Validates the route's options (`ServerConfig.route_options` under its name)
            when the server starts; raises `ServerConfigError` (or ``ValueError``) on a bad one.
        http: Plain-HTTP endpoints by path (e.g. a token endpoint): one endpoint for GET, or a
            mapping of methods (``{"GET": ..., "POST": ...}``); ``{name}`` path segments match one
            segment each and reach the endpoint as `HttpRequestView.params`.
    """

    name: str
    paths: tuple[str, ...]
    accept: Callable[[UpgradeRequest], Any]
    handle: Handler
    error_frame: Callable[[str], JsonMessage]
    rejection_body: Callable[[int, str], JsonMessage] = lambda status, rid: {"error": http.HTTPStatus(status).phrase}
    over_capacity: Callable[[ConnectionContext], Awaitable[None]] | None = None
    http: HttpRoutes = field(default_factory=dict)
    check_options: Callable[[Mapping[str, Any]], None] | None = None


class SessionRegistry:
    """Active connections (for the concurrency limits) and parked sessions (for resume).

    Only live connections count: one whose socket has closed stops counting at once, even while its
    handler is still winding down (cancelling engine work, parking its session).

    Args:
        limit: Most simultaneous connections; ``None`` disables the limit.
        per_credential: Most simultaneous connections with one credential; ``None`` disables the limit.
        clock: The server clock (seconds), to expire parked sessions as new ones are parked.
    """

    def __init__(self, *, limit: int | None, per_credential: int | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.limit = limit
        self.per_credential = per_credential
        self._clock = clock
        self._active: dict[int, ConnectionContext] = {}
        self._handling: dict[int, ConnectionContext] = {}  # handler still running (socket may be gone)
        self._parked: dict[str, tuple[float, Any]] = {}

    def __len__(self) -> int:
        self._prune()
        return len(self._active)

    def _prune(self) -> None:
        """Forget connections whose socket has closed (their handlers may still be running)."""
        for key in [k for k, c in self._active.items() if c.conn.state.name == "CLOSED"]:
            del self._active[key]

    def count(self, provider: str | None = None) -> int:
        """Active connections, optionally of one provider."""
        self._prune()
        return sum(1 for c in self._active.values() if provider is None or c.provider == provider)

    def contexts(self) -> list[ConnectionContext]:
        """The active connection contexts."""
        self._prune()
        return list(self._active.values())

    def try_add(self, ctx: ConnectionContext) -> bool:
        """Count a connection in, unless the limit is reached."""
        self._prune()
        if self.limit is not None and len(self._active) >= self.limit:
            return False
        self._active[id(ctx)] = ctx
        self._handling[id(ctx)] = ctx
        return True

    def credential_full(self, ctx: ConnectionContext) -> bool:
        """Whether ``ctx``'s credential already holds `per_credential` live connections (``ctx`` not counted)."""
        if self.per_credential is None or ctx.credential is None:
            return False
        self._prune()
        same = sum(1 for c in self._active.values() if c is not ctx and c.credential == ctx.credential)
        return same >= self.per_credential

    def remove(self, ctx: ConnectionContext) -> None:
        """Count a connection out (its socket closed; its handler may still be winding down)."""
        self._active.pop(id(ctx), None)

    def handled(self, ctx: ConnectionContext) -> None:
        """The connection's handler has returned: it holds no session any more."""
        self._active.pop(id(ctx), None)
        self._handling.pop(id(ctx), None)

    def park(self, session_id: str, state: Any, *, until: float) -> None:
        """Keep a disconnected session's state until ``until`` (server clock) for a resume.

        Expired sessions are dropped here too, so parked state never piles up when nobody resumes.
        """
        if self._clock is not None:
            self._expire(self._clock())
        self._parked[session_id] = (until, state)

    @property
    def parked(self) -> int:
        """Sessions kept for a resume."""
        return len(self._parked)

    def take(self, session_id: str, *, now: float) -> Any | None:
        """Remove and return a parked session's state, or ``None`` if unknown or expired."""
        self._expire(now)
        entry = self._parked.pop(session_id, None)
        return None if entry is None else entry[1]

    def winding_down(self, session_id: str, *, besides: ConnectionContext | None = None) -> bool:
        """Whether another connection's handler still holds ``session_id`` (dropped, not yet parked).

        A dropped connection leaves the active count at once, but its handler parks the session only
        after cancelling its work; until then it still holds the session.
        """
        return any(c.session_id == session_id and c is not besides for c in self._handling.values())

    def _expire(self, now: float) -> None:
        for sid in [s for s, (until, _) in self._parked.items() if until < now]:
            del self._parked[sid]


class _Close:
    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason


class _Abort:
    pass


class ConnectionContext:
    """What a provider handler gets for one connection.

    Attributes:
        provider: The provider name.
        config: What the provider's ``accept`` returned (e.g. a `PulseSessionConfig`).
        request: The upgrade request.
        faults: The effective faults (server-wide merged with ``?vl_fault=``).
        server: The server.
        session_id: Set by the handler once it has one (for logs and the registry).
        audio_chunks: Audio frames counted so far with `count_chunk`.
        credential: A digest of the credential the upgrade presented (for the per-credential limit;
            never the credential itself), or ``None``.
    """

    def __init__(
        self,
        *,
        conn: ServerConnection,
        provider: Route,
        config: Any,
        request: UpgradeRequest,
        faults: Faults,
        server: EmulatorServer,
    ) -> None:
        self.conn = conn
        self.provider = provider.name
        self._provider = provider
        self.config = config
        self.request = request
        self.faults = faults
        self.server = server
        self.session_id: str | None = None
        self.audio_chunks = 0
        self.credential = _credential_digest(request)
        self.started_at = server.clock()
        self.closing = False
        self.closed_by_server: int | None = None
        self._state = FaultState(faults)
        self._out: deque[tuple[float, Any]] = deque()
        self._wake = asyncio.Event()
        self._last_due = 0.0
        self._last_frame = self.started_at  # last client frame or server message (the idle timeout's clock)
        self._busy = 0  # recognizer work in flight (`busy`): a session waiting for its engine is not idle
        self._sender: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    def __repr__(self) -> str:
        return f"ConnectionContext(provider={self.provider!r}, session_id={self.session_id!r})"

    # ----------------------------------------------------------------- shared services

    @property
    def recognizer(self) -> Any:
        """The shared recognizer (loaded once per server)."""
        return self.server.recognizer

    @property
    def registry(self) -> SessionRegistry:
        """The server's session registry."""
        return self.server.registry

    @property
    def limits(self) -> Any:
        """The server's per-connection `Limits`."""
        return self.server.config.limits

    def clock(self) -> float:
        """The server's monotonic clock, in seconds."""
        return self.server.clock()

    async def run_engine(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking recognizer work in the server's thread pool (never on the event loop)."""
        with self.busy():
            return await self.server.run_engine(fn, *args, **kwargs)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Mark recognizer work in progress: the idle timeout does not run meanwhile, and restarts after it.

        `run_engine` marks its call; `voicelab.emulator.engine_feed.EngineFeed` marks each item it works on
        (with the ``slowdown`` fault's wait).
        """
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._last_frame = self.clock()

    # ----------------------------------------------------------------- receiving

    async def frames(self, conn: ServerConnection | None = None) -> AsyncIterator[str | bytes]:
        """Yield client frames until the socket closes, enforcing frame-size and message-rate limits.

        A violation sends the provider's error frame and closes with the limit's code
        (`voicelab.emulator.config.LIMIT_CLOSE_CODES`: 1009 too big, 4001 too fast); the iteration
        then ends.
        """
        conn = conn or self.conn
        limits = self.limits
        window: deque[float] = deque()
        while True:
            try:
                frame = await conn.recv()
            except ConnectionClosed:
                self.registry.remove(self)
                return
            now = self.clock()
            self._last_frame = now
            if self.closing:
                continue  # keep reading until the close handshake completes
            if limits.max_frame_bytes is not None and len(frame) > limits.max_frame_bytes:
                await self.fail(
                    f"frame of {len(frame)} bytes exceeds the {limits.max_frame_bytes}-byte limit; "
                    "send smaller chunks (4096 bytes is recommended)",
                    code=LIMIT_CLOSE_CODES["max_frame_bytes"],
                )
                continue
            if limits.max_messages_per_second is not None:
                window.append(now)
                while window and window[0] < now - 1.0:
                    window.popleft()
                if len(window) > limits.max_messages_per_second:
                    await self.fail(
                        f"more than {limits.max_messages_per_second:g} messages per second; "
                        "pace audio at about real time (e.g. 4096 bytes every 128 ms at 16 kHz linear16)",
                        code=LIMIT_CLOSE_CODES["max_messages_per_second"],
                    )
                    continue
            yield frame

    async def count_chunk(self) -> bool:
        """Count one audio chunk and apply the chunk-count faults.

        Returns:
            True when a fault ended the connection (stop reading).
        """
        self.audio_chunks += 1
        f = self.faults
        if f.drop_after_chunks is not None and self.audio_chunks >= f.drop_after_chunks:
            logger.info("fault: dropping %s connection after %d chunks", self.provider, self.audio_chunks)
            await self.abort()
            return True
        if f.close_after_chunks is not None and self.audio_chunks >= f.close_after_chunks:
            code = f.close_code or 1011
            logger.info("fault: closing %s connection with %d after %d chunks", self.provider, code, self.audio_chunks)
            await self.close(code, "injected fault")
            return True
        return False

    # ----------------------------------------------------------------- sending

    async def send(self, message: Mapping[str, Any] | str | bytes) -> None:
        """Queue a message for the client; latency, jitter, drops and the malformed frame apply.

        Messages keep their order; the call returns at once (it never waits for the latency).
        """
        if self.closing:
            return
        data: str | bytes = encode_json(message) if isinstance(message, Mapping) else message
        st = self._state
        st.sent += 1
        f = self.faults
        if f.malformed is not None and not st.malformed_sent and st.sent >= f.malformed:
            st.malformed_sent = True
            self._enqueue('{"type":"transcription","transcript":"trunc', st.delay())
        if st.drop():
            logger.debug("fault: dropped server message %d", st.sent)
            return
        self._enqueue(data, st.delay())

    def _enqueue(self, item: Any, delay: float) -> None:
        due = max(self._last_due, self.clock() + delay)
        self._last_due = due
        self._out.append((due, item))
        self._wake.set()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close after every queued message has been sent (idempotent)."""
        if self.closing:
            return
        self.closing = True
        self.closed_by_server = code
        self._enqueue(_Close(code, reason), 0.0)

    async def abort(self) -> None:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        if self.closing:
            return
        self.closing = True
        self.closed_by_server = 1006
        self._out.clear()
        self.conn.transport.abort()
        self.registry.remove(self)
        self._wake.set()

    async def fail(self, message: str, *, code: int = 1011) -> None:
        """Send the provider's error frame, then close with ``code``."""
        if self.closing:
            return
        logger.info("%s session %s: %s (close %d)", self.provider, self.session_id, message, code)
        await self.send(self._provider.error_frame(message))
        await self.close(code, message[:100])

    async def _send_loop(self) -> None:
        while True:
            while not self._out:
                self._wake.clear()
                if self._done.is_set():
                    return
                await self._wake.wait()
            due, item = self._out[0]
            wait = due - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._out.popleft()
            try:
                if isinstance(item, _Close):
                    await self.conn.close(item.code, item.reason)
                    self.registry.remove(self)  # a closed socket no longer counts against the limit
                    return
                await self.conn.send(item)
                self._last_frame = self.clock()
            except ConnectionClosed:
                return

    async def _watch(self) -> None:
        f, limits = self.faults, self.limits
        deadlines: list[tuple[float, str]] = []
        if f.drop_after_seconds is not None:
            deadlines.append((self.started_at + f.drop_after_seconds, "drop"))
        if f.close_after_seconds is not None:
            deadlines.append((self.started_at + f.close_after_seconds, "close"))
        if limits.max_session_seconds is not None:
            deadlines.append((self.started_at + limits.max_session_seconds, "session"))
        while not self.closing:
            now = self.clock()
            due = [d for d in deadlines if d[0] <= now]
            if due:
                kind = min(due)[1]
                if kind == "drop":
                    logger.info("fault: dropping %s connection after %.2f s", self.provider, now - self.started_at)
                    await self.abort()
                elif kind == "close":
                    await self.close(f.close_code or 1011, "injected fault")
                else:
                    await self.fail(
                        f"maximum session duration of {limits.max_session_seconds:g} s reached; open a new connection",
                        code=LIMIT_CLOSE_CODES["max_session_seconds"],
                    )
                return
            idle = limits.idle_timeout
            if idle is not None and not self._busy and not self._out and now - self._last_frame > idle:
                await self.fail(f"no data for {idle:g} s (idle timeout); send audio (silence while muted) "
                                "or close the session when done", code=LIMIT_CLOSE_CODES["idle_timeout"])
                return
            nxt = min([d[0] for d in deadlines] + [now + 0.25]) - now
            await asyncio.sleep(max(0.01, min(nxt, 0.25)))

    def _start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop())
        self._watchdog = asyncio.create_task(self._watch())

    async def _finish(self) -> None:
        """Send what is queued, close 1000 if nobody closed, and stop the helper tasks."""
        if not self.closing:
            await self.close(1000, "")
        self._done.set()
        self._wake.set()
        if self._sender is not None:
            try:
                await asyncio.wait_for(self._sender, timeout=_CLOSE_TIMEOUT + 5 + (self.faults.latency or 0) * 2)
            except (TimeoutError, asyncio.CancelledError):
                self._sender.cancel()
            except ConnectionClosed:
                pass
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self.conn.state.name != "CLOSED":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.wait_closed(), timeout=_CLOSE_TIMEOUT)


class _HttpConnection(ServerConnection):
    """A server connection that also reads plain-HTTP requests with any method and a body.

    websockets parses bodiless GET requests only (what a WebSocket upgrade is). Until a request's
    head and body have arrived, this connection reads them itself: a bodiless GET (every upgrade)
    goes to websockets untouched; any other request keeps its method (`http_method`) and body
    (`http_body`), and websockets gets the same head as a bodiless GET, so that ``process_request``
    runs and answers it. Chunked bodies get 411, bodies over `MAX_HTTP_BODY` 413 (`http_error`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_method = "GET"
        self.http_body = b""
        self.http_error: int | None = None
        self.prepared: _Prepared | None = None  # what process_request accepted, for the handler
        self._pending: bytearray | None = bytearray()  # the request so far; None once handed on
        self._head = b""
        self._head_len = 0
        self._body_len = 0

    def data_received(self, data: bytes) -> None:
        if self._pending is None:
            super().data_received(data)
            return
        buf = self._pending
        buf += data
        if not self._head_len:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HTTP_HEAD:
                    self._hand_on(bytes(buf))  # websockets refuses it
                return
            if not self._read_head(bytes(buf[:end])):
                self._hand_on(bytes(buf))
                return
            self._head_len = end + 4
            if self.http_error is not None:
                self._hand_on(self._head)
                return
        if len(buf) - self._head_len >= self._body_len:
            self.http_body = bytes(buf[self._head_len : self._head_len + self._body_len])
            self._hand_on(self._head)

    def _read_head(self, head: bytes) -> bool:
        """Parse a request head; False when websockets should get the request untouched."""
        line, _, rest = head.partition(b"\r\n")
        parts = line.split(b" ", 2)
        lines = rest.split(b"\r\n") if rest else []
        fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(b":") for h in lines)}
        length = fields.get(b"content-length", b"0") or b"0"
        chunked = b"transfer-encoding" in fields
        if len(parts) != 3 or (parts[0] == b"GET" and not chunked and length == b"0"):
            return False
        self.http_method = parts[0].decode("ascii", "replace").upper()
        dropped = (b"content-length", b"transfer-encoding", b"expect")
        kept = [h for h in lines if h.partition(b":")[0].strip().lower() not in dropped]
        self._head = b"\r\n".join([b"GET " + parts[1] + b" " + parts[2], *kept]) + b"\r\n\r\n"
        if chunked:
            self.http_error = 411
        elif not length.isdigit():
            self.http_error = 400
        elif int(length) > MAX_HTTP_BODY:
            self.http_error = 413
        else:
            self._body_len = int(length)
            if fields.get(b"expect", b"").lower() == b"100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return True

    def _hand_on(self, data: bytes) -> None:
        self._pending = None
        super().data_received(data)


def _is_upgrade(request: Request) -> bool:
    """Whether a request asks for a WebSocket upgrade (``Upgrade: websocket``, ``Connection: upgrade``)."""
    headers = request.headers
    upgrade = ",".join(headers.get_all("Upgrade")).lower()
    connection = ",".join(headers.get_all("Connection")).lower()
    return "websocket" in upgrade and "upgrade" in connection


def _credential_digest(request: UpgradeRequest) -> str | None:
    """A digest of the credential an upgrade presented (``Authorization`` value, or a key/token parameter).

    Sessions are counted per credential with it; the credential itself is not kept.
    """
    headers = {k.lower(): v for k, v in request.headers.items()}
    _, value = bearer_token(headers.get("authorization"))
    if not value:
        value = next((v for k, v in request.query.items() if k.lower() in SECRET_QUERY_PARAMS and v), None)
    if not value:
        return None
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _template(path: str) -> re.Pattern[str]:
    """A regular expression for a path with ``{name}`` segments (each matches one path segment)."""
    parts = re.split(r"\{(\w+)\}", path)
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class _Prepared:
    provider: Route
    config: Any
    request: UpgradeRequest
    faults: Faults


def _json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; ``body=None`` sends none (e.g. ``204``)."""
    hdrs = Headers()
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    for k, v in (headers or {}).items():
        if k.lower() != "content-type":
            hdrs[k] = v
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    hdrs["Content-Length"] = str(len(payload))
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Response(status, phrase, hdrs, payload)


class EmulatorServer:
    """An asyncio emulator server; run it with ``await server.start()`` / ``await server.stop()``.

    Most users want `voicelab.emulator.serve` (a background thread) or ``voicelab serve`` instead.

    Args:
        config: Address, key, engine, limits and faults.
        routes: The routes to host; defaults to every registered provider's emulator route.
        recognizer: A ready recognizer to share (skips loading ``config.engine``).
        clock: Monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        routes: list[Route] | None = None,
        recognizer: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self.registry = SessionRegistry(limit=config.concurrency_limit,
                                        per_credential=config.limits.max_sessions_per_credential, clock=clock)
        self.recognizer = recognizer
        self._owned_recognizer: Any | None = None  # loaded by this server with worker processes to stop
        self.engine_name: str | None = getattr(recognizer, "name", None)
        self._route_list = routes
        self._routes: dict[str, Route] = {}
        self._http: dict[str, dict[str, HttpEndpoint]] = {}
        self._http_templates: list[tuple[re.Pattern[str], str]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._server: Server | None = None
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._trim_handle: asyncio.TimerHandle | None = None
        self.host = config.host
        self.port = config.port

    def __repr__(self) -> str:
        return f"EmulatorServer(url={self.url!r}, engine={self.engine_name!r}, sessions={len(self.registry)})"

    @property
    def api_key(self) -> str:
        """The accepted API key."""
        return self.config.api_key

    @property
    def url(self) -> str:
        """Base WebSocket URL, e.g. ``ws://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    def url_for(self, provider: str, *, endpoint: str | None = None) -> str:
        """The WebSocket URL of a provider's endpoint on this server, with its required query.

        Args:
            provider: A registered provider name (``"pulse"``, ``"assemblyai-agent"``).
            endpoint: One of the provider's endpoint names; ``None`` for its default.

        Returns:
            E.g. ``ws://127.0.0.1:54321/waves/v1/stt/live?model=pulse``.
        """
        from voicelab.providers import get_provider

        return get_provider(provider).url(self.url, endpoint=endpoint)

    def token_url_for(self, provider: str) -> str:
        """The HTTP URL of a provider's token endpoint on this server.

        Raises:
            ProviderError: The provider has no token endpoint.
        """
        from voicelab.providers import ProviderError, get_provider

        spec = get_provider(provider)
        if spec.token is None:
            raise ProviderError(f"{spec.name} has no token endpoint")
        return "http" + self.url.removeprefix("ws") + spec.token.path

    def banner(self, *, key_note: str) -> str:
        """The start-up text: one line per hosted provider, its token endpoint, and the key note."""
        from voicelab.providers import providers

        lines = [f"voicelab emulator ({self.engine_name} engine) listening on {self.url}"]
        for spec in providers():
            if not spec.emulator or (self._routes and not any(r.name == spec.name for r in self._routes.values())):
                continue
            line = f"  {spec.title}: {spec.url(self.url)}"
            if spec.token is not None:
                line += f"   tokens: {self.token_url_for(spec.name)}"
            lines.append(line)
        lines.append(f"  API key: {key_note}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- lifecycle

    def _load_recognizer(self) -> Any:
        from voicelab.emulator.recognizers import get_recognizer

        engine = self.config.engine
        options = dict(self.config.recognizer_options)
        try:
            if engine == "sphinx":  # its worker processes are this server's: stopped with it
                recognizer = get_recognizer(engine, cache=False, **sphinx_server_options(options))
            else:
                recognizer = get_recognizer(engine, **options)
        except ImportError as exc:  # EngineUnavailableError and friends
            if engine != "whisper":
                raise
            logger.warning("whisper engine unavailable (%s); falling back to sphinx", exc)
            recognizer = get_recognizer("sphinx", cache=False, **sphinx_server_options({}))
        if getattr(recognizer, "processes", 0):
            self._owned_recognizer = recognizer
        warm_up = getattr(recognizer, "warm_up", None)
        if callable(warm_up):  # sphinx: start worker processes and build decoders before the first session
            warm_up()
        warm = getattr(recognizer, "transcribe", None)
        if callable(warm):  # the first whisper decode is slow; pay it before the first session
            import numpy as np

            warm(np.zeros(8000, dtype=np.float32))
        return recognizer

    async def start(self) -> None:
        """Load the engine, bind the socket and start serving.

        Raises:
            ServerStartError: The port cannot be bound, the engine cannot load, or a route option is bad.
        """
        if self._route_list is None:
            from voicelab.providers import providers

            self._route_list = [spec.load_emulator_route() for spec in providers() if spec.emulator]
        self._check_route_options(self._route_list)
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.engine_threads, thread_name_prefix="voicelab-engine"
        )
        if self.recognizer is None:
            try:
                self.recognizer = await loop.run_in_executor(self._executor, self._load_recognizer)
            except Exception as exc:
                self._executor.shutdown(wait=False)
                raise ServerStartError(
                    f"the {self.config.engine!r} engine could not load: {exc}. "
                    + ("Try engine='sphinx'." if self.config.engine != "sphinx" else
                       "Install the emulator extra: pip install 'voicelab[emulator]'.")
                ) from exc
            self.engine_name = getattr(self.recognizer, "name", self.config.engine)
            if self.engine_name != self.config.engine:
                logger.warning("engine %r requested, %r in use", self.config.engine, self.engine_name)
        for route in self._route_list:
            for path in route.paths:
                self._routes[path] = route
            for path, endpoints in route.http.items():
                self._http[path] = {"GET": endpoints} if callable(endpoints) else dict(endpoints)
                if "{" in path:
                    self._http_templates.append((_template(path), path))
        try:
            self._server = await serve(
                self._handle,
                self.config.host,
                self.config.port,
                process_request=self._process_request,
                create_connection=_HttpConnection,
                max_size=_HARD_MAX_SIZE,
                close_timeout=_CLOSE_TIMEOUT,
                ping_interval=20,
                ping_timeout=20,
                # websockets logs request lines and headers at DEBUG (``Authorization: Bearer …``, ``?token=…``)
                logger=redacting_logger("voicelab.emulator.websockets"),
            )
        except OSError as exc:
            self._executor.shutdown(wait=False)
            raise ServerStartError(
                f"cannot listen on {self.config.host}:{self.config.port} ({exc}); "
                "choose another --port, or 0 for any free port"
            ) from exc
        sockname = next(iter(self._server.sockets)).getsockname()
        self.host, self.port = str(sockname[0]), int(sockname[1])
        logger.info("emulator listening on %s (engine %s)", self.url, self.engine_name)

    def _check_route_options(self, routes: list[Route]) -> None:
        """Check `ServerConfig.route_options` against the routes (each checks its own options)."""
        names = {route.name: route for route in routes}
        for name, options in self.config.route_options.items():
            route = names.get(name)
            if route is None:
                raise ServerStartError(
                    f"route_options names {name!r}, which this server does not host; routes: {', '.join(names)}")
            if route.check_options is None:
                if options:
                    raise ServerStartError(f"the {name!r} route takes no options, got {dict(options)!r}")
                continue
            try:
                route.check_options(options)
            except ValueError as exc:
                raise ServerStartError(f"route_options[{name!r}]: {exc}") from exc

    async def stop(self) -> None:
        """Close every session (close frame 1001), stop listening and release the thread pool."""
        for ctx in self.registry.contexts():
            await ctx.close(1001, "server shutting down")
        if self._handler_tasks:
            await asyncio.wait(list(self._handler_tasks), timeout=_CLOSE_TIMEOUT + 3)
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
            self._server = None
        if self._trim_handle is not None:
            self._trim_handle.cancel()
            self._trim_handle = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._owned_recognizer is not None:
            self._owned_recognizer.close()  # stops the sphinx worker processes (about 0.3 s)
            self._owned_recognizer = None
            self.recognizer = None

    async def run_engine(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the engine thread pool."""
        loop = asyncio.get_running_loop()
        if kwargs:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        return await loop.run_in_executor(self._executor, fn, *args)

    # ----------------------------------------------------------------- HTTP stage

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        rid = str(uuid.uuid4())
        split = urlsplit(request.path)
        route = split.path.rstrip("/") or "/"
        query = parse_query(split.query)
        spec = query.pop(FAULT_QUERY_PARAM, None)
        try:
            faults = self.config.faults.merged(parse_faults(spec) if spec else None)
        except FaultSpecError as exc:
            return _json_response(400, {"error": str(exc), "request_id": rid})
        safe = redact_url(request.path)
        method = getattr(conn, "http_method", "GET")
        refused = getattr(conn, "http_error", None)
        if refused is not None:
            logger.info("%s %s -> %d", method, route, refused)
            text = {411: "send the body with a Content-Length (no chunked encoding)",
                    413: f"request body over {MAX_HTTP_BODY} bytes"}.get(refused, "bad Content-Length")
            return _json_response(refused, {"error": text, "request_id": rid})
        found = self._http_endpoints(route)
        if found is not None:
            endpoints, params = found
            endpoint = endpoints.get(method) or (endpoints.get("GET") if method == "HEAD" else None)
            if endpoint is None:
                logger.info("%s %s -> 405", method, route)
                return _json_response(
                    405,
                    {"error": f"{method} is not allowed on {route}", "request_id": rid},
                    {"Allow": ", ".join(sorted(endpoints))},
                )
            view = HttpRequestView(path=route, query=query, headers=dict(request.headers.raw_items()), faults=faults,
                                   now=self.clock(), server=self, method=method,
                                   body=getattr(conn, "http_body", b""), params=params)
            status, body = endpoint(view)
            logger.info("%s %s -> %d", method, route, status)
            return _json_response(status, body)
        if method != "GET":  # WebSocket paths take GET upgrades only
            status = 405 if route in self._routes else 404
            logger.info("%s %s -> %d", method, safe, status)
            text = f"{method} is not allowed on {route}" if status == 405 else f"Not found: {route}"
            return _json_response(status, {"error": text, "request_id": rid}, {"Allow": "GET"} if status == 405 else {})
        if route == "/" and "upgrade" not in request.headers.get("Connection", "").lower():
            return _json_response(
                200,
                {
                    "service": "voicelab emulator",
                    "engine": self.engine_name,
                    "routes": sorted(self._routes) + sorted(self._http),
                    "sessions": len(self.registry),
                },
            )
        provider = self._routes.get(route)
        if provider is None:
            logger.info("upgrade %s -> 404", safe)
            return _json_response(404, {"error": f"Not found: {route}", "request_id": rid}, {"x-request-id": rid})
        if not _is_upgrade(request):  # a plain GET: answered here, before any credential is checked or used
            logger.info("GET %s without an upgrade -> 426", safe)
            return _json_response(
                426,
                {"error": f"{route} is a WebSocket endpoint: connect with a WebSocket client (ws:// or wss://), "
                          "not a plain HTTP request", "request_id": rid},
                {"Upgrade": "websocket", "Connection": "Upgrade", "x-request-id": rid},
            )
        if faults.reject is not None:
            headers = {"x-request-id": rid}
            retry = faults.retry_after
            if retry is None and faults.reject in (429, 503):
                retry = 1.0
            if retry is not None:
                headers["Retry-After"] = f"{retry:g}"
            logger.info("fault: rejecting upgrade %s with %d", safe, faults.reject)
            return _json_response(faults.reject, provider.rejection_body(faults.reject, rid), headers)
        upgrade = UpgradeRequest(
            route=route,
            query=query,
            headers=dict(request.headers.raw_items()),
            request_id=rid,
            now=self.clock(),
            server=self,
        )
        result = provider.accept(upgrade)
        if isinstance(result, HandshakeRejection):
            logger.info("upgrade %s -> %d", safe, result.status)
            return _json_response(result.status, result.body, result.headers)
        # kept on the connection, not in a table of the server's: it goes with the connection, whatever
        # websockets does with the request after this
        if isinstance(conn, _HttpConnection):
            conn.prepared = _Prepared(provider=provider, config=result, request=upgrade, faults=faults)
        logger.debug("upgrade %s accepted", safe)
        return None

    def _http_endpoints(self, route: str) -> tuple[dict[str, HttpEndpoint], dict[str, str]] | None:
        """The plain-HTTP endpoints serving ``route`` by method, and its ``{name}`` values."""
        exact = self._http.get(route)
        if exact is not None:
            return exact, {}
        for pattern, path in self._http_templates:
            m = pattern.match(route)
            if m is not None:
                return self._http[path], m.groupdict()
        return None

    # ----------------------------------------------------------------- WebSocket stage

    async def _handle(self, conn: ServerConnection) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handler_tasks.add(task)
        try:
            await self._handle_prepared(conn)
        finally:
            if task is not None:
                self._handler_tasks.discard(task)

    async def _handle_prepared(self, conn: ServerConnection) -> None:
        prepared = conn.prepared if isinstance(conn, _HttpConnection) else None
        if isinstance(conn, _HttpConnection):
            conn.prepared = None
        if prepared is None:  # cannot happen: process_request prepares every accepted upgrade
            await conn.close(1011, "internal error")
            return
        provider = prepared.provider
        ctx = ConnectionContext(
            conn=conn,
            provider=provider,
            config=prepared.config,
            request=prepared.request,
            faults=prepared.faults,
            server=self,
        )
        ctx._start()
        if not self.registry.try_add(ctx):
            logger.info("%s connection over the concurrency limit of %s", provider.name, self.registry.limit)
            if provider.over_capacity is not None:
                await provider.over_capacity(ctx)
            await ctx.close(1008, "concurrency limit reached")
            await ctx._finish()
            return
        if self.registry.credential_full(ctx):
            limit = self.registry.per_credential
            logger.info("%s connection over the limit of %s sessions per credential", provider.name, limit)
            await ctx.fail(f"this credential already holds {limit} open sessions (the emulator's "
                           "max_sessions_per_credential); close one first, or use another token",
                           code=LIMIT_CLOSE_CODES["max_sessions_per_credential"])
            self.registry.handled(ctx)
            await ctx._finish()
            return
        try:
            await provider.handle(conn, ctx)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("%s handler failed (session %s)", provider.name, ctx.session_id)
            await ctx.fail("internal emulator error; see the server log", code=1011)
        finally:
            self.registry.handled(ctx)
            await ctx._finish()
            self._schedule_trim()

    def _schedule_trim(self) -> None:
        """Give the memory freed by ended sessions back to the system, at most once per `TRIM_DELAY`.

        Recognizer streams allocate in the engine threads (a whisper stream's VAD is ~8-10 MB); glibc keeps
        what they free in per-thread arenas, so without this the process would stay at its peak after a
        burst of sessions (1000 connect/stream/close cycles left it ~170 MB up; trimmed, within a few MB).
        """
        if self._trim_handle is None and self._executor is not None:
            loop = asyncio.get_running_loop()
            self._trim_handle = loop.call_later(TRIM_DELAY, self._trim)

    def _trim(self) -> None:
        self._trim_handle = None
        if self._executor is not None:
            with contextlib.suppress(RuntimeError):  # the pool is shutting down
                asyncio.get_running_loop().run_in_executor(self._executor, _malloc_trim)
