"""Received messages are kept as their JSON text and decoded when read (memory and GC on long sessions)."""

from __future__ import annotations

import gc
import json
import tracemalloc

import voicelab as vl
from tests.conftest import DATA
from voicelab.recording.log import Entry, Recording

WORDS = [{"word": w, "start": i * 0.3, "end": i * 0.3 + 0.25, "confidence": 0.9}
         for i, w in enumerate("the weather today is sunny with a light breeze".split())]


def _partial(i: int) -> str:
    return json.dumps({"session_id": "s1", "transcript": f"partial {i}", "is_final": False, "words": WORDS})


def test_a_received_message_reads_back_as_it_came_and_the_file_round_trips(tmp_path):
    path = tmp_path / "r.jsonl"
    rec = Recording(path, provider="pulse")
    rec.message_in(_partial(0), t=0.5)
    rec.message_in('{\n  "transcript": "pretty",\n  "is_final": true\n}', t=0.6)  # pretty-printed: one line on disk
    rec.message_in("not json at all", t=0.7)
    rec.close()
    recv = rec.of("recv")
    assert [e["message"] if isinstance(e["message"], str) else e["message"]["transcript"] for e in recv] == [
        "partial 0", "pretty", "not json at all"]
    assert all(isinstance(e, Entry) and e.kind == "recv" for e in recv)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["kind"] in ("session", "recv") for line in lines)
    loaded = Recording.load(path)
    assert [e.data for e in loaded.of("recv")] == [e.data for e in recv]
    assert [ev.text for _, ev in loaded.events() if ev.kind in ("partial", "final")] == ["partial 0", "pretty"]


def test_a_key_in_a_received_message_is_masked_in_memory_and_on_disk(tmp_path):
    key = "sk_recv_row_canary_77"
    path = tmp_path / "r.jsonl"
    rec = Recording(path, provider="pulse", secrets=[key])
    rec.message_in(json.dumps({"error": f"bad key {key}", "status": "error"}), t=0.1)
    rec.close()
    assert key not in path.read_text() and key not in repr(rec.entries) and key not in str(rec.events())


def test_rows_take_a_fraction_of_the_memory_of_decoded_messages():
    texts = [_partial(i) for i in range(3000)]
    rec = Recording(None, provider="pulse")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, text in enumerate(texts):
            rec.message_in(text, t=i * 0.1)
        rows = tracemalloc.get_traced_memory()[0] - before
        decoded = [json.loads(text) for text in texts]
        as_dicts = tracemalloc.get_traced_memory()[0] - before - rows
    finally:
        tracemalloc.stop()
    assert len(decoded) == len(rec.of("recv")) == 3000
    assert rows * 5 < as_dicts, (rows, as_dicts)  # the text is shared with what was received


def test_a_live_session_reads_the_same_through_rows():
    with vl.serve(engine="sphinx", announce=False, recognizer_options={"processes": 0, "warm": 1}) as server:
        s = vl.stream(vl.load(DATA / "speech" / "s01_fox_16k.flac"), url=server.url, api_key=server.api_key, speed=None)
        s.wait(60)
    live = [(type(ev).__name__, getattr(ev, "text", None)) for _, ev in s.events]
    recorded = [(type(ev).__name__, getattr(ev, "text", None)) for _, ev in s.recording.events()]
    assert live == recorded and any(name == "Final" for name, _ in live)
