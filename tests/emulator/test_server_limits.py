"""The emulator's limits against churn and idle clients: live sessions only, idle timeout, per-credential cap.

Every limit's default and close code is listed in docs/emulator.md ("Limits"); each test here drives one with
plain ``websockets`` clients.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import json
import urllib.request
from pathlib import Path

import pytest
import websockets

import voicelab.emulator as emulator
from tests.emulator.urls import agent_url, pulse_url, token_url
from voicelab.emulator.config import DEFAULT_IDLE_TIMEOUT, DEFAULT_SESSIONS_PER_CREDENTIAL, LIMIT_CLOSE_CODES
from voicelab.providers import get_provider
from voicelab.providers.pulse import tokens as pulse_tokens

from .conftest import drain, pcm16, run

LIGHT = {"engine": "sphinx", "announce": False, "recognizer_options": {"processes": 0, "warm": 1}}


def _bearer(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def test_defaults_and_codes_are_documented():
    limits = emulator.Limits()
    assert limits.idle_timeout == DEFAULT_IDLE_TIMEOUT == 60.0
    assert limits.max_sessions_per_credential == DEFAULT_SESSIONS_PER_CREDENTIAL == 50
    assert LIMIT_CLOSE_CODES == {"max_frame_bytes": 1009, "max_messages_per_second": 4001,
                                 "max_session_seconds": 4002, "idle_timeout": 4003,
                                 "max_sessions_per_credential": 4004}
    with pytest.raises(emulator.ServerConfigError, match="max_sessions_per_credential=0"):
        emulator.Limits(max_sessions_per_credential=0)
    with pytest.raises(emulator.ServerConfigError, match="max_sessions_per_credential=2.5"):
        emulator.Limits(max_sessions_per_credential=2.5)  # type: ignore[arg-type]
    text = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text(encoding="utf-8")
    for name, code in LIMIT_CLOSE_CODES.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None and str(code) in row, f"docs/emulator.md has no row for {name} with {code}"
    for provider in ("pulse", "assemblyai-agent"):
        explain = get_provider(provider).explain_close
        assert "per credential" in str(explain(4004)) and "60 s" in str(explain(4003))


def test_a_closed_socket_stops_counting_at_once():
    """concurrency_limit=1 and 60 quick connect/close cycles: a handler still winding down never refuses the next."""
    with emulator.serve(concurrency_limit=1, **LIGHT) as server:
        async def go() -> list[int | None]:
            codes = []
            for i in range(60):
                async with websockets.connect(pulse_url(server), additional_headers=_bearer(server)) as ws:
                    if i % 2:
                        await ws.send(bytes(3200))  # half of them open a recognizer stream
                codes.append(ws.close_code)
            return codes

        codes = run(go())
    assert codes.count(1008) == 0 and set(codes) == {1000}, codes


def test_idle_client_is_closed_4003_but_a_busy_engine_is_not_idle():
    limits = emulator.Limits(idle_timeout=0.5)
    with emulator.serve(limits=limits, faults="slowdown:3", **LIGHT) as server:
        pcm, _ = pcm16("speech/s01_fox_16k.flac")

        async def silent() -> tuple[list, int | None]:
            async with websockets.connect(pulse_url(server), additional_headers=_bearer(server)) as ws:
                return await drain(ws), ws.close_code

        async def slow_final() -> tuple[list, int | None]:
            # 1.5 s of audio at once, then close_stream: the engine needs ~4.5 s (slowdown 3) and the client
            # says nothing meanwhile; the server owes it a final, so the idle timeout must not fire
            async with websockets.connect(pulse_url(server), additional_headers=_bearer(server)) as ws:
                for i in range(0, 48000, 4096):
                    await ws.send(pcm[i : i + 4096])
                await ws.send(json.dumps({"type": "close_stream"}))
                return await drain(ws), ws.close_code

        msgs, code = run(silent())
        assert code == 4003 and msgs[-1]["type"] == "error" and "idle" in msgs[-1]["message"]
        msgs, code = run(slow_final())
        assert code == 1000 and msgs[-1].get("is_last") is True, (code, msgs[-2:])


def test_one_credential_cannot_take_every_session():
    limits = emulator.Limits(max_sessions_per_credential=2)
    with emulator.serve(limits=limits, concurrency_limit=10, **LIGHT) as server:
        body = json.dumps({"ttl_seconds": 60}).encode()
        req = urllib.request.Request(server.token_url_for("pulse"), data=body, method="POST",
                                     headers={**_bearer(server), "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            access = json.loads(resp.read())["access_token"]
        assert pulse_tokens.is_access_token(access)

        async def go():
            url = pulse_url(server)
            a = await websockets.connect(url, additional_headers=_bearer(server))
            b = await websockets.connect(url + f"&token={server.api_key}")  # the same key in another form
            third = await websockets.connect(url, additional_headers=_bearer(server))
            refused = await drain(third)
            other = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {access}"})
            await other.send(bytes(3200))
            other_msg = json.loads(await asyncio.wait_for(other.recv(), 10))
            await a.close()
            again = await websockets.connect(url, additional_headers=_bearer(server))  # a slot is free again
            await again.send(bytes(3200))
            again_msg = json.loads(await asyncio.wait_for(again.recv(), 10))
            for ws in (b, other, again):
                await ws.close()
            return third.close_code, refused, other_msg, again_msg

        code, refused, other_msg, again_msg = run(go())
    assert code == 4004 and refused and refused[-1]["type"] == "error" and "per_credential" in refused[-1]["message"]
    assert server.api_key not in json.dumps(refused)
    assert other_msg["type"] == "transcription" and again_msg["type"] == "transcription"


def test_plain_http_get_on_a_websocket_path_keeps_nothing_and_uses_no_token():
    with emulator.serve(**LIGHT) as server:
        req = urllib.request.Request(f"{token_url(server)}?expires_in_seconds=60", headers=_bearer(server))
        with urllib.request.urlopen(req, timeout=10) as resp:
            token = json.loads(resp.read())["token"]
        host, port = server.host, server.port

        def plain_get(path: str, headers: dict[str, str]) -> tuple[int, dict]:
            c = http.client.HTTPConnection(host, port, timeout=10)
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            out = r.status, json.loads(r.read() or b"{}")
            c.close()
            return out

        def live_connections() -> int:
            gc.collect()
            return sum(1 for o in gc.get_objects() if issubclass(type(o), websockets.asyncio.server.ServerConnection))

        pulse_path = pulse_url(server).split(str(port), 1)[1]
        agent_path = agent_url(server).split(str(port), 1)[1]
        before = live_connections()
        for _ in range(100):
            status, body = plain_get(pulse_path, _bearer(server))
            assert status == 426 and "WebSocket endpoint" in body["error"], (status, body)
        status, _ = plain_get(f"{agent_path}?token={token}", {})
        assert status == 426
        assert live_connections() <= before + 1  # nothing kept per request (at most one still closing)

        async def redeem() -> str:
            async with websockets.connect(f"{agent_url(server)}?token={token}") as ws:
                await ws.send(json.dumps({"type": "session.update", "session": {}}))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if msg["type"] in ("session.ready", "session.error"):
                        return str(msg["type"])

        assert run(redeem()) == "session.ready"  # the single-use token was not spent by the plain GET
