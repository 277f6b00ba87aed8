"""`TapServer`: the asyncio proxy between an app and the API (or the emulator); it only moves bytes.

For each upgrade request the tap first opens the upstream connection (in ``process_request``), so a
refusal goes back to the app exactly as it came (status, headers, body) and the app's 101 carries the
subprotocol the upstream chose. Then one task per direction forwards every message unchanged (same
text or binary type, same order) and records it; a close (code and reason) or a dropped TCP connection
on one side is passed on to the other. Decisions (URLs, headers, which frames are audio) come from
`voicelab.proxy.wire`; faults are the emulator's (`voicelab.emulator.faults`).

The per-frame path is kept lean (benchmarks/tap.py measures it): no permessage-deflate on either side
(compression is per hop, so the messages are unchanged; it would cost a zlib pass per frame each way), a
frame goes out through websockets' synchronous write when the connection is not backed up
(`voicelab.client.fastsend.send_now`, the client's helper; flow control and errors otherwise take
``await send``), and the Recording gets an audio frame as `Recording.chunk` with plain numbers and a
provider message through `Recording.message_in` (kept as sent, not turned into events); provider events are
parsed only when someone reads them (`Recording.events`) or watches the session live. Nothing is logged or
formatted per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.http11 import Request, Response

from voicelab.client.fastsend import send_now
from voicelab.emulator.errors import FaultSpecError
from voicelab.emulator.faults import Faults, FaultState, parse_faults
from voicelab.errors import VoicelabError
from voicelab.protocols.redaction import redact, redact_url, redacting_logger
from voicelab.providers.spec import ProviderSpec
from voicelab.proxy.errors import TapStartError
from voicelab.proxy.session import TapSession
from voicelab.proxy.wire import HOP_HEADERS, AudioMeter, Injection, UpstreamPlan, plan_upstream
from voicelab.recording.log import Recording

__all__ = ["EMULATOR_ONLY_FAULTS", "TapServer", "check_faults"]

log = logging.getLogger("voicelab.proxy")

#: Seconds a close handshake may take on either side before the TCP connection is dropped.
CLOSE_TIMEOUT_S = 5.0
#: Faults of the emulator's recognizer and token endpoint, which a proxy cannot apply to a real service.
EMULATOR_ONLY_FAULTS = ("slowdown", "token_ttl")
#: The invalid text frame of the ``malformed`` fault (the emulator's).
MALFORMED_FRAME = '{"type":"transcription","transcript":"trunc'
#: Response headers of a refused upgrade that belong to the hop (recomputed or dropped by the tap).
_REFUSAL_HOP = frozenset({"transfer-encoding", "content-length", "connection", "keep-alive"})


def check_faults(faults: Faults) -> Faults:
    """Refuse the emulator-only faults (a proxy cannot slow a real recognizer or expire its tokens).

    Raises:
        FaultSpecError: ``slowdown`` or ``token_ttl`` is set.
    """
    bad = [name for name in EMULATOR_ONLY_FAULTS if getattr(faults, name) is not None]
    if bad:
        raise FaultSpecError(f"{', '.join(bad)} act inside the emulator and cannot be applied by the tap; use "
                             "latency:S (delay every server message) or run the emulator with --fault")
    return faults


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, separators=(",", ":")).encode()
    hdrs = Headers({"Content-Type": "application/json", "Content-Length": str(len(payload)), **(headers or {})})
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Response(status, phrase, hdrs, payload)


async def _close(conn: ClientConnection | ServerConnection, code: int | None, reason: str) -> None:
    """Close ``conn`` as the other side was closed.

    The same code and reason; an empty close frame for 1005; a dropped TCP connection for 1006.
    """
    if code is None or code in (1006, 1015):
        conn.transport.abort()
        return
    with contextlib.suppress(ConnectionClosed, OSError):
        if code == 1005:
            await conn.close(None, "")  # type: ignore[arg-type]  # websockets sends an empty close frame
        else:
            await conn.close(code, reason)


def _received_close(conn: ClientConnection | ServerConnection) -> tuple[int, str]:
    """The close code and reason ``conn``'s peer sent (1006 and "" when no close frame came)."""
    rcvd = conn.protocol.close_rcvd
    return (1006, "") if rcvd is None else (int(rcvd.code), rcvd.reason)


class _Link:
    """One app connection and its upstream connection, forwarded and recorded until either ends."""

    def __init__(self, *, up: ClientConnection, session: TapSession, meter: AudioMeter, faults: Faults) -> None:
        self.up = up
        self.app: ServerConnection | None = None
        self.session = session
        self.rec = session.recording
        self.meter = meter
        self.faults = faults
        self.state = FaultState(faults)
        self.delayed = any(getattr(faults, n) is not None for n in ("latency", "jitter", "drop_responses",
                                                                       "malformed"))
        self.end: tuple[int, str, str] | None = None  # (code, reason, by), set once by whoever ends first
        self.chunks = 0
        self._queue: deque[tuple[float, str | bytes]] = deque()
        self._wake = asyncio.Event()
        self._last_due = 0.0
        self._up_done = False

    # -- running ------------------------------------------------------------------------------------------
    async def run(self, app: ServerConnection) -> None:
        self.app = app
        helpers: list[asyncio.Task[None]] = []
        if self.delayed:
            helpers.append(asyncio.create_task(self._send_delayed(app)))
        if self.faults.drop_after_seconds is not None or self.faults.close_after_seconds is not None:
            helpers.append(asyncio.create_task(self._watch()))
        pumps = [asyncio.create_task(self._app_to_up(app)), asyncio.create_task(self._up_to_app(app, helpers))]
        try:
            await asyncio.gather(*pumps)
        finally:
            for task in [*pumps, *helpers]:
                if not task.done():
                    task.cancel()
            for task in [*pumps, *helpers]:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task
            code, reason, by = self.end or (1006, "", "tap")
            self.session.finish(code=code, reason=reason, by=by)

    async def stop(self, code: int, reason: str) -> None:
        """End both sides with ``code`` (the tap is stopping)."""
        if self.end is not None or self.app is None:
            return
        self.end = (code, reason, "tap")
        self.rec.log("note", text=f"the tap stopped: closing both sides with {code}")
        await asyncio.gather(_close(self.app, code, reason), _close(self.up, code, reason))

    async def _app_to_up(self, app: ServerConnection) -> None:
        up, rec, meter, f = self.up, self.rec, self.meter, self.faults
        while True:
            try:
                msg = await app.recv()
            except ConnectionClosed:
                break
            t = rec.now()
            nbytes = meter.audio_bytes(msg)
            if not send_now(up, msg):
                try:
                    await up.send(msg)
                except ConnectionClosed:
                    return  # the upstream closed: _up_to_app passes its close on
            if nbytes is not None:
                seq, start, end = meter.take(nbytes)
                rec.chunk(seq=seq, audio_start=start, audio_end=end, nbytes=nbytes, t=t)
                self.chunks += 1
                if f.drop_after_chunks is not None and self.chunks >= f.drop_after_chunks:
                    self._drop(f"after {self.chunks} audio frames")
                elif f.close_after_chunks is not None and self.chunks >= f.close_after_chunks:
                    await self._fault_close(f"after {self.chunks} audio frames")
            elif isinstance(msg, str):
                rec.message_out(msg, t=t)
                fmt = meter.declared_by(msg)
                if fmt is not None:
                    rec.log("note", text=f"the app declared its audio: {fmt.encoding} at {fmt.samplerate} Hz",
                            audio_format={"encoding": fmt.encoding, "samplerate": fmt.samplerate, "source": "message"})
            else:
                rec.log("send", t=t, binary_bytes=len(msg))
        if self.end is not None:
            return
        code, reason = _received_close(app)
        self.end = (code, reason, "app")
        await _close(up, code, reason)

    async def _up_to_app(self, app: ServerConnection, helpers: list[asyncio.Task[None]]) -> None:
        up, delayed, received = self.up, self.delayed, self._received
        while True:
            try:
                msg = await up.recv()
            except ConnectionClosed:
                break
            if delayed:
                self._enqueue(msg)
                continue
            if not send_now(app, msg):
                try:
                    await app.send(msg)
                except ConnectionClosed:
                    continue  # the app is gone; keep reading so the upstream's close handshake completes
            received(msg)
        self._up_done = True
        self._wake.set()
        if self.delayed and helpers:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(helpers[0])  # deliver what is still delayed before the close
        if self.end is not None:
            return
        code, reason = _received_close(up)
        self.end = (code, reason, "server")
        await _close(app, code, reason)

    def _received(self, msg: str | bytes) -> None:
        t = self.rec.now()
        self.rec.message_in(msg, t=t)
        if isinstance(msg, str) and self.session.watched:
            self.session.dispatch(t, msg)

    # -- faults -------------------------------------------------------------------------------------------
    def _push(self, item: str | bytes, delay: float) -> None:
        due = max(self._last_due, asyncio.get_running_loop().time() + delay)
        self._last_due = due
        self._queue.append((due, item))
        self._wake.set()

    def _enqueue(self, msg: str | bytes) -> None:
        st, f = self.state, self.faults
        st.sent += 1
        if f.malformed is not None and not st.malformed_sent and st.sent >= f.malformed:
            st.malformed_sent = True
            self.rec.log("note", text="tap fault: an invalid JSON frame goes to the app", fault="malformed")
            self._push(MALFORMED_FRAME, st.delay())
        if st.drop():
            self.rec.log("note", text="tap fault: a server message was dropped", fault="drop_responses")
            return
        self._push(msg, st.delay())

    async def _send_delayed(self, app: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self._up_done:
                    return
                self._wake.clear()
                await self._wake.wait()
            due, msg = self._queue[0]
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._queue.popleft()
            if not send_now(app, msg):
                try:
                    await app.send(msg)
                except ConnectionClosed:
                    self._queue.clear()
                    continue
            self._received(msg)

    async def _watch(self) -> None:
        f = self.faults
        deadlines = [(s, kind) for s, kind in ((f.drop_after_seconds, "drop"), (f.close_after_seconds, "close"))
                     if s is not None]
        seconds, kind = min(deadlines)
        await asyncio.sleep(seconds)
        if kind == "drop":
            self._drop(f"after {seconds:g} s")
        else:
            await self._fault_close(f"after {seconds:g} s")

    def _drop(self, why: str) -> None:
        if self.end is not None or self.app is None:
            return
        self.end = (1006, "", "tap")
        self.rec.log("note", text=f"tap fault: dropped the connection {why} (no close frame; the app sees 1006)",
                     fault="drop")
        log.info("tap fault: dropping session %d %s", self.session.number, why)
        self.app.transport.abort()
        self.up.transport.abort()

    async def _fault_close(self, why: str) -> None:
        if self.end is not None or self.app is None:
            return
        code = self.faults.close_code or 1011
        self.end = (code, "injected fault", "tap")
        self.rec.log("note", text=f"tap fault: closing the app's connection with {code} {why}", fault="close")
        log.info("tap fault: closing session %d with %d %s", self.session.number, code, why)
        await asyncio.gather(_close(self.app, code, "injected fault"),
                             _close(self.up, 1001, "voicelab tap: injected fault"))


class TapServer:
    """The tap's asyncio server; most users want `voicelab.tap` (a background thread) or ``voicelab tap``.

    Args:
        spec: The provider whose protocol the app speaks.
        upstream: The upstream URL (`voicelab.proxy.wire.upstream_base`).
        host: Interface to bind.
        port: TCP port (0: a free one).
        record: Where to write each session's Recording (a file name, numbered from the 2nd session on, or
            a directory); ``None`` keeps them in memory.
        injection: The key to add upstream (``inject_auth``), or ``None``.
        token: The local token an app must send as ``?vl_tap=`` (with ``inject_auth``), or ``None``.
        faults: Faults applied to every connection.
        secrets: Strings never to write (the injected key, the token).
        open_timeout: Seconds to wait for the upstream's answer to an upgrade.
        on_session: Called with each new `TapSession` (on the loop thread).
    """

    def __init__(self, *, spec: ProviderSpec, upstream: str, host: str, port: int, record: str | Path | None,
                 injection: Injection | None, token: str | None, faults: Faults, secrets: tuple[str, ...] = (),
                 open_timeout: float = 10.0, on_session: Callable[[TapSession], None] | None = None) -> None:
        self.spec = spec
        self.upstream = upstream
        self.host = host
        self.port = port
        self.record = Path(record) if record is not None else None
        self.injection = injection
        self.token = token
        self.faults = faults
        self.secrets = tuple(s for s in secrets if s)
        self.open_timeout = open_timeout
        self.sessions: list[TapSession] = []
        self._on_session = on_session
        self._links: dict[ServerConnection, _Link] = {}
        self._active: set[_Link] = set()
        self._server: Server | None = None
        self._route: Any = None

    def __repr__(self) -> str:
        return f"TapServer({self.spec.name}, upstream={redact_url(self.upstream)!r}, port={self.port})"

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and start accepting app connections.

        Raises:
            TapStartError: The address cannot be bound.
        """
        try:
            self._server = await serve(
                self._handle, self.host, self.port, process_request=self._process_request,
                process_response=self._process_response, select_subprotocol=self._select_subprotocol,
                server_header=None, compression=None, ping_interval=None, max_size=None,
                close_timeout=CLOSE_TIMEOUT_S, logger=redacting_logger("voicelab.proxy.websockets.server"))
        except OSError as exc:
            raise TapStartError(f"the tap cannot listen on {self.host}:{self.port}: {exc}; pick another port "
                                "(listen='127.0.0.1:0' picks a free one)") from exc
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        """Close every session on both sides (1001), stop listening."""
        await asyncio.gather(*(link.stop(1001, "voicelab tap stopped") for link in list(self._active)),
                             return_exceptions=True)
        for link in list(self._links.values()):
            link.up.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- the upgrade --------------------------------------------------------------------------------------
    def _record_path(self, number: int) -> Path | None:
        if self.record is None:
            return None
        if self.record.is_dir():
            return self.record / f"tap-{number:03d}.jsonl"
        return self.record if number == 1 else self.record.with_name(f"{self.record.stem}-{number}{self.record.suffix}")

    def _new_session(self, conn: ServerConnection, plan: UpstreamPlan, path: str) -> TapSession:
        secrets = tuple(dict.fromkeys((*plan.secrets, *self.secrets)))
        number = len(self.sessions) + 1
        rec = Recording(self._record_path(number), provider=self.spec.name, endpoint=redact(plan.url, secrets),
                        params=plan.query, secrets=secrets)
        peer = conn.remote_address
        client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        session = TapSession(number=number, spec=self.spec, recording=rec, client=client,
                             path=redact(path, secrets), secrets=secrets)
        self.sessions.append(session)
        if self._on_session is not None:
            self._on_session(session)
        return session

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        rid = str(uuid.uuid4())
        if "upgrade" not in request.headers.get("Connection", "").lower():
            return _json_response(426 if request.path.split("?")[0] not in ("", "/") else 200, {
                "service": "voicelab tap", "provider": self.spec.name, "upstream": redact_url(self.upstream),
                "sessions": len(self.sessions), "note": "the tap forwards WebSocket upgrades only"})
        plan = plan_upstream(request.path, list(request.headers.raw_items()), upstream=self.upstream,
                             injection=self.injection)
        if self.token is not None and not hmac.compare_digest((plan.token or "").encode(), self.token.encode()):
            log.warning("tap: refused an upgrade without the local token from %s", conn.remote_address)
            return _json_response(403, {"error": "voicelab tap: this tap adds an API key, so it only serves "
                                                 "connections that carry its local token; connect to the URL it "
                                                 "printed (…&vl_tap=…)", "request_id": rid})
        try:
            faults = check_faults(self.faults.merged(parse_faults(plan.fault_spec) if plan.fault_spec else None))
        except FaultSpecError as exc:
            return _json_response(400, {"error": f"voicelab tap: {exc}", "request_id": rid})
        path = redact_url(request.path.split("?")[0] + ("?" + "&".join(f"{k}={v}" for k, v in plan.query.items())
                                                          if plan.query else ""))
        session = self._new_session(conn, plan, path)
        rec = session.recording
        meter = AudioMeter(self.spec, plan.query)
        fmt = meter.format
        rec.log("note", text=f"voicelab tap: app {session.client} → {redact_url(plan.url)}", tap=True,
                client=session.client, user_agent=request.headers.get("User-Agent"),
                audio_format={"encoding": fmt.encoding, "samplerate": fmt.samplerate, "source": fmt.source})
        rec.log("connect", attempt=1, url=plan.url)
        if faults.reject is not None:
            return self._refuse_by_fault(session, faults, rid)
        try:
            up = await connect(
                plan.url, additional_headers=plan.headers, subprotocols=plan.subprotocols or None,  # type: ignore[arg-type]
                compression=None, user_agent_header=None,  # per hop; the messages are the same
                open_timeout=self.open_timeout, ping_interval=None, max_size=None, close_timeout=CLOSE_TIMEOUT_S,
                logger=redacting_logger("voicelab.proxy.websockets.client"))
        except InvalidStatus as exc:
            return self._refused_upstream(session, exc.response)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            message = redact(f"{type(exc).__name__}: {exc}", (*plan.secrets, *self.secrets))
            rec.log("handshake", ok=False, error=type(exc).__name__, message=message)
            session.status = 502
            session.finish(code=None, reason="", by="tap")
            return _json_response(502, {"error": f"voicelab tap: could not reach the upstream "
                                                 f"{redact_url(self.upstream)} ({message})", "request_id": rid},
                                  {"x-voicelab-tap": "upstream-unreachable"})
        session.status = 101
        rec.log("handshake", ok=True, status=101, audio_offset=0.0, resumed=False, resent_chunks=0)
        self._links[conn] = _Link(up=up, session=session, meter=meter, faults=faults)
        return None

    def _refuse_by_fault(self, session: TapSession, faults: Faults, rid: str) -> Response:
        status = int(faults.reject or 500)
        headers = {"x-request-id": rid}
        retry = faults.retry_after if faults.retry_after is not None else (1.0 if status in (429, 503) else None)
        if retry is not None:
            headers["Retry-After"] = f"{retry:g}"
        body = self._rejection_body(status, rid)
        session.recording.log("handshake", ok=False, status=status, body=json.dumps(body), retry_after=retry)
        session.recording.log("note", text=f"tap fault: refused the upgrade with HTTP {status}", fault="reject")
        session.status = status
        session.finish(code=None, reason="", by="tap")
        return _json_response(status, body, headers)

    def _rejection_body(self, status: int, rid: str) -> Any:
        """The provider's refusal body, from its emulator route when it has one."""
        if self._route is None and self.spec.emulator:
            with contextlib.suppress(VoicelabError, ImportError):
                self._route = self.spec.load_emulator_route()
        if self._route is not None:
            return self._route.rejection_body(status, rid)
        return {"error": http.HTTPStatus(status).phrase, "request_id": rid}

    def _refused_upstream(self, session: TapSession, response: Response) -> Response:
        body = bytes(response.body or b"")
        text = body.decode("utf-8", "replace")
        retry_after = response.headers.get("Retry-After")
        try:
            retry = max(0.0, float(retry_after)) if retry_after else None
        except ValueError:
            retry = None
        session.recording.log("handshake", ok=False, status=response.status_code, body=text[:2000], retry_after=retry)
        session.status = response.status_code
        session.finish(code=None, reason="", by="server")
        headers = Headers([(k, v) for k, v in response.headers.raw_items() if k.lower() not in _REFUSAL_HOP])
        headers["Content-Length"] = str(len(body))
        return Response(response.status_code, response.reason_phrase, headers, body)

    def _select_subprotocol(self, conn: ServerConnection, offered: Any) -> Any:
        link = self._links.get(conn)
        chosen = link.up.subprotocol if link is not None else None
        return chosen if chosen in offered else None

    def _process_response(self, conn: ServerConnection, request: Request, response: Response) -> None:
        link = self._links.get(conn)
        if link is None:
            return
        if response.status_code != 101:  # the tap could not accept the app (e.g. an extension it offered)
            self._links.pop(conn, None)
            link.up.transport.abort()
            link.session.recording.log("note", text=f"the tap refused the app's upgrade: HTTP {response.status_code}")
            link.session.finish(code=None, reason="", by="tap")
            return
        present = {k.lower() for k in response.headers}
        up_response = link.up.response
        if up_response is not None:
            for k, v in up_response.headers.raw_items():
                if k.lower() not in HOP_HEADERS and k.lower() not in present:
                    response.headers[k] = v

    async def _handle(self, conn: ServerConnection) -> None:
        link = self._links.pop(conn, None)
        if link is None:  # cannot happen: every accepted upgrade has a link
            await conn.close(1011, "voicelab tap: no upstream connection")
            return
        self._active.add(link)
        log.info("tap session %d: %s open", link.session.number, link.session.path)
        try:
            await link.run(conn)
        finally:
            self._active.discard(link)

