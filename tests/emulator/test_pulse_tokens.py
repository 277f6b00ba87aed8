"""Smallest access tokens (``POST /waves/v1/auth/token``) in the emulator and in voicelab's client.

The vendor's documentation of the endpoint, generated from its OpenAPI spec:
https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
import websockets
from websockets.exceptions import InvalidStatus

import voicelab as vl
import voicelab.emulator as emulator
from tests.emulator.urls import pulse_url
from voicelab.client import AuthenticationError, RetryPolicy
from voicelab.protocols.events import Final

from .conftest import pcm16, run, silence, stream_pulse


@pytest.fixture(scope="module")
def server():
    with emulator.serve(engine="sphinx", announce=False, recognizer_options={"processes": 0, "warm": 2}) as s:
        yield s


def _mint(server: Any, body: bytes | None = b'{"ttl_seconds": 60}', *, key: str | None = None,
          method: str = "POST", fault: str = "") -> tuple[int, dict]:
    """Call the token endpoint as the vendor's curl example does."""
    url = server.token_url_for("pulse") + (f"?vl_fault={fault}" if fault else "")
    headers = {"Content-Type": "application/json"}
    if key != "":
        headers["Authorization"] = f"Bearer {key or server.api_key}"
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


async def _status(url: str, headers: dict[str, str]) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, additional_headers=headers):
            pass
    return info.value.response.status_code


def test_token_endpoint_mints_wat_tokens(server):
    """``POST /waves/v1/auth/token {"ttl_seconds": N}`` → ``access_token`` (``wat_…``), ``token_type``,
    ``expires_in``, ``expires_at``; 400 outside 30-900, 401 without a key, 403 for a token, POST only.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.AuthClient.CreateAccessToken.g.cs
    """
    status, body = _mint(server)
    assert status == 200 and set(body) == {"access_token", "token_type", "expires_in", "expires_at"}
    assert body["access_token"].startswith("wat_") and body["token_type"] == "Bearer" and body["expires_in"] == 60
    assert body["expires_at"].endswith("Z")
    assert _mint(server, b"{}")[1]["expires_in"] == 300
    assert _mint(server, b'{"ttl_seconds": 10}')[0] == 400
    assert _mint(server, key="") == (401, {"message": "Unauthorized: No tokens provided"})
    assert _mint(server, key="sk_wrong")[0] == 401
    assert _mint(server, key=body["access_token"])[0] == 403
    assert _mint(server, None, method="GET")[0] == 405


def test_access_token_opens_live_as_bearer_or_api_key(server):
    """A token works, any number of times, as ``Authorization: Bearer`` or ``?api_key=`` on ``/waves/v1/stt/live``.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    """
    token = _mint(server)[1]["access_token"]
    pcm, _ = pcm16("speech/s06_short_16k.flac")
    for _ in range(2):
        res = run(stream_pulse(pulse_url(server), pcm[: 16000 * 2], api_key=token, speed=8))
        assert res.close_code == 1000 and res.finals[-1]["is_last"]
    res = run(stream_pulse(pulse_url(server) + f"&api_key={token}", silence(0.3), api_key="", headers={}))
    assert res.close_code == 1000


def test_access_token_refused_on_legacy_path_and_in_token_param(server):
    """Tokens are not accepted on ``/waves/v1/pulse/get_text`` (403), nor in ``?token=`` (401, [INF]).

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    ("Treat any route not listed as unavailable to tokens").
    """
    token = _mint(server)[1]["access_token"]
    assert run(_status(f"{server.url}/waves/v1/pulse/get_text", {"Authorization": f"Bearer {token}"})) == 403
    assert run(_status(f"{server.url}/waves/v1/pulse/get_text?api_key={token}", {})) == 403
    assert run(_status(pulse_url(server) + f"&token={token}", {})) == 401
    assert run(_status(pulse_url(server), {"Authorization": "Bearer wat_never_minted"})) == 401


def test_expired_access_token_is_refused(server):
    """A token stops working when it expires (the ``token_ttl`` fault shortens its life to 0.2 s).

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    """
    status, body = _mint(server, fault="token_ttl:0.2")
    assert status == 200 and body["expires_in"] == 60
    time.sleep(0.3)
    assert run(_status(pulse_url(server), {"Authorization": f"Bearer {body['access_token']}"})) == 401


# --------------------------------------------------------------------------- voicelab's client


def test_stream_with_use_token_mints_and_connects(server):
    """``vl.stream(provider="pulse", use_token=True)`` mints a token per connection and streams with it.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    """
    audio = np.zeros(16000, np.float32)
    session = vl.stream(audio, samplerate=16000, provider="pulse", url=server.url, api_key=server.api_key,
                        use_token=True, speed=None)
    session.wait(60)
    assert [ev for _, ev in session.events if isinstance(ev, Final)][-1].is_last


def test_stream_with_use_token_sends_the_token_not_the_key():
    """With ``use_token=True`` the upgrade carries the minted token: an expired one is refused (401).

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    """
    with emulator.serve(engine="sphinx", announce=False, faults="token_ttl:0.001",
                        recognizer_options={"processes": 0, "warm": 1}) as s:
        session = vl.stream(np.zeros(1600, np.float32), samplerate=16000, provider="pulse", url=s.url,
                            api_key=s.api_key, use_token=True, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(AuthenticationError) as info:
            session.wait(30)
        assert info.value.status == 401


class _Capture(BaseHTTPRequestHandler):
    """Records the token request and answers it as the vendor does; refuses the WebSocket upgrade."""

    protocol_version = "HTTP/1.1"  # websockets reads HTTP/1.1 answers only
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(("POST", self.path, dict(self.headers), body))
        payload = json.dumps({"access_token": "wat_captured", "token_type": "Bearer", "expires_in": 300,
                              "expires_at": "2026-11-30T12:05:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server signature
        pass


def test_use_token_posts_the_documented_json_body():
    """voicelab's client mints with ``POST /waves/v1/auth/token``, Bearer key, JSON ``{"ttl_seconds": 300}``.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    (``curl -X POST … -H "Content-Type: application/json" -d '{"ttl_seconds": 300}'``).
    """
    _Capture.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        session = vl.stream(np.zeros(1600, np.float32), samplerate=16000, provider="pulse",
                            url=f"ws://127.0.0.1:{httpd.server_address[1]}", api_key="sk_capture",
                            use_token=True, retry=RetryPolicy(max_attempts=1))
        with pytest.raises(vl.VoicelabError):
            session.wait(30)
    finally:
        httpd.shutdown()
        thread.join(5)
    method, path, headers, body = _Capture.seen[0]
    assert (method, path) == ("POST", "/waves/v1/auth/token")
    assert headers["Authorization"] == "Bearer sk_capture"
    assert json.loads(body) == {"ttl_seconds": 300}
    assert headers["Content-Type"] == "application/json"
