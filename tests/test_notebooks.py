"""The tutorial notebooks run top to bottom offline and show what they promise."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _run(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
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
