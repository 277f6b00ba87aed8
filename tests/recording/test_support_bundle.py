"""What a support bundle carries: both vendors' "before you contact support" lists, and never the key.

AssemblyAI asks for the session id, close code and reason, start time and the endpoint (US or EU);
Smallest for the session id, error messages, sanitized code and network conditions. Sessions run against
the local emulator (real servers on 127.0.0.1, the sphinx engine); refusals are real ones: a wrong key, a
port nothing listens on. With ``url=None`` the stream would go to the vendor: a pre-flight refusal
(``strict=True`` on silence) stops it before any connection, after the Recording's header is written.
"""

from __future__ import annotations

import json
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.client import AuthenticationError, ConnectError, RetryPolicy
from voicelab.client.preflight import PreflightError
from voicelab.diagnosis.doctor import STEPS
from voicelab.recording.log import RecordingError

CANARY = "sk_canary_BUNDLE_4b7e19d2c05a"
WRONG = "sk_wrong_key_BUNDLE_93d1"
OLD_KEYS = {"provider", "endpoint", "region", "started_at", "session_ids", "closes", "duration_seconds", "stats"}


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with vl.serve(engine="sphinx", api_key=CANARY, announce=False,
                  recognizer_options={"processes": 0, "warm": 1}) as srv:
        yield srv


@pytest.fixture(scope="module")
def session(server: Any, tmp_path_factory: pytest.TempPathFactory) -> vl.Stream:
    path = tmp_path_factory.mktemp("bundle") / "pulse.jsonl"
    s = vl.stream(DATA / "speech" / "s06_short_16k.flac", provider="pulse", url=server.url, api_key=CANARY,
                  speed=None, record=path)
    s.wait(60)
    return s


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _silence(rate: int) -> Iterator[bytes]:
    """Three seconds of PCM16 zeros in 0.1 s chunks: the pre-flight check refuses them before connecting."""
    return iter([bytes(rate // 5)] * 30)


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_the_summary_names_the_urls_connected_to_and_the_version(session, server):
    rec = session.recording
    summary = rec.summary()
    assert OLD_KEYS <= set(summary)
    assert summary["endpoint"] == server.url and summary["region"] is None  # url= given: that URL, no region
    urls = [e["url"] for e in rec.of("connect")]
    assert summary["connected_to"] == urls[:1] and len(urls) == 1
    assert summary["connected_to"][0].startswith(f"{server.url}/waves/v1/stt/live?model=pulse")
    assert summary["voicelab"] == vl.__version__ == rec.header["voicelab"]
    assert summary["errors"] == [] and summary["session_ids"] and summary["closes"][0]["code"] == 1000
    loaded = vl.Recording.load(rec.path).summary()  # the file says the same (times rounded to the µs)
    assert {k: loaded[k] for k in ("connected_to", "errors", "voicelab", "endpoint", "region", "session_ids")} == \
        {k: summary[k] for k in ("connected_to", "errors", "voicelab", "endpoint", "region", "session_ids")}
    assert CANARY not in json.dumps(summary)


def test_errors_hold_a_refused_handshake_a_provider_error_and_an_unreachable_host(server, closed_port):
    pulse = vl.stream(np.zeros(16000, np.float32), samplerate=16000, provider="pulse", url=server.url,
                      api_key=WRONG, preflight=False)
    with pytest.raises(AuthenticationError):
        pulse.wait(30)
    (refused,) = pulse.recording.summary()["errors"]
    assert (refused["where"], refused["status"]) == ("handshake", 401)
    assert json.loads(refused["body"]) == {"error": "unauthorized"}  # the emulator's body, as received

    agent = vl.stream(np.zeros(24000, np.float32), samplerate=24000, provider="assemblyai-agent", url=server.url,
                      api_key=WRONG, preflight=False)
    with pytest.raises(AuthenticationError):
        agent.wait(30)
    summary = agent.recording.summary()
    (error,) = summary["errors"]  # the Voice Agent API refuses a key after the upgrade, with an error message
    assert (error["where"], error["code"], error["message"]) == ("message", "UNAUTHORIZED", "Invalid API key")
    assert summary["closes"][0]["code"] == 1008

    nowhere = vl.stream(np.zeros(16000, np.float32), samplerate=16000, provider="pulse",
                        url=f"ws://127.0.0.1:{closed_port}", api_key=WRONG, preflight=False,
                        retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ConnectError):
        nowhere.wait(30)
    (unreachable,) = nowhere.recording.summary()["errors"]
    assert unreachable["where"] == "handshake" and unreachable["error"] == "ConnectionRefusedError"
    for rec in (pulse.recording, agent.recording, nowhere.recording):
        assert WRONG not in json.dumps(rec.summary())


def test_the_bundle_carries_the_doctor_report_and_never_the_key(session, server, closed_port, tmp_path):
    healthy = vl.doctor(server.url, provider="pulse", api_key=CANARY, timeout_seconds=5)
    assert healthy.ok, str(healthy)
    bundle = session.recording.support_bundle(tmp_path / "support.zip", doctor=healthy)
    members = _members(bundle)
    assert sorted(members) == ["doctor.json", "environment.json", "recording.jsonl", "summary.json"]
    report = json.loads(members["doctor.json"])
    assert [s["name"] for s in report["steps"]] == list(STEPS) and report["ok"] is True
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in report["steps"] if s["status"] == "ok")
    assert report["findings"] == [] and report["url"].startswith(server.url)
    summary = json.loads(members["summary.json"])
    assert summary["connected_to"] and summary["voicelab"] == vl.__version__ and summary["session_ids"]

    # the network conditions of a failure: the step that failed, its finding and fix
    failing = vl.doctor(f"ws://127.0.0.1:{closed_port}", provider="pulse", api_key=CANARY, timeout_seconds=2)
    bundle = session.recording.support_bundle(tmp_path / "failing.zip", doctor=failing)
    report = json.loads(_members(bundle)["doctor.json"])
    assert report["ok"] is False and report["findings"]
    failed = next(s for s in report["steps"] if s["status"] == "failed")
    assert failed["name"] == "tcp" and failed["finding"]["fix"]
    for path in (tmp_path / "support.zip", bundle):
        assert CANARY.encode() not in path.read_bytes()
        assert not [name for name, data in _members(path).items() if CANARY.encode() in data]
    # without a report the bundle is what it was
    assert sorted(_members(session.recording.support_bundle(tmp_path / "plain.zip"))) == [
        "environment.json", "recording.jsonl", "summary.json"]
    with pytest.raises(RecordingError, match="vl.doctor"):
        session.recording.support_bundle(tmp_path / "wrong.zip", doctor=vl.diagnose(session.recording))


@pytest.mark.parametrize(("provider", "region", "endpoint", "used"), [
    ("assemblyai-agent", "eu", "wss://agents.eu.assemblyai.com/v1/ws", "eu"),
    ("assemblyai-agent", None, "wss://agents.assemblyai.com/v1/ws", "us"),
    ("pulse", "us", "wss://api.us.smallest.ai/waves/v1/stt/live", "us"),
    ("pulse", None, "wss://api.smallest.ai/waves/v1/stt/live", "india"),
])
def test_without_url_the_vendor_host_and_the_region_used_are_recorded(provider, region, endpoint, used):
    rate = 24000 if provider == "assemblyai-agent" else 16000
    s = vl.stream(_silence(rate), provider=provider, region=region, api_key=CANARY, strict=True, speed=None)
    with pytest.raises(PreflightError):
        s.wait(30)
    rec = s.recording
    assert not rec.of("connect"), "the test must not reach the vendor"
    assert (rec.header["endpoint"], rec.header["region"]) == (endpoint, used)
    summary = rec.summary()
    assert (summary["endpoint"], summary["region"], summary["connected_to"]) == (endpoint, used, [])
    assert CANARY not in "".join(e.to_json() for e in rec.entries)


def test_a_bundle_is_never_written_over_its_recording_nor_into_a_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    rec = vl.Recording(path, provider="pulse")
    rec.close()
    before = path.read_bytes()
    with pytest.raises(RecordingError, match="own file"):
        rec.support_bundle(path)
    assert path.read_bytes() == before
    with pytest.raises(RecordingError, match="does not exist"):
        rec.support_bundle(tmp_path / "no" / "bundle.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.jsonl"]  # no partial file either
