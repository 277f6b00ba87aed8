"""A canary key through every auth form, token minting, drops and resume, with DEBUG logging on everything.

Every artefact a user might share is then searched for the key and for every token minted with it: each
log line (root, ``websockets``, ``voicelab``, formatted with its traceback), each exception's text and
repr, the reprs of the streams, servers and Recordings, each Recording's JSONL, each support bundle, what
the process printed, and the output and Recording of ``voicelab stream ... --record`` run in a
subprocess with DEBUG logging. Zero hits are allowed.

The test also checks that the interesting lines were logged at all (the upgrade's ``Authorization``
header and ``?token=`` URL, masked), so it fails if DEBUG logging stops reaching it, not only if a key
leaks.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

import voicelab as vl
from tests.conftest import DATA, ROOT
from voicelab.client import RetryPolicy
from voicelab.protocols.redaction import RedactingFilter, redact_log_text

pytestmark = pytest.mark.timeout(300)

CANARY = "sk_canary" + secrets.token_hex(12)
FAST = RetryPolicy(max_attempts=6, base=0.05, cap=0.3)
#: The drop server aborts every connection 2.5 s after its upgrade (no close frame: the client sees 1006).
#: A time, not a chunk count: the audio resent after a reconnect goes out in a burst, so the next connection
#: always gets further (``drop_after_chunks`` counts resent chunks too and can drop a session forever when
#: no final came before the drop).
DROPS = "drop_after_seconds:2.5"


# ------------------------------------------------------------------------------------------------ the filter


def test_filter_masks_headers_queries_fields_and_tracebacks() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("tests.hardening.canary.filter")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.addFilter(RedactingFilter(["verysecret"]))
    try:
        log.debug("> %s: %s", "Authorization", "Bearer sk_abc")
        log.debug("< GET %s HTTP/1.1", "/v1/ws?token=tok_abc&x=1")
        log.info("body %s", '{"access_token":"wat_abc","token_type":"Bearer"}')
        log.info("headers %r", {"X-Api-Key": "k_abc"})
        log.info("the key verysecret anywhere")
        try:
            raise ValueError("failed for /x?api_key=sk_abc")
        except ValueError:
            log.exception("boom")
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    for secret in ("sk_abc", "tok_abc", "wat_abc", "k_abc", "verysecret"):
        assert secret not in text, text
    assert "Authorization: Bearer ***" in text and "token=***&x=1" in text and "Traceback" in text
    assert "token_type" in text  # not every field with "token" in its name is a secret
    assert repr(RedactingFilter(["verysecret"])) == "RedactingFilter(secrets=1)"


def test_redact_log_text_leaves_ordinary_lines_alone() -> None:
    for line in ("= connection is OPEN", "> TEXT '{\"type\":\"finalize\"}' [20 bytes]", "key: the sample rate",
                 "< HTTP/1.1 101 Switching Protocols"):
        assert redact_log_text(line) == line


@pytest.mark.parametrize(("code", "masked"), [
    ('headers = {"Authorization": f"Bearer sk_live_123"}', 'headers = {"Authorization": f"Bearer ***"}'),
    ("h = {'X-Api-Key': rb'sk_live_123'}", "h = {'X-Api-Key': rb'***'}"),
    ('url = f"wss://api/x?token=sk_live_123"', 'url = f"wss://api/x?token=***"'),
    ("connect('wss://api/x?api_key=sk_live_123&a=1')", "connect('wss://api/x?api_key=***&a=1')"),
])
def test_a_code_snippet_loses_its_key_but_keeps_its_quotes(code: str, masked: str) -> None:
    """Smallest's support page asks for "sanitized code snippets": the key goes, the code still reads as code."""
    assert redact_log_text(code) == masked


# ------------------------------------------------------------------------------------------------ end to end


class _Collect(logging.Handler):
    """Formats every record (traceback included) the way a user's log file would hold it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def debug_everything():
    """DEBUG on the root logger, ``websockets`` and ``voicelab``; every formatted line collected."""
    handler = _Collect()
    root = logging.getLogger()
    named = [logging.getLogger(n) for n in ("websockets", "websockets.client", "websockets.server", "voicelab")]
    saved = [(lg, lg.level) for lg in [root, *named]]
    root.addHandler(handler)
    for lg, _ in saved:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for lg, level in saved:
            lg.setLevel(level)


@pytest.fixture
def minted(monkeypatch) -> list[str]:
    """Every token the client mints (the token endpoints' answers, read as they pass; nothing is changed)."""
    seen: list[str] = []
    real = urllib.request.urlopen

    class _Body:
        def __init__(self, resp: Any) -> None:
            self._resp = resp

        def read(self, *args: Any) -> bytes:
            data = self._resp.read(*args)
            seen.extend(re.findall(r'"(?:access_token|token)"\s*:\s*"([^"]+)"', data.decode("utf-8", "replace")))
            return data

        def __enter__(self) -> _Body:
            return self

        def __exit__(self, *exc: object) -> None:
            self._resp.__exit__(*exc)

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _Body(real(*a, **k)))
    return seen


def _streams(server: Any, drops: Any, tmp: Path) -> list[tuple[str, Any]]:
    short16 = vl.load(DATA / "speech" / "s06_short_16k.flac")
    short24 = vl.load(DATA / "speech" / "s06_short_24k.flac")
    pulse = {"provider": "pulse", "chunk_seconds": 0.05, "speed": 2.0, "retry": FAST}
    agent = {"provider": "assemblyai-agent", "speed": 2.0, "retry": FAST}
    plan: list[tuple[str, Any, Any, dict[str, Any]]] = [
        ("pulse-bearer", server, short16, {**pulse, "auth": "bearer"}),
        ("pulse-token-query", server, short16, {**pulse, "auth": "token"}),
        ("pulse-api_key-query", server, short16, {**pulse, "auth": "api_key"}),
        ("pulse-access-token", server, short16, {**pulse, "use_token": True}),
        ("agent-bearer", server, short24, agent),
        ("agent-temporary-token", server, short24, {**agent, "use_token": True}),
        ("pulse-bearer-drops", drops, short16, {**pulse, "speed": 1.0}),
        ("pulse-access-token-drops", drops, short16, {**pulse, "speed": 1.0, "use_token": True}),
        ("pulse-token-query-drops", drops, short16, {**pulse, "speed": 1.0, "auth": "token"}),
        ("agent-bearer-resume", drops, short24, {**agent, "speed": 1.0}),
        ("agent-temporary-token-resume", drops, short24, {**agent, "speed": 1.0, "use_token": True}),
    ]
    return [(name, vl.stream(clip, url=srv.url, api_key=CANARY, record=tmp / f"{name}.jsonl", **kw))
            for name, srv, clip, kw in plan]


def _cli(server: Any, tmp: Path) -> tuple[str, Path]:
    """``voicelab stream --record`` against the canary server, key from the environment, DEBUG logging on."""
    out = tmp / "cli.jsonl"
    code = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
            "from voicelab.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "SMALLEST_API_KEY": CANARY, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code, "stream", str(DATA / "speech" / "s06_short_16k.flac"),
                        "--url", server.url, "--speed", "4", "--record", str(out)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Authorization: Bearer ***" in r.stderr, "the CLI's DEBUG log did not show the upgrade headers"
    return r.stdout + r.stderr, out


def test_canary_key_never_leaks(debug_everything, minted, tmp_path, capfd) -> None:
    texts: dict[str, str] = {}
    with vl.serve(engine="sphinx", api_key=CANARY, announce=True) as server, \
            vl.serve(engine="sphinx", api_key=CANARY, faults=DROPS, announce=True) as drops:
        texts["server reprs"] = repr(server) + repr(drops) + str(server.banner())
        streams = _streams(server, drops, tmp_path)
        for name, s in streams:
            s.wait(180)
            texts[f"{name} repr"] = repr(s) + repr(s.recording) + repr(s.events[-3:])
        texts["cli"], cli_rec = _cli(server, tmp_path)
        # errors that carry the URL and the key forms: an unreachable server, with a key in the query
        for auth in ("token", "api_key"):
            failed = vl.stream(DATA / "speech" / "s06_short_16k.flac", url="ws://127.0.0.1:9", api_key=CANARY,
                               auth=auth, retry=RetryPolicy(max_attempts=1), open_timeout=2)
            with pytest.raises(vl.VoicelabError) as info:
                failed.wait(30)
            texts[f"error {auth}"] = f"{info.value}\n{info.value!r}\n{failed.error!r}\n{failed!r}"
        wrong = vl.stream(DATA / "speech" / "s06_short_24k.flac", provider="assemblyai-agent", url=server.url,
                          api_key=CANARY + "x", retry=FAST)
        with pytest.raises(vl.VoicelabError) as info:
            wrong.wait(60)
        texts["error wrong key"] = f"{info.value}\n{info.value!r}\n{wrong.error!r}"
    out, err = capfd.readouterr()
    texts["printed"] = out + err

    # what the streams did: every auth form connected, drops happened and were recovered from
    by_name = dict(streams)
    for name, s in streams:
        assert s.error is None, (name, s.error)
        assert s.recording.of("handshake") and s.recording.of("handshake")[-1]["ok"], name
    for name in ("pulse-bearer-drops", "pulse-access-token-drops", "agent-bearer-resume",
                 "agent-temporary-token-resume"):
        assert by_name[name].recording.of("gap"), f"{name}: the drop fault did not fire"
    assert len(minted) >= 6, minted  # two clean token streams, and at least two connections per drop stream

    for name, s in streams:
        bundle = s.recording.support_bundle(tmp_path / f"{name}.zip")
        with zipfile.ZipFile(bundle) as z:
            texts[f"{name} bundle"] = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        texts[f"{name} jsonl"] = (tmp_path / f"{name}.jsonl").read_text()
    texts["cli jsonl"] = cli_rec.read_text()
    texts["cli bundle"] = vl.Recording.load(cli_rec).support_bundle(tmp_path / "cli.zip").read_bytes().hex()
    log = "\n".join(debug_everything.lines)
    texts["log"] = log

    needles = {"canary key": CANARY, **{f"minted token {t[:6]}…": t for t in minted}}
    hits = [f"{what} in {where}" for where, text in texts.items() for what, needle in needles.items()
            if needle in text or needle.encode().hex() in text]
    assert not hits, hits

    # the log really holds the handshakes (masked), client and server side, so a leak would have shown
    assert "Authorization: Bearer ***" in log and "token=***" in log and "api_key=***" in log
    assert any("voicelab.client.websockets" in line for line in debug_everything.lines)
    assert any("voicelab.emulator.websockets" in line for line in debug_everything.lines)
    # a Pulse access token has a recognisable shape: none may appear unmasked anywhere
    assert not [w for w, t in texts.items() if re.search(r"wat_[A-Za-z0-9_-]{6}", t)]
