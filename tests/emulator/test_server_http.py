"""The emulator core's plain-HTTP endpoints: any method, JSON bodies, ``{name}`` path segments, no-body answers.

A route's ``http`` maps a path to one endpoint (GET) or to one endpoint per method; the server reads a request's
body itself (websockets parses only bodiless GETs). The route here is a bare test route, no provider.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

import voicelab.emulator as emulator
from voicelab.emulator.server import HttpRequestView, Route


def _echo(req: HttpRequestView) -> tuple[int, Any]:
    return 201, {"method": req.method, "body": req.json(), "params": dict(req.params), "query": dict(req.query)}


async def _no_session(conn: Any, ctx: Any) -> None:
    await ctx.close(1000)


ROUTE = Route(
    name="http-test",
    paths=("/t/ws",),
    accept=lambda upgrade: None,
    handle=_no_session,
    error_frame=lambda message: {"error": message},
    http={
        "/t/plain": lambda req: (200, {"method": req.method}),
        "/t/items": {"GET": lambda req: (200, []), "POST": _echo},
        "/t/items/{item_id}": {"PUT": _echo, "DELETE": lambda req: (204, None)},
    },
)


@pytest.fixture(scope="module")
def server():
    with emulator.serve(engine="sphinx", announce=False, routes=[ROUTE]) as running:
        yield running


def call(server: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        "http" + server.url.removeprefix("ws") + path, data=data, method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def raw(server: Any, request: bytes) -> bytes:
    """Send bytes on a plain TCP socket and read until the server closes."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_post_body_path_segments_and_query_reach_the_endpoint(server):
    status, _, body = call(server, "POST", "/t/items?x=1", {"name": "n" * 70000})
    assert status == 201 and json.loads(body) == {
        "method": "POST", "body": {"name": "n" * 70000}, "params": {}, "query": {"x": "1"}
    }
    status, _, body = call(server, "PUT", "/t/items/abc", {"k": 1})
    assert status == 201 and json.loads(body)["params"] == {"item_id": "abc"}
    assert call(server, "GET", "/t/items")[::2] == (200, b"[]")


def test_a_bare_endpoint_answers_get_only_and_other_methods_get_405(server):
    assert call(server, "GET", "/t/plain")[0] == 200
    status, headers, _ = call(server, "POST", "/t/plain", {})
    assert status == 405 and headers["Allow"] == "GET"
    status, headers, _ = call(server, "PATCH", "/t/items/abc", {})
    assert status == 405 and headers["Allow"] == "DELETE, PUT"
    assert call(server, "POST", "/t/ws", {})[0] == 405  # WebSocket paths take GET upgrades only
    assert call(server, "POST", "/nowhere", {})[0] == 404


def test_no_content_answer_has_no_body(server):
    status, headers, body = call(server, "DELETE", "/t/items/abc")
    assert status == 204 and body == b"" and "Content-Type" not in headers


def test_oversized_and_chunked_bodies_are_refused_and_expect_continue_is_answered(server):
    big = raw(server, b"POST /t/items HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 413 ")
    chunked = raw(server, b"POST /t/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 411 ")
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST /t/items HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"{}")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201 ") and answer.endswith(b'"body":{},"params":{},"query":{}}')
