"""The quickstart notebook in JupyterLab: run all, then check that each of its five widgets drew something real.

The notebook (``notebooks/01-quickstart.ipynb``) is copied, without its saved outputs and widget state, into
``<lab root>/notebooks/``; ``<lab root>/data`` links to the repository's ``data/`` so its ``../data`` resolves.
"Run all" streams a 12.8 s sample to the local emulator in real time, so the cell after the Timeline and the
LatencyChart blocks in ``stream.wait()`` while they fill in: the views must render without a kernel round trip.

Screenshots go to ``test-artifacts/browser/quickstart-*.png``: one per widget and the whole notebook.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Lab, notebook_page

NOTEBOOK = ROOT / "notebooks" / "01-quickstart.ipynb"
LAB_PATH = "notebooks/01-quickstart.ipynb"
RUN_TIMEOUT = 240.0  # s: the recognizer loads, then 12.8 s of audio go out in real time, then a replay

#: Pixels of a canvas that are not blank (alpha > 0 and not the page background), in JS.
PAINTED_PIXELS = """(canvas) => {
    const ctx = canvas.getContext("2d"), { width, height } = canvas;
    if (!width || !height) return { painted: 0, total: 0, colours: 0 };
    const px = ctx.getImageData(0, 0, width, height).data;
    let painted = 0; const colours = new Set();
    for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] === 0) continue;
        painted++;
        if (colours.size < 512) colours.add((px[i] >> 3) << 10 | (px[i + 1] >> 3) << 5 | px[i + 2] >> 3);
    }
    return { painted, total: width * height, colours: colours.size };
}"""


def cell_index(source_prefix: str) -> int:
    """Index of the first code cell of the quickstart whose source (comments dropped) starts with the prefix."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, 4)
    for i, cell in enumerate(nb.cells):
        code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#"))
        if cell.cell_type == "code" and code.strip().startswith(source_prefix):
            return i
    raise AssertionError(f"no code cell starting with {source_prefix!r} in {NOTEBOOK}")


def copy_notebook(lab: Lab) -> None:
    """The quickstart without outputs or saved widget state, with ``../data`` reachable from it."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, 4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    target = lab.root_dir / LAB_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    data = lab.root_dir / "data"
    if not data.exists():
        data.symlink_to(ROOT / "data", target_is_directory=True)


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Any, artifacts: Path) -> Iterator[Any]:
    """The quickstart open in JupyterLab after "run all" has finished every cell."""
    copy_notebook(lab)
    with notebook_page(lab, browser, artifacts, path=LAB_PATH, name="quickstart",
                       run_all=lambda pg: wait_until_all_ran(pg, timeout=RUN_TIMEOUT)) as pg:
        yield pg


def wait_until_all_ran(pg: Any, *, timeout: float) -> None:
    """Wait until every code cell has an execution count and the kernel is idle; fail at the first traceback."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = pg.evaluate("""() => { const w = window.jupyterapp.shell.currentWidget;
            const cells = Array.from(w.content.model.cells);
            const code = cells.filter((c) => c.type === 'code');
            const errors = [];
            code.forEach((c, i) => { for (let j = 0; j < c.outputs.length; j++) {
                const o = c.outputs.get(j).toJSON();
                if (o.output_type === 'error') errors.push(`cell ${cells.indexOf(c)}: ${o.ename}: ${o.evalue}`); } });
            return { pending: code.filter((c) => c.executionCount == null).length, errors,
                     status: w.sessionContext.session.kernel.status }; }""")
        if state["errors"]:
            pytest.fail("a quickstart cell raised: " + "; ".join(state["errors"]))
        if state["pending"] == 0 and state["status"] == "idle":
            return
        time.sleep(0.25)
    pytest.fail(f"run-all did not finish within {timeout} s: {state}")


def output_text(pg: Any, index: int) -> str:
    """The text (stream and text/plain outputs) of cell ``index``, read from the notebook model."""
    return str(pg.evaluate("""(i) => { const c = window.jupyterapp.shell.currentWidget.content.model.cells.get(i);
        const out = [];
        for (let j = 0; j < c.outputs.length; j++) { const o = c.outputs.get(j).toJSON();
            if (o.text) out.push([].concat(o.text).join(""));
            else if (o.data && o.data["text/plain"]) out.push([].concat(o.data["text/plain"]).join("")); }
        return out.join("\\n"); }""", index))


def shoot(pg: Any, locator: Any, path: Path) -> None:
    locator.scroll_into_view_if_needed()
    pg.wait_for_timeout(150)  # one animation frame for the canvas after scrolling
    locator.screenshot(path=str(path))


def test_session_finished_with_a_transcript(page: Any) -> None:
    text = output_text(page, cell_index("stream.wait()")).strip()
    assert len(re.findall(r"[A-Za-z]+", text)) >= 5, f"no transcript printed: {text!r}"


def test_waveform_and_spectrogram_draw_the_clip(page: Any, artifacts: Path) -> None:
    wave = page.locator(".vl-waveform").first
    shoot(page, wave, artifacts / "quickstart-waveform.png")
    px = wave.locator("canvas").evaluate(PAINTED_PIXELS)
    assert px["painted"] > 0.05 * px["total"], px  # the envelope of 12.8 s of speech fills much of the canvas
    assert "s03_meeting_16k.flac" in wave.locator(".vl-info").inner_text()

    spec = page.locator(".vl-spectrogram").first
    shoot(page, spec, artifacts / "quickstart-spectrogram.png")
    px = spec.locator("canvas").evaluate(PAINTED_PIXELS)
    assert px["painted"] > 0.8 * px["total"] and px["colours"] > 40, px  # a full image, many colormap levels
    assert "STFT 512" in spec.locator(".vl-info").inner_text()


def test_timeline_shows_finals(page: Any, artifacts: Path) -> None:
    from tests.browser.test_recorder_lab import finals_on_timeline

    timeline = page.locator(".vl-timeline").first
    timeline.scroll_into_view_if_needed()
    info = timeline.locator(".vl-info")
    page.wait_for_function("(el) => /\\bdone\\b/.test(el.textContent) && /[1-9]\\d* finals?/.test(el.textContent)",
                           arg=info.element_handle(), timeout=15000)
    shoot(page, timeline, artifacts / "quickstart-timeline.png")
    finals = finals_on_timeline(page, timeline)
    assert finals, f"no final on the timeline; info: {info.inner_text()}"
    assert any(re.search(r"“[^”]{3,}”", f) for f in finals), finals
    n_finals = int(re.search(r"(\d+) finals?", info.inner_text()).group(1))
    assert n_finals >= 1


def test_latency_chart_shows_percentiles(page: Any, artifacts: Path) -> None:
    chart = page.locator(".vl-latency").first
    chart.scroll_into_view_if_needed()
    legend = chart.locator(".vl-legend")
    page.wait_for_function("(el) => /\\d+ ms/.test(el.textContent) && /done/.test(el.parentNode.textContent)",
                           arg=legend.element_handle(), timeout=15000)
    shoot(page, chart, artifacts / "quickstart-latency.png")
    rows = legend.locator("tr").evaluate_all("(rows) => rows.map((r) => Array.from(r.cells, (c) => c.textContent))")
    header, figures = rows[0], {r[0].split()[-1]: dict(zip(rows[0][1:], r[1:], strict=True)) for r in rows[1:]}
    assert header[1:5] == ["P50", "P95", "P99", "n"], header
    for name in ("audio_cursor_lag", "final_latency"):
        assert re.fullmatch(r"\d+ ms", figures[name]["P50"]) and int(figures[name]["n"]) >= 1, figures
    px = chart.locator("canvas").evaluate(PAINTED_PIXELS)
    assert px["painted"] > 0.01 * px["total"], px


def test_recorder_shows_its_record_button(page: Any, artifacts: Path) -> None:
    rec = page.locator(".vl-rec").first
    shoot(page, rec, artifacts / "quickstart-recorder.png")
    button = rec.locator(".vl-rec-button")
    assert button.is_visible() and button.is_enabled()
    assert "Record" in button.inner_text()
    assert rec.get_attribute("data-state") == "idle"


def test_full_notebook_screenshot(page: Any, artifacts: Path) -> None:
    """The whole notebook in one image: a viewport as tall as the notebook, so every cell is laid out."""
    scroller = """() => { const n = window.jupyterapp.shell.currentWidget.content.node;
        const all = [n, ...n.querySelectorAll('.jp-WindowedPanel-outer')];
        return all.sort((p, q) => q.scrollHeight - p.scrollHeight)[0]; }"""
    height = page.evaluate(f"""() => {{ const s = ({scroller})();
        return s.scrollHeight + s.getBoundingClientRect().top + 60; }}""")
    page.set_viewport_size({"width": 1280, "height": int(min(max(height, 1000), 16000))})
    page.evaluate(f"""() => {{ window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0;
        ({scroller})().scrollTop = 0; }}""")
    page.wait_for_timeout(800)
    shot = artifacts / "quickstart-notebook.png"
    page.screenshot(path=str(shot), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    from PIL import Image

    with Image.open(shot) as img:
        assert img.width == 1280 and img.height >= min(height, 16000) * 0.9  # the whole notebook, not a viewport
        assert len(img.convert("L").getcolors(1 << 16) or []) > 50  # rendered content, not a blank page


# -- a saved notebook reopened with no kernel: the views draw from their saved state alone -----------------
NO_KERNEL_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>body { margin: 16px; background: #fff; }
%(css)s</style></head><body><div id="w" style="width: 860px"></div><script type="module">
const state = %(state)s;
const handlers = {};
window.sent = [];
const model = {  // no kernel: nothing ever answers what the view sends
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; for (const f of handlers["change:" + k] || []) f(); },
  save_changes() {},
  send(content) { window.sent.push(content); },
  on(name, f) { (handlers[name] = handlers[name] || []).push(f); },
  off(name, f) { handlers[name] = (handlers[name] || []).filter((g) => g !== f); },
};
const mod = await import("./view.js");
if (mod.default.initialize) mod.default.initialize({ model });
mod.default.render({ model, el: document.getElementById("w") });
requestAnimationFrame(() => requestAnimationFrame(() => { window.ready = true; }));
</script></body></html>"""


def saved_state_page(browser: Any, widget: Any) -> Any:
    """A page rendering ``widget``'s ESM from its state as a notebook saves it (``get_state``), with no kernel."""
    import json

    state = widget.get_state()
    esm, css = state.pop("_esm"), state.pop("_css")
    files = {"/": NO_KERNEL_PAGE % {"css": css, "state": json.dumps(state)}, "/view.js": esm}
    ctx = browser.new_context(viewport={"width": 900, "height": 520})
    pg = ctx.new_page()

    def serve(route: Any) -> None:
        body = files.get("/" + route.request.url.split("/", 3)[3].split("?")[0])
        if body is None:
            route.fulfill(status=404, body="not found")
        else:
            route.fulfill(status=200, body=body, content_type="text/javascript" if "view.js" in route.request.url
                          else "text/html")

    pg.route("http://localhost/**", serve)
    pg.goto("http://localhost/")
    pg.wait_for_function("() => window.ready === true", timeout=10000)
    return pg


def test_saved_views_draw_without_a_kernel(browser: Any, artifacts: Path) -> None:
    import voicelab as vl
    from voicelab.widgets import LatencyChart, Timeline

    with vl.serve(engine="sphinx", announce=False) as server:
        session = vl.stream(ROOT / "data" / "speech" / "s02_weather_16k.flac", provider="pulse", url=server.url,
                            api_key=server.api_key)
        tl, lc = Timeline(session, height=220), LatencyChart(session, height=200)
        session.wait(timeout=90)
        tl.wait(timeout=10)
        lc.wait(timeout=10)
    n_finals = sum(1 for i in tl.log.items if i["k"] == "final")
    assert n_finals >= 1
    pg = saved_state_page(browser, tl)
    try:
        info = pg.locator(".vl-info").inner_text()
        assert "done" in info and f"{n_finals} final" in info, info
        pg.locator(".vl-timeline").screenshot(path=str(artifacts / "saved-timeline-no-kernel.png"))
        assert pg.evaluate("() => window.sent") == []  # it drew from the saved state, asking nothing
    finally:
        pg.context.close()
    pg = saved_state_page(browser, lc)
    try:
        text = pg.locator(".vl-legend").inner_text()
        assert re.search(r"final_latency\s+\d+ ms", text), text
        pg.locator(".vl-latency").screenshot(path=str(artifacts / "saved-latency-no-kernel.png"))
        assert pg.evaluate("() => window.sent") == []
    finally:
        pg.context.close()
