"""The tap's pure decisions (URLs, headers, audio frames), its option checks, and ``voicelab tap`` as a process."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import voicelab as vl
from voicelab.providers import get_provider
from voicelab.proxy.wire import AudioMeter, auth_injection, parse_listen, plan_upstream
from voicelab.recording.log import Recording

from .conftest import ROOT, run_vendor_client


def test_the_upstream_plan_keeps_the_app_request_and_takes_out_the_taps_parameters():
    inj = auth_injection(get_provider("pulse"), "sk_injected")
    plan = plan_upstream("/waves/v1/stt/live?model=pulse&b=1&b=2&vl_tap=T0K3N&vl_fault=latency:1",
                         [("Host", "127.0.0.1:1"), ("Authorization", "Bearer sk_app"), ("X-App", "a"),
                          ("Sec-WebSocket-Protocol", "a, b"), ("Sec-WebSocket-Extensions", "permessage-deflate")],
                         upstream="wss://api.example/prefix?region=x", injection=inj)
    assert plan.url == "wss://api.example/prefix/waves/v1/stt/live?region=x&model=pulse&b=1&b=2"
    assert plan.headers == [("X-App", "a"), ("Authorization", "Bearer sk_injected")]
    assert (plan.subprotocols, plan.compression, plan.token, plan.fault_spec) == (["a", "b"], True, "T0K3N",
                                                                                 "latency:1")
    assert {"sk_app", "sk_injected", "T0K3N"} <= set(plan.secrets)
    full = plan_upstream("/waves/v1/stt/live?model=pulse", [], upstream="wss://api.example/waves/v1/stt/live")
    assert full.url == "wss://api.example/waves/v1/stt/live?model=pulse"


def test_the_audio_meter_reads_the_frame_shape_and_format_from_the_provider_spec():
    pulse = AudioMeter(get_provider("pulse"), {"sample_rate": "8000", "encoding": "ulaw"})
    assert (pulse.format.encoding, pulse.format.samplerate) == ("mulaw", 8000)
    assert pulse.audio_bytes(b"x" * 800) == 800 and pulse.audio_bytes('{"type":"finalize"}') is None
    assert pulse.take(800) == (0, 0.0, 0.1)
    agent = AudioMeter(get_provider("assemblyai-agent"), {})
    frame = json.dumps({"type": "input.audio", "audio": base64.b64encode(b"\0" * 2400).decode()})
    assert agent.audio_bytes(frame) == 2400 and agent.audio_bytes(b"\0" * 10) is None
    assert agent.take(2400)[2] == pytest.approx(0.05)
    assert agent.declared_by('{"type":"session.update","session":{"greeting":"hi"}}').samplerate == 24000
    assert agent.declared_by('{"type":"reply.create"}') is None


def test_bad_options_are_refused_with_the_fix(monkeypatch):
    with pytest.raises(vl.TapConfigError, match="ws://"):
        vl.tap("pulse", "ftp://x", announce=False)
    with pytest.raises(vl.TapConfigError, match="host:port"):
        parse_listen("nowhere")
    monkeypatch.setenv("SMALLEST_API_KEY", "sk_test_key_123")
    with pytest.raises(vl.TapConfigError, match="loopback"):
        vl.tap("pulse", "ws://127.0.0.1:9", listen="0.0.0.0:0", inject_auth=True, announce=False)
    monkeypatch.delenv("SMALLEST_API_KEY")
    with pytest.raises(vl.TapConfigError, match="SMALLEST_API_KEY"):
        vl.tap("pulse", "ws://127.0.0.1:9", inject_auth=True, announce=False)


def test_the_cli_forwards_and_records_until_interrupted(emulator, pcm16k, tmp_path):
    out = tmp_path / "app.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "voicelab", "tap", "--provider", "pulse", "--upstream",
                             emulator.url, "--listen", "127.0.0.1:0", "--record", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline() + proc.stdout.readline()
        url = re.search(r"connect your app to\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        got = run_vendor_client(url, emulator.api_key, pcm16k[: 32000 * 2])
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    # the vendor client closes as soon as is_last arrives while the server closes too: either side may win
    assert "session 1" in stdout and re.search(r"closed 1000 by (server|app)", stdout), stdout
    rec = Recording.load(Path(out))
    assert [ev.text for _, ev in rec.events() if ev.kind == "final"] == got.finals
    assert emulator.api_key not in out.read_text() + stdout + stderr


def test_debug_logs_of_the_tap_never_hold_the_key(caplog):
    """websockets' own handshake logs on both sides of the tap go through voicelab's redacting loggers."""
    import logging

    import numpy as np

    import voicelab as vl

    canary = "sk_canary_tap_7f3a91"
    with caplog.at_level(logging.DEBUG):
        with vl.serve(engine="sphinx", api_key=canary, announce=False) as server, \
                vl.tap("pulse", server.url, announce=False) as tap:
            s = vl.stream(np.zeros(8000, np.float32), samplerate=16000, url=tap.url, api_key=canary,
                          preflight=False, speed=None)
            s.wait(60)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "voicelab.proxy.websockets" in {r.name.rsplit(".", 1)[0] for r in caplog.records}
    assert canary not in text
