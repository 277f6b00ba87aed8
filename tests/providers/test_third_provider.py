"""A provider that lives only in tests/providers/echo is picked up everywhere once registered.

Nothing outside that package names it: `stream`, the CLI, the emulator (routes, banner), audio
targets, `inspect`, the Recording and metrics all read its `ProviderSpec` from the registry.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import websockets

import voicelab as vl
from tests.providers.echo import SPEC
from voicelab.audio.targets import get_target
from voicelab.providers import get_provider, provider_names, register, unregister

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "data" / "speech" / "s02_weather_16k.flac"


@pytest.fixture
def echo():
    register(SPEC)  # the one line a new provider needs
    try:
        yield SPEC
    finally:
        unregister(SPEC.name)


@pytest.fixture
def server(echo):
    with vl.serve(engine="sphinx", announce=False) as running:
        yield running


def test_registered_provider_is_known_everywhere(echo):
    assert "echo-test" in provider_names() and get_provider("ECHO_TEST") is SPEC
    assert get_target("echo-test").recommended_samplerate == 16000
    report = vl.load(SPEECH).inspect(target="echo-test")  # 16 kHz mono speech: what Echo STT expects
    assert report.ok, report
    loud = vl.load(SPEECH).resample(24000).inspect(target="echo-test")
    assert any(f.code == "wrong_samplerate" for f in loud.findings), loud  # 24 kHz is not one of its rates


def test_unregistered_provider_is_refused():
    with pytest.raises(vl.VoicelabError, match="unknown provider 'echo-test'"):
        vl.stream(SPEECH, provider="echo-test", url="ws://127.0.0.1:9", api_key="k")


def test_emulator_serves_it_and_rejects_a_bad_key(server):
    url = server.url_for("echo-test")
    assert url.endswith("/test/v1/listen") and "Echo STT" in server.banner()

    async def refused() -> int:
        try:
            async with websockets.connect(url, additional_headers={"Authorization": "Bearer wrong"}):
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(refused()) == 401


def test_stream_end_to_end_with_metrics_and_keepalive(server):
    clip = vl.load(SPEECH)

    async def paused_source():
        """The clip in two halves with a 1.2 s pause between them: the driver's keepalive must fill it."""
        half = clip.duration / 2
        yield clip.slice(end=half)
        await asyncio.sleep(1.2)
        yield clip.slice(start=half)

    s = vl.stream(paused_source(), provider="echo-test", url=server.url, api_key=server.api_key, speed=None)
    s.wait(120)
    assert "weather" in s.transcript.lower()
    sent = [e["message"] for e in s.recording.of("send") if isinstance(e.get("message"), dict)]
    keepalives = sum(m.get("type") == "keepalive" for m in sent)
    assert keepalives >= 2, sent  # 1.2 s of silence at a 0.4 s keepalive interval
    last = [ev for _, ev in s.events if getattr(ev, "is_last", False)]
    assert last and json.loads(last[-1].raw)["keepalives"] == keepalives  # the server got every one
    assert s.recording.provider == "echo-test"
    report = s.metrics()
    connect = next(m for m in report.metrics if m.name == "connect_time")
    assert connect.values and connect.end == "handshake done"
    replayed = vl.replay(s.recording).wait()
    assert replayed.transcript == s.transcript


def test_cli_streams_to_it_through_the_plugin_variable(tmp_path, echo):
    env = {**os.environ, "VOICELAB_PROVIDERS": "tests.providers.echo:SPEC", "PYTHONPATH": str(ROOT)}
    record = tmp_path / "echo.jsonl"
    out = subprocess.run(
        [sys.executable, "-m", "voicelab", "stream", str(SPEECH), "--provider", "echo-test", "--engine", "sphinx",
         "--speed", "4", "--record", str(record)],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "weather" in out.stdout.lower()
    rec = vl.Recording.load(record)
    assert rec.provider == "echo-test" and rec.stats.chunks_sent > 0
