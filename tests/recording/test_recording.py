import json
import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import pytest

from voicelab.recording import Recording, RecordingError

CANARY = "sk_canary_7f3a9c2e41d8"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def pulse_msg(text, final=False, last=False, words=None):
    m = {"type": "transcription", "status": "success", "session_id": "sess-1", "transcript": text,
         "is_final": final, "is_last": last}
    if words:
        m["words"] = [{"word": w, "start": s, "end": e, "confidence": 0.9} for w, s, e in words]
    return json.dumps(m)


def test_entries_are_written_as_they_happen_on_one_clock(tmp_path):
    clock = Clock()
    path = tmp_path / "s.jsonl"
    rec = Recording(path, provider="pulse", endpoint="wss://h/waves/v1/stt/live?model=pulse",
                    clock=clock, wall_clock=lambda: 1_700_000_000.0)
    clock.t = 100.5
    rec.log("connect", attempt=1)
    assert len(path.read_text().splitlines()) == 2  # flushed at once, not at close
    clock.t = 100.6
    rec.chunk(seq=0, audio_start=0.0, audio_end=0.128, nbytes=4096)
    clock.t = 101.0
    rec.message_in(pulse_msg("hello", final=True, last=True))
    rec.close()
    loaded = Recording.load(path)
    assert [e.kind for e in loaded] == ["session", "connect", "chunk", "recv"]
    assert [round(e.t, 6) for e in loaded] == [0.0, 0.5, 0.6, 1.0]
    assert loaded.header["started_at"].startswith("2023-11-14T22:13:20")
    assert loaded.transcript == "hello"
    st = loaded.stats
    assert (st.chunks_sent, st.bytes_sent, st.messages_received, st.partials, st.finals) == (1, 4096, 1, 0, 1)


def test_secrets_never_reach_the_file(tmp_path):
    path = tmp_path / "s.jsonl"
    rec = Recording(path, provider="assemblyai-agent", endpoint=f"wss://h/v1/ws?token={CANARY}",
                    params={"headers": {"Authorization": f"Bearer {CANARY}"}}, secrets=[CANARY])
    rec.log("note", text=f"key is {CANARY}")
    rec.message_out({"type": "session.update", "session": {"system_prompt": CANARY}})
    rec.message_in(json.dumps({"type": "session.error", "code": "unauthorized", "message": f"bad {CANARY}"}))
    rec.close()
    text = path.read_text()
    assert CANARY not in text and "***" in text
    assert CANARY not in repr(rec) and CANARY not in str(rec.summary())
    bundle = rec.support_bundle(tmp_path / "support.zip")
    with zipfile.ZipFile(bundle) as z:
        assert sorted(z.namelist()) == ["environment.json", "recording.jsonl", "summary.json"]
        for name in z.namelist():
            assert CANARY not in z.read(name).decode()
        summary = json.loads(z.read("summary.json"))
    assert summary["provider"] == "assemblyai-agent" and "started_at" in summary


def test_base64_audio_is_replaced_by_its_length():
    # keep_audio_seconds=0: received audio is not kept either (by default it is, in the same window as the
    # audio sent: tests/recording/test_recording_audio.py)
    rec = Recording(provider="assemblyai-agent", keep_audio_seconds=0)
    audio = "QUJD" * 1000
    rec.message_out({"type": "input.audio", "audio": audio})
    rec.message_in(json.dumps({"type": "reply.audio", "data": audio}))
    assert rec.entries[1]["message"]["audio"] == {"omitted_base64_chars": 4000}
    assert rec.entries[2]["message"]["data"] == {"omitted_base64_chars": 4000}
    kept = Recording(provider="assemblyai-agent", store_audio=True)
    kept.message_out({"type": "input.audio", "audio": audio})
    assert kept.entries[1]["message"]["audio"] == audio


def test_events_and_session_ids_come_from_the_protocol_parser():
    rec = Recording(provider="pulse")
    rec.message_in(pulse_msg("hel"))
    rec.message_in(pulse_msg("hello there", final=True))
    kinds = [ev.kind for _, ev in rec.events()]
    assert kinds[:2] == ["partial", "final"]
    assert rec.session_ids() == ["sess-1"]


def test_load_errors_and_torn_last_line(tmp_path):
    with pytest.raises(RecordingError, match="no such recording"):
        Recording.load(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "kind": "chunk"}\n')
    with pytest.raises(RecordingError, match="session line"):
        Recording.load(bad)
    rec = Recording(tmp_path / "torn.jsonl", provider="pulse")
    rec.log("connect", attempt=1)
    rec.close()
    with open(tmp_path / "torn.jsonl", "a") as f:
        f.write('{"t": 1.0, "kind": "re')
    assert [e.kind for e in Recording.load(tmp_path / "torn.jsonl")] == ["session", "connect"]


def test_kill_9_leaves_a_readable_recording(tmp_path):
    path = tmp_path / "killed.jsonl"
    script = textwrap.dedent(f"""
        import sys, time
        from voicelab.recording import Recording
        rec = Recording({str(path)!r}, provider="pulse")
        for i in range(100000):
            rec.chunk(seq=i, audio_start=i * 0.1, audio_end=(i + 1) * 0.1, nbytes=3200)
            if i == 50:
                print("ready", flush=True)
            time.sleep(0.001)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    rec = Recording.load(path)
    chunks = rec.of("chunk")
    assert len(chunks) >= 51
    assert [c["seq"] for c in chunks] == list(range(len(chunks)))


def test_chunk_lines_equal_the_general_json_and_odd_values_are_still_redacted(tmp_path):
    """`Recording.chunk` formats its line directly: it must be exactly `Entry.to_json`, and values that
    are not plain numbers must go through the redacting path."""
    import numpy as np

    clock = Clock()
    path = tmp_path / "c.jsonl"
    rec = Recording(path, provider="pulse", clock=clock, secrets=[CANARY])
    cases = [
        dict(seq=0, audio_start=0.0, audio_end=0.02, nbytes=640),
        dict(seq=7, audio_start=0.1 + 0.2, audio_end=1e-7, nbytes=4096, t=1 / 3),
        dict(seq=2**40, audio_start=12345678.123456789, audio_end=-0.0, nbytes=0, t=5),
        dict(seq=1, audio_start=np.float64(0.1), audio_end=0.2, nbytes=3),
        dict(seq=True, audio_start=float("nan"), audio_end=float("inf"), nbytes=1),
        dict(seq=3, audio_start=0.0, audio_end=0.5, nbytes=CANARY),
    ]
    for i, kw in enumerate(cases):
        clock.t = 100.0 + i * 0.1234567891
        rec.chunk(**kw)
    rec.close()
    lines = path.read_text().splitlines()[1:]
    entries = rec.entries[1:]
    assert len(lines) == len(cases)
    for line, entry in zip(lines[:3], entries[:3], strict=True):
        assert line == entry.to_json()  # byte for byte what the general path writes
        assert json.loads(line) == {"t": round(entry.t, 6), "kind": "chunk", **entry.data}
    assert json.loads(lines[3])["audio_start"] == 0.1 and "np." not in lines[3]  # numpy scalars: plain JSON
    assert "NaN" in lines[4] and json.loads(lines[4])["seq"] is True
    assert CANARY not in lines[5] and "***" in lines[5]
    loaded = Recording.load(path)
    assert [c["seq"] for c in loaded.of("chunk")][:3] == [0, 7, 2**40]


def test_chunk_entries_add_nothing_for_the_garbage_collector_to_scan():
    """Hundreds of streams for hours mean millions of chunk entries: the cyclic GC must not have to walk
    them (its full collections would pause every stream on the loop for as long as the walk takes)."""
    import gc

    rec = Recording(provider="pulse")
    rec.chunk(seq=0, audio_start=0.0, audio_end=0.02, nbytes=640)
    gc.collect()
    before = len(gc.get_objects())
    for k in range(1, 20001):
        rec.chunk(seq=k, audio_start=k * 0.02, audio_end=(k + 1) * 0.02, nbytes=640)
    gc.collect()
    assert len(gc.get_objects()) - before < 1000
    chunks = rec.of("chunk")  # read back as ordinary entries
    assert [c["seq"] for c in chunks] == list(range(20001))
    assert chunks[5].kind == "chunk" and chunks[5]["audio_end"] == 6 * 0.02 and chunks[5]["bytes"] == 640
    rec.log("note", text="after")
    assert [e.kind for e in rec.entries_since(len(rec) - 2)] == ["chunk", "note"]
    assert rec.entries[1] == chunks[0] and rec.stats.chunks_sent == 20001 and rec.stats.bytes_sent == 640 * 20001
