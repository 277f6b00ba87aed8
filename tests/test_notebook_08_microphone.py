"""08-microphone.ipynb shows what it promises, and the Chromium captures it shows are what the script wrote.

The notebook runs under nbval with no browser; its screenshots and browser facts come from
scripts/mic_screenshots.py (real headless chromium). These tests read the saved notebook (see
tests/test_notebooks.py) and the files in notebooks/images/; the last one re-runs the script in chromium
when it is installed and checks that the committed facts still hold.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from tests.test_notebooks import NOTEBOOKS, _clean, _run, _text

NAME = "08-microphone.ipynb"
IMAGES = NOTEBOOKS / "images"
SHOTS = ["recording", "ec-off", "permission-denied", "insecure-context", "no-microphone"]
WIDGET = "application/vnd.jupyter.widget-view+json"
SCRIPT = NOTEBOOKS.parent / "scripts" / "mic_screenshots.py"


@pytest.fixture(scope="module")
def nb() -> nbformat.NotebookNode:
    return _run(NAME)


@pytest.fixture(scope="module")
def code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return _clean(nb)  # no error, no stderr


@pytest.fixture(scope="module")
def facts() -> dict:
    return dict(json.loads((IMAGES / "08-chromium-facts.json").read_text()))


def cell(code: list[nbformat.NotebookNode], marker: str) -> str:
    """The output text of the one code cell whose source contains ``marker``."""
    found = [c for c in code if marker in c.source]
    assert len(found) == 1, f"{len(found)} cells contain {marker!r}"
    return _text(found[0])


def test_the_screenshots_are_small_pngs_shown_with_a_caption_naming_the_script(nb: nbformat.NotebookNode) -> None:
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for shot in SHOTS:
        path = IMAGES / f"08-recorder-{shot}.png"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 100_000, path
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert 600 <= width <= 800 and 150 <= height <= 400, f"{path} is not cropped to the widget: {width}x{height}"
        ref = f"](images/08-recorder-{shot}.png)"
        assert ref in markdown, f"{shot} is not shown"
        caption = markdown.split(ref, 1)[1].split("\n\n")[1]
        assert caption.startswith("*") and "scripts/mic_screenshots.py" in caption and "headless Chromium" in caption
    assert "scripts/mic_screenshots.py" in nb.cells[0].source and "no browser attached" in nb.cells[0].source
    for seed in ("Microphone Access Denied", "Request Permissions", "Handle HTTPS Requirement",
                 "Microphone permission denied", "Wrong sample rate"):
        assert seed in nb.cells[0].source


def test_the_facts_are_what_chromium_reported(facts: dict) -> None:
    on, off = facts["recording"], facts["ec_off"]
    assert facts["audiocontext_rates"]["asked_16000"] == 16000 and facts["audiocontext_rates"]["asked_24000"] == 24000
    for take in (on, off):
        assert take["start"]["context_rate"] == facts["audiocontext_rates"]["default"]
        assert take["start"]["target_rate"] == 16000 and take["done"]["frames"] == 89600
    assert on["start"]["track_settings"]["echoCancellation"] is True
    assert off["start"]["track_settings"]["echoCancellation"] is False
    assert off["start"]["track_settings"]["autoGainControl"] is False
    assert off["pcm"]["correlation_with_file"] > 0.99 > on["pcm"]["correlation_with_file"]  # EC changes the samples
    assert facts["permission_denied"]["error"]["name"] == "NotAllowedError"
    assert facts["permission_denied"]["is_secure_context"] is True
    assert facts["insecure_context"]["error"]["name"] == "InsecureContextError"
    assert facts["insecure_context"]["is_secure_context"] is False
    assert facts["no_microphone"]["error"]["name"] == "NotFoundError"
    for name in ("permission_denied", "insecure_context", "no_microphone"):
        assert facts[name]["other_messages"] == [], "a failed take must send nothing but the error"
    assert "Allow microphone access" in facts["permission_denied"]["widget_text"]
    assert "HTTPS" in facts["insecure_context"]["widget_text"]


def test_the_recorder_is_displayed_and_the_chromium_facts_printed(nb: nbformat.NotebookNode, code: list,
                                                                 facts: dict) -> None:
    views = [o["data"][WIDGET]["model_id"] for c in code for o in c.outputs if WIDGET in o.get("data", {})]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any("voicelab-recorder" in str(state[m]["state"].get("_esm", "")) for m in views), "no Recorder view"
    idle = "<Recorder idle: int16 mono @ 16000 Hz, 0.1 s chunks, echo cancellation on>"
    assert idle in cell(code, "print(repr(rec))")
    printed = cell(code, "take = FACTS['recording']")
    start = facts["recording"]["start"]
    assert f"AudioContext rate (the browser chose): {start['context_rate']} Hz" in printed
    assert "rate sent to the kernel: 16000 Hz" in printed and str(start["track_settings"]) in printed
    assert "5.6 s at 16000 Hz | ok for pulse: True | findings: []" in cell(code, "chromium_take = vl.load")


def test_each_browser_error_becomes_its_exception_with_the_fix(code: list, facts: dict) -> None:
    text = cell(code, "BROWSER_ERRORS = [")
    expected = [("NotAllowedError", "MicrophonePermissionError (a PermissionError)", "Grant the browser permission"),
                ("InsecureContextError", "InsecureContextError", "Serve JupyterLab over HTTPS"),
                ("NotFoundError", "NoMicrophoneError", "connect a microphone"),
                ("SecurityError", "MicrophonePermissionError (a PermissionError)", "security policy"),
                ("NotReadableError", "NoMicrophoneError", "could not be opened")]
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert len(blocks) == len(expected)
    for block, (name, kind, fix) in zip(blocks, expected, strict=True):
        assert block.startswith(f"{name} -> {kind}\n") and fix in block, block
    assert f"[browser: NotAllowedError: {facts['permission_denied']['error']['message']}]" in text
    assert "http://192.168.1.20:8888 is not a secure context" in text
    assert "RecorderNotFinishedError: nothing recorded yet" in cell(code, "    rec.clip\n")


def test_safaris_rate_is_named_rate_mismatch_and_fixed(code: list) -> None:
    assert "0 pre-flight warnings" in cell(code, "safari_frames = speech.resample(48000)")
    named = cell(code, "f = next(f for f in d if f.code == 'rate_mismatch')")
    assert re.search(r"pulse \(labelled 16 kHz\)\s+rate_mismatch \(error\): recorded at about 48000 Hz", named)
    assert re.search(r"agent \(labelled 24 kHz\)\s+rate_mismatch \(error\): recorded at about 48000 Hz", named)
    assert "for pulse: [error] rate_mismatch" in named and "for assemblyai-agent: [error] rate_mismatch" in named
    fixed = cell(code, "mic48 = vl.load(pcm48, raw='linear16:48000:1')")
    assert "pulse (16 kHz)  sent as 16000 Hz | 'weather' heard: True | nothing wrong" in fixed
    assert "agent (24 kHz)  sent as 24000 Hz | 'weather' heard: True | nothing wrong" in fixed
    garbled = cell(code, "for case, s in safari.items():\n    print(")
    assert "weather today" not in garbled.lower(), "the mislabelled audio was transcribed correctly?"
    rule = cell(code, "StreamSetupError:', exc")
    assert "expects linear16 at 24000 Hz" in rule and "Recorder(target_rate=...)" in rule
    assert "<Recorder idle: int16 mono @ 24000 Hz" in rule
    assert sum("image/png" in o.get("data", {}) for c in code for o in c.outputs) >= 2, "figures did not render"


def test_echo_cancellation_table_and_the_live_stream(nb: nbformat.NotebookNode, code: list) -> None:
    table = cell(code, "for name, label in (('recording', 'EC on'), ('ec_off', 'EC off')):")
    assert re.search(r"EC on\s+True\s+True\s+True\s+48000", table)
    assert re.search(r"EC off\s+False\s+False\s+False", table)
    assert "06-voice-agent.ipynb" in "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "skipped: no recording from section 1" in cell(code, "mic_stream = mic.stream_to(")
    live = cell(code, "live.wait(60)")
    assert "56 chunks pushed, 5.6 s of audio | chunks sent: 56" in live
    assert "'weather today is sunny' heard: True" in live
    assert "errors: none | paced like a microphone: True" in live
    assert "server.close()" in code[-1].source


def test_the_script_builds_the_widget_page_without_a_browser() -> None:
    spec = importlib.util.spec_from_file_location("mic_screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = module.widget_files(target_rate=16000, echo_cancellation=False, max_seconds=2.0)
    page = files["/"]
    assert "vl-rec" in page and '"echo_cancellation": false' in page and '"max_seconds": 2.0' in page
    assert "_worklet" in page and "voicelab-recorder" in files["/recorder.js"] + page


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.skipif(not os.environ.get("VOICELAB_LONG_TESTS"), reason="long form: set VOICELAB_LONG_TESTS=1 "
                    "(the widget's errors in real Chromium are tested in tests/browser/test_recorder_esm.py)")
def test_the_script_reproduces_the_committed_facts_in_chromium(tmp_path: Path) -> None:
    chromium = os.environ.get("VOICELAB_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK) or importlib.util.find_spec("playwright") is None:
        pytest.skip("needs chromium and playwright (scripts/browser_deps.sh)")
    import subprocess

    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--chromium", chromium],
                         capture_output=True, text=True, timeout=170)
    assert run.returncode == 0, run.stderr[-3000:]
    new = json.loads((tmp_path / "08-chromium-facts.json").read_text())
    old = json.loads((IMAGES / "08-chromium-facts.json").read_text())
    assert new["audiocontext_rates"] == old["audiocontext_rates"]
    for take in ("recording", "ec_off"):
        assert new[take]["start"] == old[take]["start"]
        assert new[take]["done"] == old[take]["done"]
    for take in ("permission_denied", "insecure_context", "no_microphone"):
        if take == "no_microphone" and new[take]["error"] is None:
            continue  # this machine has a capture device, so chromium recorded instead
        assert new[take]["error"] == old[take]["error"]
    for shot in SHOTS:
        assert (tmp_path / f"08-recorder-{shot}.png").stat().st_size < 100_000
