"""Findings in JupyterLab: a recorded faulty session (float32 samples declared linear16) diagnosed in a view.

A small notebook is written into the Lab's root: cell 0 streams the fault to the emulator and shows a Findings
view of its Recording with a Timeline it marks; cell 1 prints the rows voicelab computed, which the test
compares with what the browser shows. Screenshots go to ``test-artifacts/browser/findings-*.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Lab, notebook_page, write_notebook
from tests.browser.test_quickstart_lab import output_text, wait_until_all_ran

LAB_PATH = "findings/findings.ipynb"
CELLS = [
    f"""import json, voicelab as vl
server = vl.serve(engine="sphinx", announce=False)
f32 = vl.load({str(ROOT / "data" / "speech" / "s01_fox_16k.flac")!r}).samples.astype("<f4").tobytes()
rec = vl.stream(iter([f32[i:i + 4096] for i in range(0, len(f32), 4096)]), url=server.url,
                api_key=server.api_key, speed=None, preflight=False).wait(120).recording
server.close()
tl = vl.widgets.Timeline(rec)
view = vl.widgets.Findings(rec, timeline=tl)
display(view, tl)""",
    """print("ROWS", json.dumps({"rows": view.findings, "markers": tl.findings}))""",
]


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Any, artifacts: Path) -> Iterator[Any]:
    write_notebook(lab, LAB_PATH, CELLS)
    with notebook_page(lab, browser, artifacts, path=LAB_PATH, name="findings",
                       run_all=lambda pg: wait_until_all_ran(pg, timeout=120)) as pg:
        yield pg


def test_rows_render_with_severity_fix_and_time(page: Any, artifacts: Path) -> None:
    want = json.loads(output_text(page, 1).split("ROWS ", 1)[1].strip().splitlines()[0])
    rows = want["rows"]
    assert "float32_as_int16" in [r["code"] for r in rows]
    view = page.locator(".vl-findings").first
    view.wait_for(timeout=30000)
    assert view.locator(".vl-fd-status").inner_text() == "final diagnosis"
    shown = view.locator("tr.vl-fd-row")
    assert shown.count() == len(rows)
    for k, r in enumerate(rows):
        tr = shown.nth(k)
        assert tr.get_attribute("data-code") == r["code"]
        assert tr.locator(".vl-fd-sev").inner_text() == r["severity"]
        assert tr.locator(".vl-fd-msg").inner_text() == r["message"]
        assert tr.locator(".vl-fd-fix code").inner_text() == r["fix"]
        if r["t"] is not None:
            assert tr.locator(".vl-fd-t a").inner_text() == f"{r['t']:.2f}"
    f32 = view.locator("tr.vl-fd-row[data-code='float32_as_int16']")
    assert f32.locator(".vl-fd-sev").inner_text() == "error" and "float32" in f32.locator(".vl-fd-fix").inner_text()
    # clicking a time selects the finding (a round trip through the model)
    f32.locator(".vl-fd-t a").click()
    page.wait_for_function("(el) => el.classList.contains('vl-fd-selected')", arg=f32.element_handle(), timeout=10000)
    view.screenshot(path=str(artifacts / "findings-recorded.png"))
    # the Timeline got one marker per finding with a time
    assert [m["code"] for m in want["markers"]] == [r["code"] for r in rows if r["t"] is not None]
    page.locator(".vl-timeline").first.screenshot(path=str(artifacts / "findings-timeline.png"))
