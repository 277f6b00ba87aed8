"""One convention for the widgets' front-end code: each ``_esm``/``_css`` is a file beside its Python module.

The views' shared helpers and the Recorder's AudioWorklet are files too, sent as traits. No Python module
under voicelab/widgets holds JS or CSS in a string.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("anywidget")

from voicelab.audio.clip import Clip  # noqa: E402
from voicelab.recording.log import Recording  # noqa: E402
from voicelab.widgets import LatencyChart, Recorder, Spectrogram, Timeline, Waveform  # noqa: E402

WIDGETS = Path(__file__).resolve().parents[2] / "voicelab" / "widgets"


def _clip() -> Clip:
    return Clip(np.sin(np.arange(16000) / 10).astype(np.float32) * 0.3, samplerate=16000)


def _recording() -> Recording:
    rec = Recording(provider="pulse", clock=lambda: 0.0, wall_clock=lambda: 0.0)
    rec.log("connect", attempt=1, t=0.0)
    return rec


@pytest.mark.parametrize(("make", "esm", "css"), [
    (lambda: Waveform(_clip()), "waveform.js", "widgets.css"),
    (lambda: Spectrogram(_clip()), "spectrogram.js", "widgets.css"),
    (lambda: Timeline(_recording()), "timeline.js", "widgets.css"),
    (lambda: LatencyChart(_recording()), "latency.js", "widgets.css"),
    (lambda: Recorder(), "recorder.js", "recorder.css"),
], ids=["Waveform", "Spectrogram", "Timeline", "LatencyChart", "Recorder"])
def test_esm_and_css_are_the_files_beside_the_module(make: Any, esm: str, css: str) -> None:
    state = make().get_state()
    assert state["_esm"] == (WIDGETS / esm).read_text(encoding="utf-8")
    assert state["_css"] == (WIDGETS / css).read_text(encoding="utf-8")
    if css == "widgets.css":
        assert state["_common"] == (WIDGETS / "_common.js").read_text(encoding="utf-8")
    else:
        assert state["_worklet"] == (WIDGETS / "recorder_worklet.js").read_text(encoding="utf-8")


def test_no_python_module_holds_js_or_css_in_a_string() -> None:
    """Any multi-line string that is not a docstring and looks like code (braces and semicolons) fails."""
    found = []
    for path in sorted(WIDGETS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and node.value.count("\n") >= 2 and "{" in node.value and ";" in node.value):
                found.append(f"{path.name}:{node.lineno}")
    assert not found, f"inline JS/CSS: move it into a .js/.css file beside the module: {found}"


def test_each_view_imports_only_helpers_that_common_js_exports() -> None:
    common = (WIDGETS / "_common.js").read_text(encoding="utf-8")
    exported = set(re.search(r"^export \{([^}]*)\};", common, re.M).group(1).replace(" ", "").split(","))
    for name in ("waveform", "spectrogram", "timeline", "latency"):
        js = (WIDGETS / f"{name}.js").read_text(encoding="utf-8")
        wanted = re.search(r"const \{([^}]*)\} = await helpers\(model\);", js)
        assert wanted, f"{name}.js does not load the shared helpers"
        names = set(wanted.group(1).replace(" ", "").split(","))
        assert names <= exported, (name, names - exported)
        declared = set(re.findall(r"^(?:async )?function (\w+)", common, re.M))
        unloaded = {f for f in declared & exported if re.search(rf"\b{f}\(", js)} - names - {"initializeStore"}
        assert not unloaded, f"{name}.js calls {unloaded} without loading them"
