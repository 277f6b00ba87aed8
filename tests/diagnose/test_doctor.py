"""`voicelab.doctor` on real sockets: every connection fault reproduced locally, and no false alarm.

Nothing here mocks the network. Faults are made with real sockets on 127.0.0.1 (a closed port, a
listener that never answers, a listener whose accept queue is full, a plain HTTP server, a tiny
WebSocket server), names under ``.invalid`` (RFC 2606: they never resolve) and the emulator's
per-connection faults (``?vl_fault=reject:403`` …, docs/emulator.md). The emulator runs the sphinx
engine; its key is a canary that must never appear in any output.
"""

from __future__ import annotations

import http.server
import importlib
import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import voicelab
import voicelab.emulator as emulator
from voicelab.audio.findings import SYMPTOMS
from voicelab.cli import main
from voicelab.diagnosis import DOCTOR_CODES, DoctorReport, doctor
from voicelab.diagnosis.doctor import STEPS, DoctorSetupError
from voicelab.providers import get_provider, providers

CANARY = "sk_canary_DOCTOR_must_never_print_7f3a9c"
FAST = 2.0  # timeout_seconds for checks that wait on purpose


@pytest.fixture(autouse=True)
def _no_keys_in_env(monkeypatch):
    for spec in providers():
        monkeypatch.delenv(spec.key_env, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    with emulator.serve(engine="sphinx", api_key=CANARY, announce=False, concurrency_limit=None) as srv:
        yield srv


def fault(server, provider: str, spec: str) -> str:
    url = server.url_for(provider)
    return f"{url}{'&' if '?' in url else '?'}vl_fault={spec}"


def statuses(report: DoctorReport) -> dict[str, str]:
    return {s.name: s.status for s in report.steps}


def failed_with(report: DoctorReport, step: str, code: str) -> None:
    """The walk failed at ``step`` with ``code``, and every later step says it was not checked."""
    bad = report.failed_step
    assert bad is not None, str(report)
    assert (bad.name, bad.finding.code if bad.finding else None) == (step, code), str(report)
    assert bad.finding.severity == "error" and bad.finding.fix and bad.finding.symptom in SYMPTOMS
    assert code in DOCTOR_CODES
    later = [s for s in report.steps[STEPS.index(step) + 1:]]
    assert all(s.status == "skipped" and "not checked" in s.detail for s in later), str(report)
    assert not report.ok
    assert_no_secret(report)


def assert_no_secret(report: DoctorReport) -> None:
    for text in (str(report), repr(report), report.to_json(), report._repr_html_()):
        assert CANARY not in text


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- zero false alarms ------------------------------------------------------------------------------------------------
def test_healthy_emulator_passes_for_every_provider(server):
    served = [spec for spec in providers() if spec.emulator]
    assert {"pulse", "assemblyai-agent"} <= {spec.name for spec in served}
    for spec in served:
        report = doctor(server.url, provider=spec.name, api_key=CANARY, timeout_seconds=10)
        assert report.ok, str(report)
        assert statuses(report) == {**dict.fromkeys(STEPS, "ok"), "tls": "skipped"}, str(report)
        assert report.findings == []
        assert "first transcript" in report.step("session").detail
        assert report.step("close").detail.endswith("close 1000")
        assert report.step("tcp").seconds is not None and report.step("tcp").seconds < 1
        assert_no_secret(report)


def test_full_url_from_the_emulator_passes_too(server):
    report = doctor(server.url_for("pulse") + "&language=en", provider="pulse", api_key=CANARY)
    assert report.ok, str(report)
    assert "live endpoint" in report.step("url").detail


# -- url ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "suggestion"), [
    ("https://api.smallest.ai/waves/v1/stt/live?model=pulse", "wss://api.smallest.ai/waves/v1/stt/live?model=pulse"),
    ("http://127.0.0.1:9/waves/v1/stt/live?model=pulse", "ws://127.0.0.1:9/waves/v1/stt/live?model=pulse"),
    ("ws://api.smallest.ai/waves/v1/stt/live?model=pulse", "wss://api.smallest.ai/waves/v1/stt/live?model=pulse"),
    ("api.smallest.ai/waves/v1/stt/live", "wss://api.smallest.ai/waves/v1/stt/live?model=pulse"),
])
def test_url_scheme(url, suggestion):
    report = doctor(url, provider="pulse")
    failed_with(report, "url", "url_scheme")
    assert suggestion in report.failed_step.finding.fix


def test_ws_to_a_tls_port_is_url_scheme():
    """A TLS server that gets a plain HTTP request answers with a TLS alert record and closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer():
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(bytes.fromhex("15030300020246"))  # alert, TLS 1.2, fatal protocol_version
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        report = doctor(f"ws://127.0.0.1:{listener.getsockname()[1]}", provider="pulse", timeout_seconds=FAST)
        failed_with(report, "upgrade", "url_scheme")
        assert f"wss://127.0.0.1:{listener.getsockname()[1]}" in report.failed_step.finding.fix
    finally:
        thread.join(5)
        listener.close()


def test_url_path_from_the_servers_404(server):
    report = doctor(f"{server.url}/waves/v2/stt/live", provider="pulse", api_key=CANARY)
    assert "not one of" in report.step("url").detail  # noted, but the server decides
    failed_with(report, "upgrade", "url_path")
    finding = report.failed_step.finding
    assert finding.evidence["status"] == 404 and "/waves/v1/stt/live" in finding.fix


def test_missing_required_query_is_param_rejected_before_connecting():
    report = doctor("ws://127.0.0.1:9/waves/v1/stt/live", provider="pulse")
    failed_with(report, "url", "param_rejected")
    assert report.failed_step.finding.evidence["param"] == "model"


# -- dns, tcp, tls -------------------------------------------------------------------------------------------------
def test_dns_failure_on_an_invalid_name():
    report = doctor("ws://voicelab-doctor.invalid:8765", provider="pulse", timeout_seconds=FAST)
    failed_with(report, "dns", "dns_failure")
    assert "voicelab-doctor.invalid" in report.failed_step.finding.message


def test_vendor_host_without_url():
    try:
        socket.getaddrinfo("api.smallest.ai", 443)
    except OSError:
        pass
    else:
        pytest.skip("the vendor host resolves here; this test is about a machine without a network")
    report = doctor(provider="pulse", timeout_seconds=FAST)
    assert report.url.startswith("wss://api.smallest.ai/waves/v1/stt/live?model=pulse")
    failed_with(report, "dns", "dns_failure")
    assert "cannot resolve api.smallest.ai" in report.failed_step.finding.message
    assert "voicelab serve" in report.failed_step.finding.fix


def test_connection_refused(closed_port):
    report = doctor(f"ws://127.0.0.1:{closed_port}", provider="pulse", timeout_seconds=FAST)
    failed_with(report, "tcp", "connection_refused")
    assert report.step("dns").status == "ok" and report.step("tcp").status == "failed"
    assert f"127.0.0.1:{closed_port} refused the connection" in report.failed_step.finding.message


def test_connect_timeout_on_a_full_accept_queue():
    """A real black hole on loopback: with the accept queue full, Linux drops the SYN and connect() times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # room for one connection, never accepted
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        report = doctor(f"ws://127.0.0.1:{port}", provider="pulse", timeout_seconds=1)
        failed_with(report, "tcp", "connect_timeout")
        assert 0.9 < report.step("tcp").seconds < 3
        assert "firewall" in report.failed_step.finding.fix
    finally:
        filler.close()
        listener.close()


def test_tls_failure_on_a_plain_port(server):
    report = doctor(f"wss://127.0.0.1:{server.port}", provider="pulse", api_key=CANARY, timeout_seconds=1)
    assert report.step("tcp").status == "ok"
    failed_with(report, "tls", "tls_failure")
    assert "ws://" in report.failed_step.finding.fix


# -- upgrade ---------------------------------------------------------------------------------------------------------
def test_upgrade_timeout_on_a_silent_listener():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # the kernel completes the TCP handshake; nobody ever answers
    try:
        report = doctor(f"ws://127.0.0.1:{listener.getsockname()[1]}", provider="pulse", timeout_seconds=1)
        failed_with(report, "upgrade", "upgrade_timeout")
        assert report.step("tcp").status == "ok"
    finally:
        listener.close()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"<h1>hello</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_not_websocket_on_a_plain_http_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        report = doctor(f"ws://127.0.0.1:{httpd.server_address[1]}", provider="pulse", timeout_seconds=FAST)
        failed_with(report, "upgrade", "not_websocket")
        assert report.failed_step.finding.evidence["status"] == 200
        assert "hello" in report.failed_step.finding.evidence["body"]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("status", "step", "code"), [
    (403, "auth", "forbidden"), (500, "upgrade", "server_error"), (503, "upgrade", "server_error")])
def test_rejections(server, status, step, code):
    report = doctor(fault(server, "pulse", f"reject:{status}"), provider="pulse", api_key=CANARY)
    failed_with(report, step, code)
    assert report.step("tcp").status == "ok" and report.failed_step.name == step
    assert not report.ok and report.failed_step.finding.code == code


def test_rate_limited_with_retry_after(server):
    report = doctor(fault(server, "pulse", "reject:429;retry_after:7"), provider="pulse", api_key=CANARY)
    failed_with(report, "upgrade", "rate_limited")
    finding = report.failed_step.finding
    assert finding.evidence["retry_after"] == "7" and "Retry-After" in finding.message
    assert "backoff" in finding.fix.lower() or "back off" in finding.fix.lower()


def test_param_rejected_by_the_server_names_it(server):
    report = doctor(server.url_for("pulse") + "&sample_rate=12345", provider="pulse", api_key=CANARY)
    failed_with(report, "upgrade", "param_rejected")
    assert report.failed_step.finding.evidence["param"] == "sample_rate"
    assert "sample_rate" in report.failed_step.finding.message


def test_param_rejected_by_the_provider_rules_names_it(server):
    report = doctor(server.url, provider="pulse", api_key=CANARY, params={"sample_rate": 12345})
    failed_with(report, "url", "param_rejected")
    assert report.failed_step.finding.evidence["param"] == "sample_rate"


# -- region ----------------------------------------------------------------------------------------------------------
def test_region_language_where_the_spec_says_so(server, closed_port):
    report = doctor(server.url, provider="pulse", api_key=CANARY, region="india", params={"language": "ja"})
    failed_with(report, "url", "region_language")
    assert "region='us'" in report.failed_step.finding.fix
    report = doctor(provider="pulse", region="india", params={"language": "ja"})  # the vendor host, no network
    failed_with(report, "url", "region_language")
    # the same language where it is served: no alarm (stops at the closed port instead)
    report = doctor(f"ws://127.0.0.1:{closed_port}", provider="pulse", region="us", params={"language": "ja"})
    assert report.step("url").status == "ok" and report.failed_step.name == "tcp"


# -- auth ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["pulse", "assemblyai-agent"])
def test_auth_missing_runs_up_to_the_upgrade(server, provider):
    report = doctor(server.url, provider=provider)
    failed_with(report, "auth", "auth_missing")
    spec = get_provider(provider)
    if spec.auth_checked_at == "upgrade":
        assert report.step("upgrade").status == "ok" and "401" in report.step("upgrade").detail
    assert "not checked" in report.failed_step.finding.message
    assert spec.key_env in report.failed_step.finding.fix
    assert report.step("session").status == "skipped"


@pytest.mark.parametrize("provider", ["pulse", "assemblyai-agent"])
def test_auth_invalid(server, provider):
    report = doctor(server.url, provider=provider, api_key="sk_wrong_key")
    failed_with(report, "auth", "auth_invalid")
    assert "sk_wrong_key" not in str(report) + report.to_json()


@pytest.mark.parametrize("header", [f"Token {CANARY}", f"Key {CANARY}", CANARY])
def test_auth_scheme_found_by_trying_the_documented_form(server, header):
    report = doctor(server.url, provider="pulse", auth_header=header)
    failed_with(report, "auth", "auth_scheme")
    assert "Bearer" in report.failed_step.finding.fix


def test_documented_header_given_as_auth_header_passes_the_auth_step(server):
    report = doctor(server.url, provider="pulse", auth_header=f"Bearer {CANARY}", timeout_seconds=FAST)
    assert report.step("auth").status == "ok", str(report)


def test_a_wrong_key_in_the_wrong_scheme_is_auth_invalid(server):
    report = doctor(server.url, provider="pulse", auth_header="Token sk_wrong_key")
    failed_with(report, "auth", "auth_invalid")
    assert "refused too" in report.failed_step.finding.message


# -- session and close -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["pulse", "assemblyai-agent"])
def test_no_response(server, provider):
    report = doctor(fault(server, provider, "drop_responses:1"), provider=provider, api_key=CANARY,
                    timeout_seconds=FAST)
    failed_with(report, "session", "no_response")
    assert report.failed_step.finding.symptom == "no_transcripts"


@pytest.mark.parametrize(("spec", "code"), [("close_after_chunks:3;close_code:1011", 1011),
                                            ("drop_after_chunks:3", 1006)])
def test_unclean_close_during_the_session(server, spec, code):
    report = doctor(fault(server, "pulse", spec), provider="pulse", api_key=CANARY)
    failed_with(report, "session", "unclean_close")
    assert report.failed_step.finding.evidence["close_code"] == code
    assert report.failed_step.finding.symptom == "dropped"


@pytest.fixture
def rude_server() -> Iterator[str]:
    """A tiny Pulse-like server: an interim for every audio frame, then close 1011 on close_stream (no last final)."""
    from websockets.sync.server import serve

    from voicelab.providers.pulse.messages import build_transcription
    from voicelab.providers.pulse.params import PulseSessionConfig

    def handler(ws):
        for message in ws:
            if isinstance(message, bytes):
                ws.send(json.dumps(build_transcription(config=PulseSessionConfig(), session_id="s1",
                                                       transcript="hello", is_final=False)))
            elif "close_stream" in message:
                ws.close(1011, "boom")
                return

    with serve(handler, "127.0.0.1", 0) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{srv.socket.getsockname()[1]}"
        srv.shutdown()


def test_unclean_close_at_the_end(rude_server):
    report = doctor(rude_server, provider="pulse", api_key=CANARY, timeout_seconds=FAST)
    failed_with(report, "close", "unclean_close")
    assert report.failed_step.finding.evidence["close_code"] == 1011
    assert report.step("session").status == "ok"


# -- secrets, rendering, CLI -----------------------------------------------------------------------------------------
def test_the_key_never_appears(server, caplog, closed_port):
    caplog.set_level(logging.DEBUG)
    reports = [
        doctor(server.url, provider="pulse", auth_header=f"Token {CANARY}"),
        doctor(server.url_for("pulse") + f"&token={CANARY}&vl_fault=reject:400", provider="pulse"),
        doctor(f"https://127.0.0.1:{closed_port}/?token={CANARY}", provider="pulse"),
        doctor(f"ws://127.0.0.1:{closed_port}?api_key={CANARY}", provider="pulse"),
    ]
    for report in reports:
        assert_no_secret(report)
        assert "***" in str(report) or "<key>" in str(report)
    client_side = [r for r in caplog.records if not r.name.startswith("voicelab.emulator")]
    assert any(r.name == "voicelab.diagnosis.wire" and "Authorization" in r.getMessage() for r in client_side)
    assert not [r.getMessage() for r in client_side if CANARY in r.getMessage()]
    with pytest.raises(DoctorSetupError) as info:
        doctor(server.url, provider="pulse", api_key_env=CANARY)
    assert CANARY not in str(info.value)


def test_report_renders_as_a_checklist(closed_port):
    report = doctor(f"ws://127.0.0.1:{closed_port}", provider="pulse")
    text, page, data = str(report), report._repr_html_(), report.to_dict()
    rows = [line.split() for line in text.splitlines() if line.startswith("  ")]
    assert [(r[0], r[1]) for r in rows if r[0] in ("ok", "FAILED", "skipped")] == [
        ("ok", "url"), ("ok", "dns"), ("FAILED", "tcp"), *[("skipped", s) for s in STEPS[3:]]]
    assert "connection_refused" in text and "fix:" in text
    assert page.count("<tr>") == len(STEPS) + 1 and "&#10008;" in page and "connection_refused" in page
    assert [s["name"] for s in data["steps"]] == list(STEPS) and data["ok"] is False
    assert json.loads(report.to_json())["findings"][0]["code"] == "connection_refused"
    assert voicelab.doctor is doctor


def test_setup_errors(server):
    with pytest.raises(DoctorSetupError, match="no-such"):
        doctor(server.url, provider="no-such")
    with pytest.raises(DoctorSetupError, match="region"):
        doctor(server.url, provider="pulse", region="mars")
    with pytest.raises(DoctorSetupError, match=r"\$NOT_SET_ANYWHERE"):
        doctor(server.url, provider="pulse", api_key_env="NOT_SET_ANYWHERE")
    with pytest.raises(DoctorSetupError, match="auth_header"):
        doctor(server.url, provider="pulse", api_key=CANARY, auth_header=f"Token {CANARY}")
    with pytest.raises(DoctorSetupError, match="timeout"):
        doctor(server.url, provider="pulse", timeout_seconds=0)


def test_without_the_sample_speech_the_session_is_checked_without_transcripts(server, monkeypatch, tmp_path):
    module = importlib.import_module("voicelab.diagnosis.doctor")  # the attribute `doctor` is the function
    monkeypatch.setattr(module, "SAMPLE_SPEECH", tmp_path / "not-installed.flac")
    report = doctor(server.url, provider="pulse", api_key=CANARY)
    assert report.ok, str(report)
    assert "transcripts were not checked" in report.step("session").detail


def test_cli_exit_codes(server, closed_port, capsys, monkeypatch):
    monkeypatch.setenv("MY_VOICE_KEY", CANARY)
    assert main(["doctor", server.url, "--provider", "pulse", "--api-key-env", "MY_VOICE_KEY"]) == 0
    out = capsys.readouterr()
    assert "all checked steps pass" in out.out and CANARY not in out.out + out.err
    assert main(["doctor", f"ws://127.0.0.1:{closed_port}", "--provider", "pulse", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["findings"][0]["code"] == "connection_refused"
    assert main(["doctor", server.url, "--provider", "pulse", "--api-key-env", "MY_VOICE_KEY",
                 "--auth-scheme", "Token"]) == 1
    out = capsys.readouterr()
    assert "auth_scheme" in out.out and CANARY not in out.out + out.err
    assert main(["doctor", server.url, "--provider", "pulse", "--api-key-env", "NOT_SET_ANYWHERE"]) == 2
    assert "NOT_SET_ANYWHERE" in capsys.readouterr().err
    assert main(["doctor", server.url]) == 2  # --provider is required
    assert main(["doctor", server.url, "--provider", "nope"]) == 2


def test_cli_in_a_subprocess_prints_no_traceback():
    r = subprocess.run([sys.executable, "-m", "voicelab", "doctor", "ws://voicelab-doctor.invalid",
                        "--provider", "pulse", "--timeout", "2"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "dns_failure" in r.stdout and "Traceback" not in r.stderr + r.stdout
    r = subprocess.run([sys.executable, "-m", "voicelab", "doctor", "--provider", "pulse", "--timeout", "-1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "timeout" in r.stderr


def test_every_code_is_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "diagnosis.md").read_text()
    doctor_section = text.split("## doctor", 1)[1].split("\n## ", 1)[0]
    table = doctor_section.split("| code | step | meaning | fix |", 1)[1].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines() if line.startswith("| `")}
    assert rows == set(DOCTOR_CODES)
