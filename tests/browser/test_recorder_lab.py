"""The Recorder end to end in JupyterLab: chromium's fake microphone plays a known WAV.

One notebook, opened once (module fixture), holds both recorders::

    cell 0  rec1 = Recorder(echo_cancellation=False, max_seconds=2.5); rec1
    cell 1  server = vl.serve(engine="whisper"); rec2 = Recorder(max_seconds=4.0)
            session = rec2.stream_to(...); display(rec2); Timeline(session)
    cell 2  clip = rec1.clip; clip.save(...); print("RESULT", ...)
    cell 3  session.wait(); print("FINAL", ...)

Cells 0 and 1 run when the notebook opens. The kernel receives the browser's audio only between cells, so
each test presses Record, waits for the widget to say "recorded", and only then runs its check cell.
Screenshots of each widget go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import SPEECH, Lab, open_notebook, watch_console

NOTEBOOK = "recorder_e2e.ipynb"
REC1_SECONDS = 2.5
REC2_SECONDS = 4.0

CELLS = [
    f"""\
import json, voicelab as vl
from voicelab.widgets.recorder import Recorder
rec1 = Recorder(target_rate=16000, echo_cancellation=False, max_seconds={REC1_SECONDS})
rec1""",
    f"""\
server = vl.serve(engine="whisper", announce=False)   # falls back to sphinx (with a warning) without whisper
rec2 = Recorder(target_rate=16000, max_seconds={REC2_SECONDS})
session = rec2.stream_to(provider="pulse", url=server.url, api_key=server.api_key)
display(rec2)
from voicelab.widgets import Timeline
Timeline(session, height=200)""",
    """\
clip = rec1.clip
clip.save("rec1.wav", subtype="PCM_16")
print("RESULT", json.dumps({"rate": clip.samplerate, "frames": clip.frames, "duration": clip.duration,
                            "source": clip.provenance.source, "context_rate": rec1.context_rate,
                            "provenance_rate": clip.provenance.samplerate, "history": clip.provenance.history,
                            "track": rec1.track_settings, "repr": repr(rec1)}))""",
    """\
session.wait(timeout=90)
print("FINAL", json.dumps({"transcript": session.transcript, "clip_s": rec2.clip.duration,
                           "track": rec2.track_settings, "context_rate": rec2.context_rate,
                           "chunks": len(session.recording.of("chunk")), "session": repr(session)}))
server.close()""",
]


def write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Any, artifacts: Path) -> Iterator[Any]:
    """The notebook open in JupyterLab, its first two cells (the widgets) run."""
    write_notebook(lab.root_dir / NOTEBOOK)
    ctx = browser.new_context(viewport={"width": 1280, "height": 1400})
    ctx.grant_permissions(["microphone"], origin=lab.base)
    pg = ctx.new_page()
    console = watch_console(pg)
    try:
        open_notebook(pg, lab, NOTEBOOK)
        run_cell(pg, 0)
        run_cell(pg, 1)
        pg.locator(".vl-rec").first.wait_for(timeout=30000)
        yield pg
    finally:
        (artifacts / "lab-console.log").write_text("\n".join(console))
        try:
            pg.screenshot(path=str(artifacts / "lab-page.png"), full_page=True)
        finally:
            ctx.close()


def run_cell(pg: Any, index: int) -> None:
    """Queue cell ``index`` for execution (as Shift+Enter on it would)."""
    pg.evaluate("""async (i) => { const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = i; await window.jupyterapp.commands.execute('notebook:run-cell'); }""", index)


def output_of(pg: Any, cell: int, marker: str, *, timeout: float) -> dict[str, Any]:
    """Wait for ``marker {json}`` in the output of ``cell`` and return the JSON (or fail with the output)."""
    out = pg.locator(".jp-NotebookPanel .jp-Cell").nth(cell).locator(".jp-OutputArea-output")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = "\n".join(out.all_inner_texts())
        if re.search(r"^\w*Error\b|Traceback", text, re.M):
            pytest.fail(f"cell {cell} failed:\n{text[-3000:]}")
        m = re.search(rf"^{marker} (\{{.*\}})$", text, re.M)
        if m:
            return dict(json.loads(m.group(1)))
        time.sleep(0.1)
    pytest.fail(f"no {marker} line in cell {cell} after {timeout} s; output so far:\n"
                + "\n".join(out.all_inner_texts())[-3000:])


def record(pg: Any, index: int, *, timeout: float = 30.0) -> None:
    """Press Record on the ``index``-th Recorder unless it has recorded already; wait until it is done."""
    rec = pg.locator(".vl-rec").nth(index)
    rec.wait_for(timeout=timeout * 1000)
    if rec.get_attribute("data-state") == "idle":
        rec.locator(".vl-rec-button").click()
    pg.locator(".vl-rec").nth(index).and_(pg.locator('.vl-rec[data-state="done"], .vl-rec[data-state="error"]')) \
        .wait_for(timeout=timeout * 1000)
    assert rec.get_attribute("data-state") == "done", rec.inner_text()


def best_lag_correlation(x: np.ndarray, ref: np.ndarray, *, max_lag: int) -> tuple[float, int]:
    """Pearson r of ``x`` against ``ref`` at the lag (``ref`` shifted by up to ``max_lag``) that fits best."""
    n = len(x)
    size = 1 << int(np.ceil(np.log2(n + len(ref))))
    xc = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(x, size)), size)
    lags = np.r_[0:max_lag + 1, -max_lag:0]
    lag = int(lags[np.argmax(np.abs(xc[lags]))])
    a, b = (x, ref[lag:lag + n]) if lag >= 0 else (x[-lag:], ref[:n + lag])
    m = min(len(a), len(b))
    return float(np.corrcoef(a[:m], b[:m])[0, 1]), lag


def test_recording_reaches_the_kernel_as_the_wav(page: Any, lab: Lab, artifacts: Path) -> None:
    import voicelab as vl

    record(page, 0)
    run_cell(page, 2)
    res = output_of(page, 2, "RESULT", timeout=30)
    widget = page.locator(".vl-rec").nth(0)
    widget.screenshot(path=str(artifacts / "recorder-done-ec-off.png"))

    assert res["rate"] == 16000 and res["source"] == "microphone"
    assert abs(res["duration"] - REC1_SECONDS) <= 0.15
    assert res["context_rate"] in (16000, 22050, 44100, 48000) and res["provenance_rate"] == res["context_rate"]
    assert res["track"]["echoCancellation"] is False and res["track"]["autoGainControl"] is False
    assert res["track"]["noiseSuppression"] is False
    assert f"AudioContext {res['context_rate']} Hz" in res["history"][0]
    assert res["repr"].startswith("<Recorder done: int16 mono @ 16000 Hz") and "0x" not in res["repr"]

    got = vl.load(str(lab.root_dir / "rec1.wav"))
    ref = vl.load(str(SPEECH))
    assert got.samplerate == ref.samplerate == 16000
    r, lag = best_lag_correlation(got.samples.astype(np.float64), ref.samples.astype(np.float64), max_lag=8000)
    print(f"correlation with the WAV: r={r:.4f} at lag {lag / 16000:+.3f} s, {got.duration:.3f} s recorded")
    if r < 0.9:
        # Under CPU load Chrome's fake capture device can skip or repeat one audio buffer, which moves the
        # alignment once mid-recording. The content must still be the WAV, window by window.
        win = 4000
        rs = []
        for a in range(0, got.frames - win + 1, win):
            seg = got.samples[a:a + win].astype(np.float64)
            if np.std(seg) < 1e-3:
                continue
            s0 = max(0, a + lag - 1600)  # near where the whole-recording alignment puts it, ± 0.1 s
            near = ref.samples[s0:s0 + win + 3200].astype(np.float64)
            rs.append(best_lag_correlation(seg, near, max_lag=3200)[0])
        arr = np.nan_to_num(np.array(rs))
        good = float(np.mean(arr >= 0.9)) if rs else 0.0
        print(f"windowed: {len(rs)} voiced 0.25 s windows, {good:.0%} with r >= 0.9, mean r {arr.mean():.2f}")
        # unrelated audio scores about 0 here; one skipped buffer spoils at most the windows around it
        assert good >= 0.6 and arr.mean() >= 0.7, (
            f"the recording does not match the WAV: r={r:.3f} at lag {lag}; windows ok {good:.0%}")

    # what the widget shows matches the traits
    text = widget.inner_text()
    assert "RECORDED" in text.upper() and f"{res['context_rate']:,} Hz" in text
    assert "int16 little-endian · mono · 16,000 Hz" in text and "resampled from" in text
    assert "echoCancellation off" in text and "autoGainControl off" in text


def test_live_stream_to_the_emulator_shows_a_final_in_the_timeline(page: Any, artifacts: Path) -> None:
    rec2 = page.locator(".vl-rec").nth(1)
    rec2.wait_for(timeout=60000)  # cell 1 loads the recognizer first
    rec2.locator(".vl-rec-button").click()
    page.locator('.vl-rec[data-state="recording"]').wait_for(timeout=10000)
    page.wait_for_timeout(2200)  # mid-word ("weather"), so the meter shows speech
    rec2.screenshot(path=str(artifacts / "recorder-recording.png"))
    record(page, 1, timeout=REC2_SECONDS + 20)
    rec2.screenshot(path=str(artifacts / "recorder-done-ec-on.png"))

    run_cell(page, 3)
    res = output_of(page, 3, "FINAL", timeout=60)
    print("transcript:", res["transcript"])
    assert "weather" in res["transcript"].lower()
    assert abs(res["clip_s"] - REC2_SECONDS) <= 0.15
    assert res["track"]["echoCancellation"] is True  # the default; AGC and NS come with it
    assert res["chunks"] >= int(REC2_SECONDS / 0.1)

    timeline = page.locator(".vl-timeline").first
    info = timeline.locator(".vl-info")
    page.wait_for_function("(el) => /\\bdone\\b/.test(el.textContent) && /[1-9]\\d* finals/.test(el.textContent)",
                           arg=info.element_handle(), timeout=15000)
    finals = finals_on_timeline(page, timeline)
    timeline.screenshot(path=str(artifacts / "timeline-live-from-recorder.png"))
    assert any("weather" in f.lower() for f in finals), f"no final with 'weather' on the timeline: {finals}"


def finals_on_timeline(page: Any, timeline: Any) -> list[str]:
    """The texts the Timeline shows (in its hover tip) for the boxes in its finals lane."""
    canvas = timeline.locator("canvas")
    box = canvas.bounding_box()
    assert box is not None
    lane_h = (box["height"] - 18) / 4  # 4 lanes above an 18 px axis (see timeline.js)
    y = box["y"] + 3 * lane_h + lane_h * 0.3
    texts: set[str] = set()
    tip = timeline.locator(".vl-tip")
    for x in range(int(box["x"]) + 76, int(box["x"] + box["width"]) - 6, 8):
        page.mouse.move(x, y)
        if tip.is_visible():
            text = tip.inner_text()
            if text.startswith("final"):
                texts.add(text)
    page.mouse.move(0, 0)
    return sorted(texts)
