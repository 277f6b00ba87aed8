"""EventLog in JupyterLab: a recorded session and a live stream to the emulator; rows, the filter and the counters.

A small notebook is written into the Lab's root: cell 0 records a session with the emulator and shows an
EventLog of its Recording; cell 1 shows an EventLog of a live Stream (real time); cell 2 waits for the end
and prints the counters voicelab computed, which the test compares with what the browser shows.
Screenshots go to ``test-artifacts/browser/eventlog-*.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Lab, notebook_page, write_notebook
from tests.browser.test_quickstart_lab import output_text, wait_until_all_ran

LAB_PATH = "eventlog/eventlog.ipynb"
CELLS = [
    f"""import json, voicelab as vl
server = vl.serve(engine="sphinx", announce=False)
rec = vl.stream({str(ROOT / "data" / "speech" / "s02_weather_16k.flac")!r}, url=server.url, api_key=server.api_key,
                speed=4).wait(120).recording
vl.widgets.EventLog(rec)""",
    f"""live = vl.stream({str(ROOT / "data" / "speech" / "s01_fox_16k.flac")!r}, url=server.url,
                 api_key=server.api_key, speed=1.0)
view = vl.widgets.EventLog(live)
view""",
    """live.wait(120); view.wait(10); server.close()
print("COUNTERS", json.dumps({"recorded": vl.widgets.EventLog(rec).counters, "live": view.counters}))""",
]


@pytest.fixture(scope="module")
def page(lab: Lab, browser: Any, artifacts: Path) -> Iterator[Any]:
    write_notebook(lab, LAB_PATH, CELLS)
    with notebook_page(lab, browser, artifacts, path=LAB_PATH, name="eventlog",
                       run_all=lambda pg: wait_until_all_ran(pg, timeout=240)) as pg:
        yield pg


def counters(pg: Any) -> dict[str, Any]:
    text = output_text(pg, 2)
    return json.loads(text.split("COUNTERS ", 1)[1].strip().splitlines()[0])


def shown(view: Any) -> dict[str, str]:
    return {c.get_attribute("data-name"): c.locator("b").inner_text() for c in view.locator(".vl-ev-counter").all()}


def test_recorded_session_rows_filter_and_counters(page: Any, artifacts: Path) -> None:
    want = counters(page)["recorded"]
    view = page.locator(".vl-eventlog").nth(0)
    view.wait_for(timeout=30000)
    got = shown(view)
    assert got["chunks sent"] == str(want["chunks_sent"]) and got["finals"] == str(want["finals"])
    assert got["messages received"] == str(want["messages_received"]) and got["partials"] == str(want["partials"])
    assert got["close code"] == "1000" and got["status"] == "done"
    rows = view.locator("tr.vl-ev-row")
    assert rows.count() == want["n_rows"] - want["kinds"]["audio"]  # audio hidden by default
    assert view.locator("tr.vl-ev-row[data-kind='audio']").count() == 0
    audio_box = view.locator("label[data-kind='audio'] input")
    assert not audio_box.is_checked()
    assert view.locator("label[data-kind='audio'] span").inner_text() == f"audio ({want['chunks_sent']})"
    view.locator("tr.vl-ev-row[data-kind='final']").first.click()  # expands its JSON
    pre = view.locator("tr.vl-ev-json pre").first
    assert json.loads(pre.inner_text())["kind"] == "recv"
    view.screenshot(path=str(artifacts / "eventlog-recorded.png"))
    audio_box.check()
    page.wait_for_timeout(200)
    assert view.locator("tr.vl-ev-row[data-kind='audio']").count() == want["chunks_sent"]
    view.locator("label[data-kind='partial'] input").uncheck()
    page.wait_for_timeout(200)
    assert view.locator("tr.vl-ev-row[data-kind='partial']").count() == 0


def test_live_stream_fills_in_and_ends_with_the_counters(page: Any, artifacts: Path) -> None:
    want = counters(page)["live"]
    view = page.locator(".vl-eventlog").nth(1)
    page.wait_for_function(
        """(el) => el.querySelector('.vl-ev-counter[data-name="status"] b').textContent === 'done'""",
        arg=view.element_handle(), timeout=30000)
    got = shown(view)
    assert want["finals"] >= 1 and got["finals"] == str(want["finals"])
    assert got["chunks sent"] == str(want["chunks_sent"]) and got["close code"] == "1000"
    assert view.locator("tr.vl-ev-row[data-kind='final']").count() == want["kinds"]["final"]
    view.screenshot(path=str(artifacts / "eventlog-live.png"))
