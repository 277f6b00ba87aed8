"""What to send support: `Recording.support_message` fills both vendors' lists, and never holds the key.

Sessions run against the local emulator (real servers on 127.0.0.1, the sphinx engine) whose key is a
canary, carried in the URL (``auth="token"``) where a key is easiest to leak. The emulator closes each
connection 2.5 s in with 1011 (``faults=``), so a real-time stream of a 4 s sentence reconnects and ends
on a second connection. The region of a URL is read from the providers' specs, tested on the vendors'
own host URLs without any network.
"""

from __future__ import annotations

import json
import platform
import re
import socket
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.client import AuthenticationError
from voicelab.client.preflight import PreflightError
from voicelab.providers import get_provider
from voicelab.recording import region_of, support_message
from voicelab.recording.log import RecordingError

CANARY = "sk_canary_MESSAGE_7f3a90c2e4d1"
WRONG = "sk_wrong_key_MESSAGE_5c0e"
FAULT = "close_after_seconds:2.5;close_code:1011"


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with vl.serve(engine="sphinx", api_key=CANARY, announce=False, faults=FAULT,
                  recognizer_options={"processes": 0, "warm": 1}) as srv:
        yield srv


@pytest.fixture(scope="module")
def trouble(server: Any, tmp_path_factory: pytest.TempPathFactory) -> vl.Stream:
    """A Pulse session closed with 1011 mid-sentence, reconnected, finished on the second connection."""
    path = tmp_path_factory.mktemp("message") / "trouble.jsonl"
    s = vl.stream(DATA / "speech" / "s01_fox_16k.flac", provider="pulse", url=server.url, api_key=CANARY,
                  auth="token", record=path)
    s.wait(60)
    codes = [c["code"] for c in s.recording.summary()["closes"]]
    assert codes[0] == 1011 and codes[-1] == 1000 and len(s.recording.of("connect")) >= 2, codes
    return s


@pytest.fixture(scope="module")
def report(server: Any) -> Any:
    doctor = vl.doctor(server.url, provider="pulse", api_key=CANARY, timeout_seconds=5)
    assert doctor.ok, str(doctor)
    return doctor


def _line(message: str, label: str) -> str:
    """The text of one labelled line, with its continuation lines."""
    lines = message.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(label + ":"))
    stop = start + 1
    while stop < len(lines) and lines[stop].startswith(" " * 21):
        stop += 1
    return "\n".join(lines[start:stop])


def test_the_message_lists_both_sessions_both_closes_the_endpoint_and_the_local_region(trouble):
    rec = trouble.recording
    summary = rec.summary()
    message = rec.support_message()
    assert message == support_message(rec)  # the method is the module's function
    lines = message.splitlines()
    assert lines[0] == "To: support@smallest.ai (or Discord: https://discord.gg/9WtSXv26WE)"
    ids = summary["session_ids"]
    assert len(ids) == len(rec.of("connect")) >= 2
    assert lines[1].startswith(f"Subject: Smallest AI Pulse STT: session {ids[0]} - ")
    assert _line(message, "Session ids") == f"Session ids:         {', '.join(ids)}"
    assert _line(message, "Session start (UTC)").endswith(summary["started_at"])
    closes = _line(message, "Close code, reason").splitlines()
    assert len(closes) == len(summary["closes"]) >= 2
    for text, close in zip(closes, summary["closes"], strict=True):
        said = f'"{close["reason"]}"' if close["reason"] else "(no reason given)"
        assert f'{close["code"]} {said} after {close["t"]:.2f} s' in text, (text, close)
    assert '1011 "injected fault" after' in closes[0] and closes[-1].lstrip().startswith("1000 ")
    endpoint = _line(message, "Endpoint")
    assert endpoint == f"Endpoint:            {summary['connected_to'][0]}"  # one URL: every connection the same
    assert "/waves/v1/stt/live?" in endpoint and "token=***" in endpoint
    region = _line(message, "Region")
    assert "none: 127.0.0.1 is a local address (voicelab's emulator" in region and "not a vendor host" in region
    assert _line(message, "Error messages") == "Error messages:      none from the server"
    reconnects = summary["stats"]["reconnects"]
    assert reconnects >= 1
    network = _line(message, "Network conditions")
    assert network.startswith("Network conditions:  not checked (run vl.doctor")
    assert network.endswith(f"; {reconnects} reconnect{'s' if reconnects > 1 else ''} during the session")
    client = _line(message, "Client")
    assert f"voicelab {vl.__version__}" in client and f"Python {platform.python_version()}" in client
    assert _line(message, "Attached").startswith("Attached:            nothing yet: attach rec.support_bundle(")
    assert CANARY not in message


def test_doctor_timings_and_the_bundles_members_go_in_and_the_canary_nowhere(trouble, report, tmp_path):
    rec = trouble.recording
    bundle = rec.support_bundle(tmp_path / "bundle.zip", doctor=report)
    message = rec.support_message(doctor=report, bundle=bundle)
    network = _line(message, "Network conditions")
    assert network.startswith(f"Network conditions:  voicelab doctor: {report.summary}; ")
    timed = [s for s in report.steps if s.status == "ok"]
    assert {s.name for s in timed} >= {"dns", "tcp", "upgrade", "session"}
    for step in timed:  # each step's own timing, as doctor measured it
        ms = f"{step.seconds * 1000:.1f} ms" if step.seconds < 1 else f"{step.seconds:.2f} s"
        assert f"{step.name} {ms}" in network, (step, network)
    assert f"(checked {report.url} at {report.started_at})" in network and "reconnect" in network
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        members = {name: z.read(name) for name in names}
    assert names == ["recording.jsonl", "summary.json", "environment.json", "doctor.json"]
    assert _line(message, "Attached") == f"Attached:            bundle.zip: {', '.join(names)} (keys redacted)"
    env = json.loads(members["environment.json"])  # the Client line says what the bundle's environment says
    assert f"Python {env['python']} on {env['platform']}" in _line(message, "Client")
    assert f"websockets {env['packages']['websockets']}" in _line(message, "Client")
    # the canary: in the message, the bundle, the recording file, the reloaded recording's message
    loaded = vl.Recording.load(rec.path)
    assert CANARY not in message and CANARY not in loaded.support_message(doctor=report, bundle=bundle)
    assert not [name for name, data in members.items() if CANARY.encode() in data]
    assert CANARY.encode() not in rec.path.read_bytes()
    # without the bundle's members, the doctor line alone is what changes
    plain = rec.support_message(doctor=report)
    assert _line(plain, "Network conditions") == network and "nothing yet" in _line(plain, "Attached")


def test_refused_handshakes_show_their_status_and_session_errors_their_code(server):
    pulse = vl.stream(np.zeros(16000, np.float32), samplerate=16000, provider="pulse", url=server.url,
                      api_key=WRONG, auth="token", preflight=False)
    with pytest.raises(AuthenticationError):
        pulse.wait(30)
    message = pulse.recording.support_message()
    errors = _line(message, "Error messages")
    assert re.fullmatch(r'Error messages:      HTTP 401 at the upgrade: \{"error": ?"unauthorized"\} '
                        r"\(after \d+\.\d\d s\)", errors), errors
    assert "Session ids:         none reported" in message and "Subject: Smallest AI Pulse STT: session (none" \
        in message
    assert "token=***" in _line(message, "Endpoint")

    agent = vl.stream(np.zeros(24000, np.float32), samplerate=24000, provider="assemblyai-agent", url=server.url,
                      api_key=WRONG, preflight=False)
    with pytest.raises(AuthenticationError):
        agent.wait(30)
    message = agent.recording.support_message()
    assert message.startswith("To: support@assemblyai.com\n")
    assert re.fullmatch(r"Error messages:      UNAUTHORIZED: Invalid API key \(after \d+\.\d\d s\)",
                        _line(message, "Error messages"))
    assert _line(message, "Close code, reason").startswith("Close code, reason:  1008 ")
    for m in (message, pulse.recording.support_message()):
        assert WRONG not in m and CANARY not in m


def test_a_credential_the_recording_did_not_know_is_masked_in_the_message():
    rec = vl.Recording(None, provider="pulse", secrets=[CANARY])
    rec.log("connect", url=f"wss://api.smallest.ai/waves/v1/stt/live?model=pulse&token={CANARY}")
    rec.log("handshake", ok=False, status=403, body='{"detail": "bad", "access_token": "tok_from_server_1234"}')
    assert "tok_from_server_1234" in json.dumps(rec.summary())  # the body is kept as the server sent it
    message = rec.support_message()
    assert "tok_from_server_1234" not in message and '"access_token": "***"' in message
    assert CANARY not in message and "token=***" in message
    assert _line(message, "Region") == "Region:              india (api.smallest.ai)"


def test_a_failed_doctor_check_names_the_step_and_its_finding(trouble):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()  # a port nothing listens on
    failing = vl.doctor(f"ws://127.0.0.1:{port}", provider="pulse", api_key=CANARY, timeout_seconds=2)
    bad = failing.failed_step
    assert bad is not None and bad.name == "tcp" and bad.finding is not None
    network = _line(trouble.recording.support_message(doctor=failing), "Network conditions")
    assert network.startswith(f"Network conditions:  voicelab doctor: failed at tcp: {bad.finding.code} "
                              f"({bad.finding.message})"), network
    timings = network.split("); ", 1)[1].split(" (checked ")[0]  # the steps that passed, and only those
    assert [t.split(" ")[0] for t in timings.split(", ")] == [st.name for st in failing.steps if st.status == "ok"]


def test_a_multi_line_error_body_stays_on_its_line():
    rec = vl.Recording(None, provider="pulse")
    rec.log("handshake", ok=False, status=502, body="<html>\n<body>Bad   gateway</body>\n</html>")
    assert _line(rec.support_message(), "Error messages") == (
        "Error messages:      HTTP 502 at the upgrade: <html> <body>Bad gateway</body> </html> (after 0.00 s)")


def test_wrong_arguments_are_named(trouble, tmp_path):
    with pytest.raises(RecordingError, match="vl.doctor"):
        trouble.recording.support_message(doctor=vl.diagnose(trouble.recording))
    (tmp_path / "not.zip").write_text("not a zip")
    with pytest.raises(RecordingError, match="support bundle .*not.zip"):
        trouble.recording.support_message(bundle=tmp_path / "not.zip")
    with pytest.raises(RecordingError, match="support_bundle"):
        trouble.recording.support_message(bundle=tmp_path / "missing.zip")


# -- the region of a URL: the providers' specs, no network --------------------------------------------------
@pytest.mark.parametrize(("url", "provider", "region"), [
    ("wss://agents.assemblyai.com/v1/ws", "assemblyai-agent", "us"),
    ("wss://agents.eu.assemblyai.com/v1/ws", "assemblyai-agent", "eu"),
    ("wss://AGENTS.EU.assemblyai.com:443/v1/ws?token=***", "assemblyai-agent", "eu"),
    ("wss://api.smallest.ai/waves/v1/stt/live?model=pulse&language=en", "pulse", "india"),
    ("wss://api.us.smallest.ai/waves/v1/stt/live?model=pulse&token=***", "pulse", "us"),
    ("wss://api.india.smallest.ai/waves/v1/stt/live", "pulse", "india_pinned"),
    ("wss://api.smallest.ai/waves/v1/stt/live", "assemblyai-agent", None),  # another vendor's host
    ("wss://agents.assemblyai.com.proxy.example/v1/ws", "assemblyai-agent", None),
    ("ws://127.0.0.1:8765/v1/ws", "assemblyai-agent", None),
    ("not a url", "pulse", None),
])
def test_region_of_a_url(url, provider, region):
    assert region_of(url, provider) == region


@pytest.mark.parametrize("provider", ["pulse", "assemblyai-agent"])
def test_region_of_every_vendor_host_in_the_specs(provider):
    spec = get_provider(provider)
    for region, host in spec.hosts.items():
        assert region_of(spec.url(host), spec) == region
        assert region_of(spec.url(host), provider) == region


@pytest.mark.parametrize(("provider", "region", "line"), [
    ("assemblyai-agent", "eu", "eu (agents.eu.assemblyai.com), the session's region (no connection was made)"),
    ("pulse", None, "india (api.smallest.ai), the session's region (no connection was made)"),
])
def test_without_a_connection_the_region_is_the_sessions(provider, region, line):
    rate = 24000 if provider == "assemblyai-agent" else 16000
    s = vl.stream(iter([bytes(rate // 5)] * 30), provider=provider, region=region, api_key=CANARY, strict=True,
                  speed=None)  # silence: the pre-flight check refuses it before any connection
    with pytest.raises(PreflightError):
        s.wait(30)
    assert not s.recording.of("connect"), "the test must not reach the vendor"
    message = s.recording.support_message()
    assert _line(message, "Region") == f"Region:              {line}"
    assert _line(message, "Endpoint").endswith("(no connection was made)")
    assert CANARY not in message


def test_an_unknown_host_is_named_with_the_vendor_hosts():
    rec = vl.Recording(None, provider="assemblyai-agent")
    rec.log("connect", url="wss://voice.proxy.example/v1/ws")
    assert _line(rec.support_message(), "Region") == (
        "Region:              unknown: voice.proxy.example is none of the AssemblyAI Voice Agent API hosts "
        "(us: agents.assemblyai.com, eu: agents.eu.assemblyai.com)")
