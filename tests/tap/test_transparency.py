"""The tap forwards byte for byte: message types, content and order, the handshake, refusals and closes.

The upstream is a small scripted websockets server on 127.0.0.1 that reports exactly what reached it;
the app is a plain websockets client. Each test also checks the tap's Recording of the connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response

import voicelab as vl

MIX: list[str | bytes] = ["hello", b"\x00\x01\x02\xff" * 100, '{"type":"finalize"}', "héllo wörld ✓",
                          b"", "", bytes(range(256)) * 40, "last"]


class Upstream:
    """A scripted upstream: records requests and messages, then runs ``script(conn)``."""

    def __init__(self, script: Callable[[ServerConnection], Awaitable[None]] | None = None,
                 refuse: Response | None = None, subprotocols: list[str] | None = None) -> None:
        self.script = script
        self.refuse = refuse
        self.subprotocols = subprotocols
        self.paths: list[str] = []
        self.headers: list[Headers] = []
        self.received: list[str | bytes] = []
        self.close: tuple[int | None, str] | None = None
        self.closed = asyncio.Event()

    def process_request(self, conn: ServerConnection, request: Any) -> Response | None:
        self.paths.append(request.path)
        self.headers.append(request.headers)
        return self.refuse

    async def handler(self, conn: ServerConnection) -> None:
        try:
            if self.script is not None:
                await self.script(conn)
            else:
                async for msg in conn:  # echo, keeping the type
                    self.received.append(msg)
                    await conn.send(msg)
        except ConnectionClosed:
            pass
        await conn.wait_closed()
        rcvd = conn.protocol.close_rcvd
        self.close = (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "")
        self.closed.set()

    async def __aenter__(self) -> Upstream:
        self.server = await serve(self.handler, "127.0.0.1", 0, process_request=self.process_request,
                                  subprotocols=self.subprotocols, compression=None)  # type: ignore[arg-type]
        self.url = f"ws://127.0.0.1:{next(iter(self.server.sockets)).getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


def _tap(url: str, **kwargs: Any) -> Any:
    return vl.tap("pulse", url, announce=False, **kwargs)


def test_text_binary_and_order_pass_unchanged_both_ways():
    async def main() -> None:
        async with Upstream() as up:
            with _tap(up.url) as tap:
                async with websockets.connect(tap.url + "/waves/v1/stt/live?model=pulse") as ws:
                    got = []
                    for msg in MIX:
                        await ws.send(msg)
                    for _ in MIX:
                        got.append(await ws.recv())
                assert [type(m) for m in got] == [type(m) for m in MIX]
                assert got == MIX
                assert up.received == MIX
                await asyncio.wait_for(up.closed.wait(), 5)
                assert up.close == (1000, "")
                session = tap.session()
                assert session.wait(5)
                rec = session.recording
                binaries = [m for m in MIX if isinstance(m, bytes)]
                assert [c["bytes"] for c in rec.of("chunk")] == [len(m) for m in binaries]  # audio: binary frames
                assert [e.get("message") for e in rec.of("send")] == [
                    json.loads(m) if m.startswith("{") else m for m in MIX if isinstance(m, str)]
                assert len(rec.of("recv")) == len(MIX)
                assert (session.close_code, session.closed_by) == (1000, "app")

    asyncio.run(main())


def test_handshake_query_headers_and_subprotocol_pass_through_and_credentials_are_redacted():
    async def main() -> None:
        async with Upstream(subprotocols=["v2.voice"]) as up:
            with _tap(up.url) as tap:
                url = tap.url + "/waves/v1/stt/live?model=pulse&language=en&token=tok_query_secret&b=1&b=2"
                headers = {"Authorization": "Bearer sk_header_secret", "X-App": "demo", "User-Agent": "my-app/1.0"}
                async with websockets.connect(url, additional_headers=headers,
                                              subprotocols=["v1.voice", "v2.voice"]) as ws:  # type: ignore[list-item]
                    assert ws.subprotocol == "v2.voice"
                    await ws.send("ping")
                    assert await ws.recv() == "ping"
                assert up.paths == ["/waves/v1/stt/live?model=pulse&language=en&token=tok_query_secret&b=1&b=2"]
                seen = up.headers[0]
                assert seen["Authorization"] == "Bearer sk_header_secret"
                assert seen["X-App"] == "demo" and seen["User-Agent"] == "my-app/1.0"
                session = tap.session()
                session.wait(5)
                text = "\n".join(e.to_json() for e in session.recording.entries) + repr(session) + repr(tap)
                assert "tok_query_secret" not in text and "sk_header_secret" not in text
                assert session.recording.header["params"]["model"] == "pulse"

    asyncio.run(main())


def test_a_refused_upgrade_reaches_the_app_as_it_came():
    body = b'{"error":"Rate limit exceeded","request_id":"r-1"}'
    refusal = Response(429, "Too Many Requests",
                       Headers({"Content-Type": "application/json", "Retry-After": "7", "X-Request-Id": "r-1",
                                "Content-Length": str(len(body))}), body)

    async def main() -> None:
        async with Upstream(refuse=refusal) as up:
            with _tap(up.url) as tap:
                with pytest.raises(InvalidStatus) as info:
                    await websockets.connect(tap.url + "/waves/v1/stt/live?model=pulse")
                resp = info.value.response
                assert (resp.status_code, resp.reason_phrase, resp.body) == (429, "Too Many Requests", body)
                assert resp.headers["Retry-After"] == "7" and resp.headers["X-Request-Id"] == "r-1"
                session = tap.session()
                assert session.done and session.status == 429
                hs = session.recording.of("handshake")[0]
                assert (hs["ok"], hs["status"], hs["retry_after"]) == (False, 429, 7.0)
                assert "Rate limit" in hs["body"]

    asyncio.run(main())


@pytest.mark.parametrize("code,reason", [(4001, "bye from upstream"), (1011, "internal"), (1000, "")])
def test_an_upstream_close_code_and_reason_reach_the_app(code, reason):
    async def script(conn: ServerConnection) -> None:
        await conn.send("last words")
        await conn.close(code, reason)

    async def main() -> None:
        async with Upstream(script=script) as up:
            with _tap(up.url) as tap:
                async with websockets.connect(tap.url + "/x") as ws:
                    assert await ws.recv() == "last words"
                    with pytest.raises(ConnectionClosed):
                        await ws.recv()
                assert (ws.close_code, ws.close_reason) == (code, reason)
                session = tap.session()
                session.wait(5)
                assert (session.close_code, session.close_reason, session.closed_by) == (code, reason, "server")

    asyncio.run(main())


def test_an_app_close_code_and_reason_reach_the_upstream():
    async def main() -> None:
        async with Upstream() as up:
            with _tap(up.url) as tap:
                async with websockets.connect(tap.url + "/x") as ws:
                    await ws.send(b"\x01\x02")
                    await ws.recv()
                    await ws.close(4002, "app is done")
                await asyncio.wait_for(up.closed.wait(), 5)
                assert up.close == (4002, "app is done")
                session = tap.session()
                session.wait(5)
                assert (session.close_code, session.closed_by) == (4002, "app")

    asyncio.run(main())


def test_a_dropped_tcp_connection_is_passed_on_as_a_drop_both_ways():
    async def drop(conn: ServerConnection) -> None:
        await conn.recv()
        conn.transport.abort()

    async def main() -> None:
        async with Upstream(script=drop) as up:
            with _tap(up.url) as tap:
                async with websockets.connect(tap.url + "/x") as ws:
                    await ws.send("hi")
                    with pytest.raises(ConnectionClosed):
                        await ws.recv()
                assert ws.close_code == 1006  # no close frame, as from the upstream
                tap.session().wait(5)
                assert tap.session().close_code == 1006
        async with Upstream() as up:
            with _tap(up.url) as tap:
                ws = await websockets.connect(tap.url + "/x")
                await ws.send("hi")
                await ws.recv()
                ws.transport.abort()
                await asyncio.wait_for(up.closed.wait(), 5)
                assert up.close == (1006, "")

    asyncio.run(main())


def test_an_unreachable_upstream_is_a_502_naming_it():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        with _tap(f"ws://127.0.0.1:{port}") as tap:
            with pytest.raises(InvalidStatus) as info:
                await websockets.connect(tap.url + "/waves/v1/stt/live")
            assert info.value.response.status_code == 502
            assert f"127.0.0.1:{port}" in info.value.response.body.decode()
            assert tap.session().recording.of("handshake")[0]["ok"] is False

    asyncio.run(main())
