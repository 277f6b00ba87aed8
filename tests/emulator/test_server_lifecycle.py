"""Start/stop hygiene, the printed banner, the CLI parser and config validation."""

from __future__ import annotations

import asyncio
import json
import os
import threading

import pytest
import websockets

import voicelab.emulator as emulator
from tests.emulator.urls import pulse_url, token_url
from voicelab.emulator.cli import build_parser, route_options, serve_command
from voicelab.emulator.config import redact_key

from .conftest import drain, pcm16, run


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_clean_shutdown_closes_sessions_and_leaks_nothing(capsys):
    before_threads = {t.name for t in threading.enumerate()}
    before_fds = _fds()
    key = "sk_test_0123456789abcdef0123456789"
    with emulator.serve(engine="sphinx", api_key=key) as server:
        banner = capsys.readouterr().out
        assert server.url in banner and pulse_url(server) in banner and "server.api_key" in banner
        assert key not in banner and key not in repr(server) and redact_key(key) in banner
        assert server.host == "127.0.0.1" and server.port > 0
        assert token_url(server).startswith("http://127.0.0.1:")

        async def open_and_wait():
            async with websockets.connect(
                pulse_url(server), additional_headers={"Authorization": f"Bearer {key}"}
            ) as ws:
                pcm, _ = pcm16("speech/s01_fox_16k.flac")
                await ws.send(pcm[:8192])
                await asyncio.sleep(0.3)
                assert server.sessions == 1
                # close the server from another thread while the session is open
                await asyncio.get_running_loop().run_in_executor(None, server.close)
                return await drain(ws), ws.close_code, ws.close_reason

        msgs, code, reason = run(open_and_wait())
        assert code == 1001 and reason == "server shutting down"  # a close frame, not a drop
    leaked = {t.name for t in threading.enumerate()} - before_threads
    assert not leaked, leaked
    assert _fds() <= before_fds


def test_port_in_use_is_a_clear_error():
    with emulator.serve(engine="sphinx", announce=False) as server:
        with pytest.raises(emulator.ServerStartError, match="cannot listen"):
            emulator.serve(engine="sphinx", announce=False, port=server.port)


def test_config_validation():
    with pytest.raises(emulator.ServerConfigError, match="engine='vosk'"):
        emulator.serve(engine="vosk")
    with pytest.raises(emulator.ServerConfigError, match="concurrency_limit=0"):
        emulator.serve(concurrency_limit=0)
    with pytest.raises(emulator.ServerConfigError, match="max_frame_bytes"):
        emulator.Limits(max_frame_bytes=-1)
    assert emulator.Limits(max_frame_bytes=None).max_frame_bytes is None


def test_info_endpoint(sphinx_server):
    import urllib.request

    info = json.loads(urllib.request.urlopen(f"http://{sphinx_server.url[5:]}/", timeout=5).read())
    assert info["engine"] == "sphinx" and "/waves/v1/stt/live" in info["routes"]
    assert sphinx_server.api_key not in json.dumps(info)


def test_cli_parser_and_bad_fault(capsys):
    args = build_parser().parse_args(
        ["--port", "0", "--engine", "sphinx", "--concurrency", "3", "--fault", "reject:429", "--fault", "latency:1"]
    )
    assert (args.port, args.engine, args.concurrency, args.fault) == (0, "sphinx", 3, ["reject:429", "latency:1"])
    assert serve_command(["--port", "0", "--api-key", "k_123456789", "--fault", "explode:1"]) == 2
    err = capsys.readouterr().err
    assert "unknown fault 'explode'" in err and "k_123456789" not in err
    args = build_parser().parse_args(["--route-option", "pulse:region=us", "--route-option", "pulse:x=1"])
    assert route_options(args.route_option) == {"pulse": {"region": "us", "x": "1"}}
    assert serve_command(["--port", "0", "--route-option", "region=us"]) == 2
    assert "PROVIDER:KEY=VALUE" in capsys.readouterr().err


def test_a_dropped_connection_holds_its_session_until_its_handler_returns():
    """The socket leaves the active count at once; resume must still wait for the handler to park."""
    from types import SimpleNamespace

    from voicelab.emulator.server import SessionRegistry

    registry = SessionRegistry(limit=1)
    old, new = SimpleNamespace(session_id="sess_1"), SimpleNamespace(session_id="sess_1")
    assert registry.try_add(old)
    registry.remove(old)  # the TCP connection dropped
    assert len(registry) == 0 and registry.try_add(new)  # the reconnect is not over the limit...
    assert registry.winding_down("sess_1", besides=new)  # ...but the old handler still holds the session
    registry.handled(old)
    assert not registry.winding_down("sess_1", besides=new)
