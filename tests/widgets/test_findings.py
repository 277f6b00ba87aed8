"""`Findings`: diagnose re-run live on a Stream against the emulator, the final diagnosis, the Timeline markers
and the HTML report's anchors."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("anywidget")

import voicelab as vl  # noqa: E402
from voicelab.diagnosis import diagnose  # noqa: E402
from voicelab.recording.log import Recording  # noqa: E402
from voicelab.widgets import Findings, Timeline, ViewError  # noqa: E402
from voicelab.widgets.findings import audio_sent_at  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "speech"


@pytest.fixture(scope="module")
def server() -> Any:
    with vl.serve(engine="sphinx", announce=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def fox() -> vl.Clip:
    return vl.load(DATA / "s01_fox_16k.flac")


def pieces(data: bytes, n: int = 3200) -> Any:
    return iter([data[i:i + n] for i in range(0, len(data), n)])


def codes(w: Findings) -> list[str]:
    return [r["code"] for r in w.findings]


def follow(w: Findings, stream: vl.Stream, timeout: float = 60.0) -> list[tuple[bool, list[str]]]:
    """Poll the widget's ``findings`` trait until the Stream and the widget are done: (stream done?, codes)."""
    seen: list[tuple[bool, list[str]]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = bool(stream.done)
        seen.append((done, codes(w)))
        if done and w.status == "done":
            break
        time.sleep(0.1)
    w.wait(10)
    return seen


def test_float32_declared_linear16_shows_up_while_streaming(server: Any, fox: vl.Clip) -> None:
    f32 = fox.samples.astype("<f4").tobytes()  # 4 s of speech as float32 = 8 s of "linear16" audio time
    s = vl.stream(pieces(f32), url=server.url, api_key=server.api_key, speed=2.0, preflight=False)
    w = Findings(s, max_rate=1.0)
    start = time.monotonic()
    seen = follow(w, s)
    wall = time.monotonic() - start
    live = [c for done, c in seen if not done]
    assert any("float32_as_int16" in c for c in live), f"not seen while streaming: {seen}"
    assert w.status == "done" and w.summary["done"] is True
    row = next(r for r in w.findings if r["code"] == "float32_as_int16")
    assert row["severity"] == "error" and "float32" in row["fix"] and row["message"]
    assert isinstance(row["t"], float) and row["a"] is not None
    # the final rows are exactly the diagnosis of the whole Recording
    assert codes(w) == diagnose(s).codes and w.summary["entries"] == len(s.recording)
    # bounded: at most max_rate runs a second (plus the first and the final), each one when entries arrived
    assert 2 <= w.summary["runs"] <= wall * 1.0 + 3
    assert all(c < 5.0 for c in w.cost_seconds)


def test_a_clean_stream_gets_no_findings(server: Any, fox: vl.Clip) -> None:
    s = vl.stream(fox, url=server.url, api_key=server.api_key, speed=1.0)
    w = Findings(s)
    follow(w, s)
    assert w.status == "done" and w.findings == [] and w.summary["ok"] is True and w.summary["done"] is True
    assert s.recording.transcript.strip()  # the session really did transcribe


def _faulty_recording() -> Recording:
    """A session that closes 1011 after 1 s of silence: no_transcripts, server_closed (no emulator needed)."""
    rec = Recording(provider="pulse", clock=lambda: 0.0, wall_clock=lambda: 0.0, keep_audio_seconds=0)
    rec.log("connect", attempt=1, url="ws://127.0.0.1:1/api/v1/pulse/get_text", t=0.0)
    rec.log("handshake", ok=True, status=101, audio_offset=0.0, t=0.1)
    for k in range(30):
        rec.chunk(seq=k, audio_start=k * 0.05, audio_end=(k + 1) * 0.05, nbytes=1600, t=0.2 + k * 0.05)
    rec.log("close", code=1011, reason="internal error", by="server", t=2.0)
    return rec


def test_a_recording_is_diagnosed_once_and_marks_a_timeline() -> None:
    rec = _faulty_recording()
    tl = Timeline(rec, live=False)
    w = Findings(rec, timeline=tl)
    want = diagnose(rec)
    assert w.status == "done" and codes(w) == want.codes and {"no_transcripts", "server_closed"} <= set(codes(w))
    assert w.summary["runs"] == 1 and w.summary["error"] == want.by_severity()["error"]
    assert w.flush() == 0 and w.summary["runs"] == 1  # nothing new: not re-run
    closed = next(r for r in w.findings if r["code"] == "server_closed")
    assert closed["t"] == pytest.approx(2.0) and closed["a"] == pytest.approx(1.5)  # 30 chunks of 50 ms by t=2
    assert [m["code"] for m in tl.findings] == [r["code"] for r in w.findings if r["t"] is not None]
    w.selected = "server_closed"
    assert tl.view_range == pytest.approx((0.0, 3.5))
    # the widget state (what a saved notebook keeps) holds the rows
    state = w.get_state()
    assert json.loads(json.dumps(state["findings"]))[0]["code"] == want.codes[0]
    # Timeline.mark takes a Diagnosis too, and [] clears
    tl.mark(want)
    assert {m["code"] for m in tl.findings} == {f.code for f in want if "t" in f.evidence}
    tl.mark([])
    assert tl.findings == []


def test_flush_reruns_only_when_entries_arrive() -> None:
    rec = Recording(provider="pulse", clock=lambda: 0.0, wall_clock=lambda: 0.0)
    rec.log("connect", attempt=1, t=0.0)
    rec.log("handshake", ok=True, status=101, audio_offset=0.0, t=0.1)
    w = Findings(rec, live=False)
    runs = w.summary["runs"]
    assert w.flush() == 0 and w.summary["runs"] == runs
    rec.log("close", code=1011, reason="boom", by="server", t=0.5)
    assert w.flush() > 0 and w.summary["runs"] == runs + 1 and "server_closed" in codes(w)


def test_audio_sent_at_maps_recording_time_to_the_timeline_axis() -> None:
    rec = _faulty_recording()
    assert audio_sent_at(rec, [0.0, 0.2, 0.26, None, 99.0]) == [0.0, 0.05, 0.1, None, 1.5]


def test_not_a_session_is_refused() -> None:
    with pytest.raises(ViewError):
        Findings([1, 2, 3])


def test_html_report_time_links_to_its_tick_and_back() -> None:
    d = diagnose(_faulty_recording())
    page = d._repr_html_()
    assert page == d._repr_html_()  # deterministic ids: a re-run gives the same HTML
    links = re.findall(r"<li id='(vl-dx-[0-9a-f]{8})-(\d+)'>.*?<a href='#(vl-dx-[0-9a-f]{8})-t(\d+)' data-t='([\d.]+)'",
                       page)
    assert links and all(a == b and i == j for a, i, b, j, _ in links)
    for key, i, _, _, t in links:
        assert f"<a href='#{key}-{i}'><line id='{key}-t{i}'" in page  # the tick on the strip links back
        assert float(t) == pytest.approx(d[int(i)].evidence["t"], abs=1e-3)
