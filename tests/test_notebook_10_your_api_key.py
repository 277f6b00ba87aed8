"""Tutorial 10 (your own API key): the saved notebook skips the live cells cleanly without a key, its cassettes
hold no key, its support bundle leaks no key; and the live cells, run against a local emulator standing in for
the vendor with a canary key, do what they say without leaking it."""

import importlib.util
import json
import os
import re
import shutil
import sys
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

import voicelab as vl
from tests.test_notebooks import EXECUTE, NOTEBOOKS, _all_text, _clean, _pngs, _run, _text

NAME = "10-your-api-key.ipynb"
ROOT = NOTEBOOKS.parent
KEY_ENVS = ("SMALLEST_API_KEY", "ASSEMBLYAI_API_KEY")
CANARY_SHAPE = re.compile(r"sk_canary_[0-9a-f]{8,}")
LOCAL = "none: 127.0.0.1 is a local address (voicelab's emulator"


def _make_cassettes():
    spec = importlib.util.spec_from_file_location("make_cassettes", ROOT / "data" / "make_cassettes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(600)
def test_saved_notebook_skips_without_a_key_uses_the_cassettes_and_bundles_without_a_key():
    nb = _run(NAME)
    code = _clean(nb)
    text = _all_text(code)
    if not (EXECUTE and any(os.environ.get(k) for k in KEY_ENVS)):  # saved (or re-run) without keys
        for env, title in (("SMALLEST_API_KEY", "Smallest AI Pulse STT"),
                           ("ASSEMBLYAI_API_KEY", "AssemblyAI Voice Agent API")):
            assert f"{env:20} not set" in text
            assert f"skipped: {env} is not set, so nothing was sent to {title}" in text
        assert "skipped: no key is set, so §1 recorded no session of yours to bundle" in text
        assert "skipped: no key is set, so there is no session of yours to report" in text
    expected = [
        "<Recording pulse: ", "<Recording assemblyai-agent: ", "recorded at ws://127.0.0.1:", "audio kept: all",
        "replay gives the recorded events: True", "transcript: The quick brown fox jumps over the lazy dog.",
        "agent_transcript     You said:",
        # the session that went wrong, its bundle and the canary search
        "the server accepted the canary: True | first close 1011: True | last close 1000: True | "
        "one session id per connection: True",
        "doctor: all checked steps pass",
        "members: recording.jsonl, summary.json, environment.json, doctor.json",
        "in the recording, the URL reads ... True",
        'API_KEY = "***"', '"Authorization": "Bearer ***"', "canary left: False",
        # what to send support
        'Close code, reason:  1011 "injected fault" after',
        "To: support@smallest.ai (or Discord: https://discord.gg/9WtSXv26WE)",
        "Network conditions:  voicelab doctor: all checked steps pass",
        "Attached:            bundle.zip: recording.jsonl, summary.json, environment.json, doctor.json (keys redacted)",
        "session ids in it: True | close codes in it: True | canary in it: False",
        # the region of each vendor host, read from the specs without connecting
        "wss://api.smallest.ai/waves/v1/stt/live?model=pulse&language=en          -> india",
        "wss://api.us.smallest.ai/waves/v1/stt/live?model=pulse&language=en       -> us",
        "wss://agents.assemblyai.com/v1/ws                                        -> us",
        "wss://agents.eu.assemblyai.com/v1/ws                                     -> eu",
        # the agent cassette's message
        "To: support@assemblyai.com", "Session ids:         sess_", "Endpoint:            ws://127.0.0.1:",
        f"Region:              {LOCAL}", 'Close code, reason:  1000 "session ended" after',
        "Attached:            nothing yet: attach rec.support_bundle(",
        "emulator closed, bundles removed: True",
    ]
    missing = [e for e in expected if e not in text]
    assert not missing, (missing, text[-4000:])
    # the message of the session that went wrong: both closes, one per line, the reconnect, doctor's timings
    message = next(_text(c) for c in code if "trouble.recording.support_message(" in c.source)
    assert re.search(r'Close code, reason:  1011 "injected fault" after \d+\.\d\d s\n {21}1000 ', message), message
    timed = r"; url \d+\.\d ms, dns \d+\.\d ms, tcp \d+\.\d ms, upgrade \d+\.\d ms, "
    assert re.search(r"all checked steps pass.*" + timed + r".*; \d+ reconnects? during the session\n", message), \
        message
    assert f"Region:              {LOCAL}" in message and "Endpoint:            ws://127.0.0.1:" in message
    assert "token=***" in message and "Error messages:      none from the server" in message
    # the library does it now: no notebook helpers, doctor.json written by support_bundle itself
    sources = "\n".join(c.source for c in nb.cells)
    assert "def support_message" not in sources and "def connected_to" not in sources
    assert "'a') as z" not in sources and "vendor production host" not in sources
    searched = next(_text(c) for c in code if c.source.startswith("places = "))
    assert searched.count("canary: False") == 7 and "canary: True" not in searched, searched
    for field in ("session_ids", "closes", "started_at", "endpoint", "versions", "connected_to"):
        assert field in text
    diagnosed = [_text(c) for c in code if c.source.startswith("vl.diagnose(")]
    assert len(diagnosed) == 2 and all("no findings" in d for d in diagnosed), diagnosed
    assert "session ids" in diagnosed[0] and "close codes" in diagnosed[0] and "started at" in diagnosed[0]
    assert "<Diagnosis assemblyai-agent: no findings>" in diagnosed[1]
    assert _pngs(code) >= 2, "the static timelines did not render"
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert "vl-timeline" in " ".join(str(state[m]["state"].get("_esm", ""))[:20000] for m in state)
    saved = nbformat.writes(nb)
    assert not CANARY_SHAPE.search(saved), "a canary key reached the saved notebook"


def test_cassettes_load_replay_and_hold_no_key(tmp_path):
    mc = _make_cassettes()
    names = sorted(p.name for p in (ROOT / "data" / "cassettes").glob("*.jsonl"))
    assert names == sorted(c.name for c in mc.CASSETTE_SET)
    for cassette in mc.CASSETTE_SET:
        mc.check(ROOT / "data" / "cassettes" / cassette.name, provider=cassette.provider)
    # the key check can fail: the same cassette with a key in one message does not pass
    pulse = ROOT / "data" / "cassettes" / "pulse_fox.jsonl"
    lines = pulse.read_text().splitlines()
    planted = tmp_path / "planted.jsonl"
    planted.write_text("\n".join([*lines[:-1], json.dumps({"t": 9.0, "kind": "note", "text": "Bearer sk_1234567890ab"}),
                                  lines[-1]]) + "\n")
    with pytest.raises(AssertionError, match="shaped like a key"):
        mc.check(planted, provider="pulse")


@pytest.mark.timeout(600)
def test_live_cells_run_against_an_emulator_with_a_canary_key_and_leak_it_nowhere(tmp_path, monkeypatch):
    """The cells that run only with a key, executed for real: the emulator stands in for the vendor
    (VOICELAB_TARGET_URL) and both key variables hold a canary that must appear in no output or file."""
    canary = "sk_canary_" + os.urandom(12).hex()
    work = tmp_path / "nb"
    work.mkdir()
    (tmp_path / "data").symlink_to(ROOT / "data")  # the notebook finds ../data, as it does in notebooks/
    shutil.copy(NOTEBOOKS / NAME, work / NAME)
    nb = nbformat.read(work / NAME, as_version=4)
    with vl.serve(engine="sphinx", api_key=canary, announce=False,
                  recognizer_options={"processes": 0, "warm": 1}) as server:
        for env in KEY_ENVS:
            monkeypatch.setenv(env, canary)
        monkeypatch.setenv("VOICELAB_TARGET_URL", server.url)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    code = _clean(nb)
    text = _all_text(code)
    assert "skipped:" not in text, text[:3000]
    assert text.count("set (not shown)") == 2 and "target: ws://127.0.0.1:" in text
    for name in ("pulse_fox.jsonl", "agent_fox.jsonl"):
        assert f"saved your own cassette: my-cassettes/{name}" in text
    live = [_text(c) for c in code if c.source.rstrip().endswith(("live_check('pulse')",
                                                                  "live_check('assemblyai-agent')"))]
    assert len(live) == 2
    for out in live:
        assert "all checked steps pass" in out and "transcript: " in out and "no findings" in out, out[:3000]
    assert re.search(r"transcript: \S", live[0]), live[0][:2000]  # sphinx words: not checked
    assert text.count("your key in it: False; in your cassette: False") == 2
    assert text.count(f"Region:              {LOCAL}") == 4  # trouble, agent cassette, yours x2
    assert text.count("Attached:            pulse-bundle.zip: recording.jsonl, summary.json, environment.json, "
                      "doctor.json (keys redacted)") == 1
    assert _pngs(code) >= 4  # two live timelines and the two cassette timelines
    assert canary not in nbformat.writes(nb), "the key reached the notebook's outputs"
    for name, provider in (("pulse_fox.jsonl", "pulse"), ("agent_fox.jsonl", "assemblyai-agent")):
        own = work / "my-cassettes" / name
        assert canary.encode() not in own.read_bytes()
        rec = vl.Recording.load(own)
        assert rec.provider == provider and rec.session_ids() and rec.stats.finals >= 1
        bundle = rec.support_bundle(tmp_path / f"{provider}.zip")
        with zipfile.ZipFile(bundle) as z:
            assert not [n for n in z.namelist() if canary.encode() in z.read(n)]
