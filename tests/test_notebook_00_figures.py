"""Tutorial 00 shows each broken file next to the good one (`vl.plot.compare`) and the fixes' result."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.test_notebooks import _run, _text

MANIFEST = json.loads((Path(__file__).resolve().parents[1] / "data" / "manifest.json").read_text())
# drawn next to the good file; left out: stereo_44k_float.wav (a conversion, looks like the good one) and
# weather_16k_labelled_8k.raw (the 48k-as-16k mistake by a factor of 2, shown as an inspect report)
DRAWN = {Path(e["path"]).name: e["expect"] for e in MANIFEST["files"] if e["kind"] == "broken"}
DRAWN.pop("stereo_44k_float.wav")
DRAWN.pop("weather_16k_labelled_8k.raw")


@pytest.fixture(scope="module")
def nb():
    return _run("00-inspect-audio.ipynb")


def test_runs_clean(nb):
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors[0].get("evalue")
    assert not any(o.get("name") == "stderr" for c in code for o in c.outputs), "a cell wrote to stderr"
    assert "wrong_samplerate" in _text(code[2])  # the first cells stay where tests/test_notebooks.py reads them


def test_every_comparison_is_a_png_figure(nb):
    from PIL import Image

    cells = [c for c in nb.cells if c.cell_type == "code" and "vl.plot.compare(" in c.source]
    assert len(cells) == 6  # rate/channels, sample format, not audio, level, content, fixed
    for cell in cells:
        assert cell.source.startswith("# NBVAL_IGNORE_OUTPUT\n")
        pngs = [o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(pngs) == 1, cell.source
        data = base64.b64decode(pngs[0])
        img = Image.open(io.BytesIO(data))
        assert img.width >= 800 and 350 <= img.height <= 700, img.size
        assert np.asarray(img.convert("L")).std() > 5  # not blank
        assert len(data) < 400_000  # the saved notebook stays small
    drawn = "\n".join(c.source for c in cells)
    for name in DRAWN:
        assert f"'{name}'" in drawn, f"{name} is not drawn"


def test_the_prose_names_what_inspect_finds(nb):
    """Each figure's paragraph names the finding codes; the listing above shows inspect reporting each one."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    listing = next(_text(c) for c in code if "broken/" in _text(c))
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## What each mistake looks like"))
    end = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## The fixes"))
    prose = "\n".join(c.source for c in nb.cells[start:end] if c.cell_type == "markdown")
    for name, expect in DRAWN.items():
        assert f"`{expect}`" in prose, expect
        assert re.search(rf"broken/{re.escape(name)}\s+\S+\s+{expect}\b", listing), (name, expect)


def test_the_fixes_give_back_the_good_audio(nb):
    cell = next(c for c in nb.cells if c.cell_type == "code" and "same samples as good" in c.source)
    rows = {line.split("  ")[0].strip(): line for line in _text(cell).splitlines() if "findings:" in line}
    assert len(rows) == 8
    for name, line in rows.items():
        assert "16000 Hz 5.53 s" in line, line
        assert "findings: none" in line or (name == "float32 declared as float32" and "['float_samples']" in line)
    exact = {"float32 declared as float32", "int16 declared as int16", "byte-swapped, read big-endian",
             "WAV bytes loaded as WAV", "base64 decoded"}
    for name, line in rows.items():
        assert line.endswith(f"same samples as good: {name in exact}"), line
