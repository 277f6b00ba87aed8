"""The AssemblyAI route: token endpoint, handshake/auth and the minimal session hook."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
import websockets

from tests.emulator.urls import agent_url, token_url

from .conftest import drain, run


def _token(server, *, auth: str | None = None, query: str = "?expires_in_seconds=60") -> tuple[int, dict]:
    headers = {"Authorization": auth if auth is not None else f"Bearer {server.api_key}"}
    req = urllib.request.Request(token_url(server) + query, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_token_endpoint(sphinx_server):
    status, body = _token(sphinx_server)
    assert status == 200 and body["expires_in_seconds"] == 60 and body["token"]
    assert _token(sphinx_server, auth=sphinx_server.api_key)[0] == 200  # raw key accepted too
    assert _token(sphinx_server, auth="Bearer nope")[0] == 401
    assert _token(sphinx_server, query="")[0] == 400
    assert _token(sphinx_server, query="?expires_in_seconds=9999")[0] == 400


async def _session(url: str, headers: dict[str, str] | None, events: list[dict]) -> tuple[list, int | None]:
    async with websockets.connect(url, additional_headers=headers or {}) as ws:
        for e in events:
            await ws.send(json.dumps(e))
        return await drain(ws), ws.close_code


def test_update_ready_audio_end(sphinx_server):
    audio = base64.b64encode(bytes(4800)).decode()
    msgs, code = run(
        _session(
            agent_url(sphinx_server),
            {"Authorization": f"Bearer {sphinx_server.api_key}"},
            [
                {"type": "session.update", "session": {"system_prompt": "Be brief.", "greeting": "Hi"}},
                {"type": "input.audio", "audio": audio},
                {"type": "session.update", "session": {"system_prompt": "Be briefer."}},
                {"type": "session.update", "session": {"greeting": "Hello"}},
                {"type": "session.end"},
            ],
        )
    )
    kinds = [m["type"] for m in msgs]
    assert kinds == ["session.ready", "session.updated", "session.error", "session.ended"]
    assert msgs[0]["session_id"].startswith("sess_") and len(msgs[0]["session_id"]) == 37
    assert msgs[2]["code"] == "immutable_field"
    assert msgs[3]["audio_duration_seconds"] == pytest.approx(0.1)
    assert code == 1000


def test_single_use_token(sphinx_server):
    _, body = _token(sphinx_server)
    url = f"{agent_url(sphinx_server)}?token={body['token']}"
    msgs, code = run(_session(url, None, [{"type": "session.update", "session": {}}, {"type": "session.end"}]))
    assert msgs[0]["type"] == "session.ready" and code == 1000
    msgs, code = run(_session(url, None, []))
    assert msgs[0]["type"] == "session.error" and msgs[0]["code"] == "UNAUTHORIZED" and code == 1008


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"}])
def test_bad_auth_is_session_error_then_1008(sphinx_server, headers):
    msgs, code = run(_session(agent_url(sphinx_server), headers, []))
    assert msgs == [msgs[0]] and msgs[0]["type"] == "session.error" and msgs[0]["code"] == "UNAUTHORIZED"
    assert code == 1008


def test_audio_before_ready_is_invalid_format(sphinx_server):
    audio = base64.b64encode(bytes(480)).decode()
    msgs, code = run(
        _session(
            agent_url(sphinx_server),
            {"Authorization": f"Bearer {sphinx_server.api_key}"},
            [
                {"type": "input.audio", "audio": audio},
                {"type": "session.update", "session": {}},
                {"type": "session.end"},
            ],
        )
    )
    assert [m.get("code", m["type"]) for m in msgs] == ["invalid_format", "session.ready", "session.ended"]
