"""EventLog: rows and counters from a Recording, incremental appends, the row limits, and its static twin."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("anywidget")

import voicelab as vl  # noqa: E402
from voicelab.plot.frames import FrameLog  # noqa: E402
from voicelab.recording.log import Recording  # noqa: E402
from voicelab.widgets import EventLog, ViewError  # noqa: E402


def capture(widget: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)
    return sent


def pulse(text: str, *, final: bool) -> dict[str, Any]:
    return {"type": "transcription", "status": "success", "session_id": "s1", "transcript": text,
            "is_final": final, "is_last": False, "words": []}


def session(rec: Recording, steps: int, *, start: int = 0) -> None:
    for k in range(start, start + steps):
        t = 0.2 + k * 0.05
        rec.chunk(seq=k, audio_start=k * 0.05, audio_end=(k + 1) * 0.05, nbytes=1600, t=t)
        if k % 2:
            rec.message_in(json.dumps(pulse(f"w{k}", final=False)), t=t + 0.01)
        if k % 10 == 9:
            rec.message_in(json.dumps(pulse(f"sentence {k}", final=True)), t=t + 0.02)


def recording() -> Recording:
    rec = Recording(provider="pulse", clock=lambda: 0.0, wall_clock=lambda: 0.0)
    rec.log("connect", attempt=1, t=0.0)
    rec.log("handshake", ok=True, status=101, audio_offset=0.0, t=0.1)
    return rec


def test_rows_and_counters_match_the_recording_stats() -> None:
    rec = recording()
    session(rec, 40)
    rec.message_out({"type": "finalize"}, t=3.0)
    rec.log("close", code=1000, reason="", by="clean", t=3.1)
    log = FrameLog.of(rec)
    st, s = rec.stats, log.state()
    assert (s["chunks_sent"], s["messages_received"], s["partials"], s["finals"], s["close_codes"]) == \
        (st.chunks_sent, st.messages_received, st.partials, st.finals, [1000])
    assert s["kinds"]["audio"] == 40 and s["kinds"]["final"] == 4 and s["kinds"]["finalize"] == 1
    rows = log.rows
    assert [r["i"] for r in rows] == list(range(len(rec)))  # one row per entry, in order
    fin = next(r for r in rows if r["k"] == "final")
    assert fin["d"] == "in" and fin["s"] == "final “sentence 9”" and json.loads(fin["j"])["kind"] == "recv"
    audio = next(r for r in rows if r["k"] == "audio")
    assert audio["d"] == "out" and audio["n"] == 1600 and "j" not in audio
    out = next(r for r in rows if r["k"] == "finalize")
    assert out["d"] == "out" and out["n"] == len('{"type":"finalize"}')


def test_live_updates_send_only_new_rows_and_keep_counters() -> None:
    rec = recording()
    w = EventLog(rec, live=False)
    sent = capture(w)
    assert w.hidden_kinds == ["audio"] and len(w.snapshot_data["items"]) == 3
    session(rec, 4)
    w.flush()
    session(rec, 4, start=4)
    w.flush()
    assert w.flush() == 0  # nothing new: nothing sent
    first, second = sent
    assert (first["type"], first["rev"], second["rev"]) == ("append", 1, 2)
    seen = [r["i"] for m in sent for r in m["items"]]
    assert seen == list(range(3, len(rec)))  # every new row exactly once
    assert second["state"]["chunks_sent"] == 8 and second["state"]["partials"] == 4


def test_rows_are_capped_with_a_count_of_older_ones_and_bounded_updates() -> None:
    rec = recording()
    w = EventLog(rec, live=False, max_rows=50, max_audio_rows=20)
    sent = capture(w)
    session(rec, 400)
    n = w.flush()
    msg = sent[-1]
    kinds = [r["k"] for r in msg["items"]]
    assert kinds.count("audio") == 20 and len(kinds) - kinds.count("audio") == 50  # one update: the limits' worth
    st = msg["state"]
    assert st["chunks_sent"] == 400 and st["n_rows"] == len(rec) and st["dropped"] == len(rec) - 70
    assert n == len(json.dumps(msg, separators=(",", ":")))
    w.store_snapshot()
    assert len(w.snapshot_data["items"]) == 70 and w.snapshot_data["state"]["dropped"] == len(rec) - 70


def test_snapshot_request_and_sources() -> None:
    rec = recording()
    session(rec, 10)
    w = EventLog(rec, live=False)
    sent = capture(w)
    w._on_custom(w, {"type": "snapshot?"}, [])
    assert sent[-1]["type"] == "snapshot" and len(sent[-1]["items"]) == len(rec)
    with pytest.raises(ViewError, match="EventLog needs a voicelab Stream or Recording"):
        EventLog(object())
    replayed = vl.replay(rec)
    replayed.wait(10)
    assert EventLog(replayed).counters["partials"] == rec.stats.partials


def test_static_twin_lists_rows_and_counters() -> None:
    rec = recording()
    session(rec, 20)
    rec.log("close", code=1011, reason="boom", by="server", t=2.0)
    fig = vl.plot.event_log(rec, max_rows=5)
    texts = [t.get_text() for sf in fig.subfigs for t in sf.texts]
    texts += [a.get_title(loc="left") for a in fig.subfigs[0].axes]
    joined = "\n".join(texts)
    assert "20 chunks sent" in joined and "close 1011" in joined and "hidden: audio (20)" in joined
    assert "final “sentence 9”" in joined or "partial “w1”" in joined
    w = EventLog(rec, live=False)
    assert w.figure().subfigs
