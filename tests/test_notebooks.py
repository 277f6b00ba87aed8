"""The tutorial notebooks show what they promise.

The README test command runs every notebook under nbval (pyproject's ``--nbval``): each one is executed
top to bottom offline and its deterministic outputs must equal the saved ones. So these tests read the
saved notebooks, which that run has just proven current, instead of executing each one a second time.
``VOICELAB_EXECUTE_NOTEBOOKS=1`` executes them here too (for a run without nbval).
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXECUTE = os.environ.get("VOICELAB_EXECUTE_NOTEBOOKS") == "1"


def _run(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    if EXECUTE:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    else:
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{name} is saved without running every cell"
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/plain", "") + data.get("text/html", ""))
    return "\n".join(parts)


@pytest.mark.timeout(600)
def test_inspect_audio_notebook():
    nb = _run("00-inspect-audio.ipynb")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert not any(o.get("name") == "stderr" for c in code for o in c.outputs), "a cell wrote to stderr"
    html = [c for c in code if any("text/html" in o.get("data", {}) for o in c.outputs)]
    assert html, "the inspection report did not render as HTML"
    listing = next(_text(c) for c in code if "broken/" in _text(c))
    for code_name in ("rate_mismatch", "float32_as_int16", "wav_header_in_raw", "truncated", "stereo_as_mono"):
        assert code_name in listing
    assert "wrong_samplerate" in _text(code[2])


WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.mark.timeout(600)
def test_quickstart_shows_all_five_widgets_and_runs_offline():
    nb = _run("01-quickstart.ipynb")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    views = [o["data"][WIDGET]["model_id"] for c in code for o in c.outputs if WIDGET in o.get("data", {})]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    names = {state[m]["state"].get("_view_name") or state[m]["model_name"] for m in state}
    esm = " ".join(str(state[m]["state"].get("_esm", ""))[:20000] for m in state)
    assert len(views) >= 4  # waveform and spectrogram share one VBox
    for marker in ("vl-waveform", "vl-spectrogram", "vl-timeline", "vl-latency", "voicelab-recorder"):
        assert marker in esm, f"{marker} view missing (models: {sorted(names)})"
    text = "\n".join(_text(c) for c in code)
    assert "chunks sent: " in text and "finals > 0: True" in text and "(1000,)" in text
    assert "True" in _text(next(c for c in code if "replayed.transcript" in c.source))
    pngs = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2, "the static timeline and latency figures did not render"


def _clean(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells, after checking that none raised or wrote to stderr and that no key leaked."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    assert not any(o.get("name") == "stderr" for c in code for o in c.outputs), "a cell wrote to stderr"
    return code


def _pngs(code: list[nbformat.NotebookNode]) -> int:
    return sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)


def _all_text(code: list[nbformat.NotebookNode]) -> str:
    return "\n".join(_text(c) for c in code)


@pytest.mark.timeout(600)
def test_connection_notebook_names_every_cause_with_doctor():
    code = _clean(_run("02-connection.ipynb"))
    listing = next(_text(c) for c in code if "stops at" in _text(c))
    expected = {
        "https:// URL": "url_scheme", "ws:// to a wss-only host": "url_scheme", "wss:// to a plain port": "tls_failure",
        "wrong path": "url_path", "no key": "auth_missing", "bad key": "auth_invalid",
        "Token instead of Bearer": "auth_scheme", "refused port": "connection_refused",
        "firewall black hole": "connect_timeout", "proxy holds the upgrade": "upgrade_timeout",
        "DNS (.invalid)": "dns_failure", "HTTP 401": "auth_invalid", "HTTP 403": "forbidden",
        "HTTP 429": "rate_limited", "HTTP 500": "server_error", "agent: bad key": "auth_invalid",
    }
    for line in listing.splitlines():
        case = line.split(" stops at ")[0].strip()
        if case in expected:
            assert line.split()[-1] == expected.pop(case), line
    assert not expected, f"cases missing from the listing: {sorted(expected)}"
    text = _all_text(code)
    assert "vl-doctor" in text or "doctor" in text
    assert "all steps pass: True" in text and "agent, all steps pass: True" in text
    assert "AuthenticationError" in text and "Bearer" in text
    assert "dropped (1006) and reconnected: True" in text and "last close: 1000" in text
    assert "token=***" in text and "key in either recording: False" in text
    assert "dropped" in text and "reconnected" in text  # the diagnosis of the flaky session
    assert _pngs(code) >= 3, "the step grid, event log and timeline figures did not render"


@pytest.mark.timeout(600)
def test_garbled_notebook_shows_each_mislabel_and_its_fix():
    code = _clean(_run("03-no-transcripts-garbled.ipynb"))
    text = _all_text(code)
    diagnosed = next(_text(c) for c in code if "diagnoses = " in c.source)
    assert "correct                   nothing wrong" in diagnosed
    assert "rate_mismatch" in diagnosed and "float32_as_int16" in diagnosed and "text_frames" in diagnosed
    assert "distinct values after the snippet: [0]" in text
    assert "silence" in _text(next(c for c in code if c.source.startswith("vl.inspect(audio")))
    assert "['silent_audio', 'no_transcripts']" in text
    assert "ok for pulse: True" in text
    fixed = next(_text(c) for c in code if c.source.startswith("for case, s in fixed.items():\n    d = "))
    assert fixed.count("nothing wrong") == 4, fixed
    transcripts = next(_text(c) for c in code if "s.transcript!r" in c.source and "fixed" in c.source)
    assert transcripts.lower().count("weather today is sunny") >= 3, transcripts
    assert _pngs(code) >= 4, "the spectrograms and timelines did not render"


@pytest.mark.timeout(600)
def test_drops_notebook_reconnects_resumes_and_ends_sessions():
    code = _clean(_run("04-drops-reconnect-resume.ipynb"))
    text = _all_text(code)
    assert "ConnectionDropped - close code 1006" in text and "['error dropped']" in text
    assert "drops: True | every drop 1006: True | chunks resent: True | last close: 1000" in text
    assert "True True" in text  # dropped + reconnected named by diagnose
    assert "1011" in text
    assert "one session throughout: True" in text and "session.resume" in text
    assert "errors: ['session_not_found']" in text and "fell back: True" in text
    assert "newest first: ['client_end', 'client_disconnected']" in text
    assert "session_end_missing" in text and "voicelab stream: False" in text
    assert _pngs(code) >= 1, "the timeline with the gaps did not render"


def test_index_lists_every_notebook_and_every_seed_heading():
    index = (NOTEBOOKS / "README.md").read_text()
    for nb in sorted(NOTEBOOKS.glob("*.ipynb")):
        assert f"({nb.name})" in index, f"{nb.name} is not in notebooks/README.md"
    assert "not covered yet" not in index.lower(), "a seed heading has no notebook section"
    names = [nb.stem for nb in NOTEBOOKS.glob("*.ipynb")]
    for row in index.splitlines():
        if row.startswith("| ") and not row.startswith(("| heading", "| notebook", "|---", "| [")):
            assert any(name in row for name in names), f"this index row names no notebook: {row}"
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("the seed pages are not next to this checkout")
    for page in seeds.glob("*.md"):
        for line in page.read_text().splitlines():
            if line.startswith("## ") or line.startswith("### "):
                heading = line.lstrip("#").strip().replace("`", "")
                assert heading in index.replace("`", ""), f"seed heading {heading!r} ({page.name}) is not in the index"


@pytest.mark.timeout(600)
def test_latency_notebook_names_pacing_and_shows_partials_and_finalize():
    nb = _run("05-latency.ipynb")
    code = _clean(nb)
    text = _all_text(code)
    assert "audio seconds per wall second: 2.56" in text
    assert "warning faster_than_real_time | ratio above 2: True" in text
    assert "send(); sleep() ends later than paced sending: True" in text
    assert "paced sending: median lateness under 10 ms: True" in text
    sweep = next(_text(c) for c in code if "PACING = " in c.source)
    for line, expected in (("20 ms chunks", "nothing wrong"), ("50 ms chunks", "nothing wrong"),
                           ("4096 B every 128 ms", "nothing wrong"), ("250 ms chunks", "chunk_interval_long"),
                           ("4096 B every 50 ms", "faster_than_real_time")):
        row = next(r for r in sweep.splitlines() if r.startswith(line))
        assert expected in row, row
    assert "a finals-only handler misses updates: True" in text
    assert "warning partials_absent | partials: 0" in text
    assert "a final from finalize: True | the stream went on after it: True" in text
    assert "words_rewritten_after_display" in text
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    esm = " ".join(str(state[m]["state"].get("_esm", ""))[:20000] for m in state)
    assert "vl-latency" in esm and "vl-timeline" in esm
    assert _pngs(code) >= 5, "the drift, sweep, latency and timeline figures did not render"


@pytest.mark.timeout(600)
def test_voice_agent_notebook_turns_tools_errors_and_the_echo_loop():
    nb = _run("06-voice-agent.ipynb")
    code = _clean(nb)
    text = _all_text(code)
    expected = [
        "first reply interrupted by the user (barge-in): True",
        "tool called with: ['Paris'] | the reply uses the result: True",
        "[('error', 'wrong_samplerate')]", "24 kHz, ok for the agent: True",
        "server errors: ['invalid_audio']", "['wav_header_in_raw']",
        "server errors: ['invalid_format']", "error invalid_format",
        "errors: [] | invalid_*: []",
        "error token_expired", "auth findings: []",
        "first reply interrupted: True | replies cut off: True",
        "error echo_loop | lag near 0.7 s: True",
        "replies: 1 | interrupted: [False] | echo_loop: False",
    ]
    missing = [e for e in expected if e not in text]
    assert not missing, (missing, text[-4000:])
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    esm = " ".join(str(state[m]["state"].get("_esm", ""))[:20000] for m in state)
    assert "vl-timeline" in esm
    assert _pngs(code) >= 4, "the timelines, spectrograms and reply figures did not render"


@pytest.mark.timeout(600)
def test_tap_notebook_records_breaks_and_authorises_a_client_voicelab_did_not_write():
    nb = _run("07-tap.ipynb")
    code = _clean(nb)
    text = _all_text(code)
    expected = [
        "app exit code: 0 | stderr empty: True",
        "the tap saw the finals the app printed: True",
        "| largest: 4096 B | close code: 1000",
        "key in the recording: False",
        "first response measured: True",
        "close 1006 by tap | frames 10 | ['dropped']",
        "close 1011 by tap | frames 10 | ['server_closed']",
        "ConnectionClosedError",
        "local token in the URL: True | key in the URL: False | key in the repr: False",
        "with the token: finals True | handshake 101",
        "without it: 403",
    ]
    missing = [e for e in expected if e not in text]
    assert not missing, (missing, text[-4000:])
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    esm = " ".join(str(state[m]["state"].get("_esm", ""))[:20000] for m in state)
    assert "vl-timeline" in esm and "vl-eventlog" in esm
    assert _pngs(code) >= 3, "the static timeline and event log figures did not render"
