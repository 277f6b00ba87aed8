"""The Recording keeps the audio sent (bounded, or not at all) and reads it back with its format."""

from __future__ import annotations

import base64
import gc
import json

import pytest

from voicelab.recording.log import Recording


def _fill(rec: Recording, *, seconds: float, chunk: float = 0.1, rate: int = 16000) -> bytes:
    """Log ``seconds`` of distinct 16-bit chunks; returns all the bytes."""
    out = b""
    for k in range(round(seconds / chunk)):
        data = bytes([k % 256]) * int(rate * chunk * 2)
        rec.chunk(seq=k, audio_start=round(k * chunk, 6), audio_end=round((k + 1) * chunk, 6), nbytes=len(data),
                  data=data, encoding="linear16", samplerate=rate)
        out += data
    return out


def test_kept_audio_round_trips_through_the_file(tmp_path):
    path = tmp_path / "r.jsonl"
    with Recording(path, provider="pulse", keep_audio_seconds=None) as rec:
        data = _fill(rec, seconds=1.0)
    for r in (rec, Recording.load(path)):
        sent = r.sent_audio()
        assert sent is not None and sent.data == data and sent.complete
        assert (sent.format, sent.start, sent.end) == ("linear16:16000:1", 0.0, 1.0)
        assert len(sent.sends) == 10
    line = json.loads(path.read_text().splitlines()[1])
    assert base64.b64decode(line["data"]) == data[:3200] and line["samplerate"] == 16000


def test_the_bound_is_audio_time_and_received_audio_follows_it(tmp_path):
    path = tmp_path / "r.jsonl"
    reply = json.dumps({"type": "reply.audio", "data": base64.b64encode(b"\x01\x02" * 400).decode()})
    with Recording(path, provider="assemblyai-agent", keep_audio_seconds=0.5) as rec:
        rec.message_in(reply)  # inside the window: kept
        _fill(rec, seconds=1.0)
        rec.message_in(reply)  # after it: stripped to its length
    sent = Recording.load(path).sent_audio()
    assert sent is not None and not sent.complete and sent.end == pytest.approx(0.5)
    recv = [e["message"]["data"] for e in rec.of("recv")]
    assert isinstance(recv[0], str) and recv[1] == {"omitted_base64_chars": len(json.loads(reply)["data"])}


def test_zero_keeps_nothing_and_resends_count_once(tmp_path):
    path = tmp_path / "r.jsonl"
    with Recording(path, provider="pulse", keep_audio_seconds=0) as rec:
        _fill(rec, seconds=0.5)
    assert rec.sent_audio() is None and '"data"' not in path.read_text()
    rec = Recording(provider="pulse")
    data = _fill(rec, seconds=0.3)
    rec.chunk(seq=3, audio_start=0.1, audio_end=0.2, nbytes=3200, data=data[3200:6400])  # resent after a drop
    sent = rec.sent_audio()
    assert sent is not None and sent.data == data and len(sent.sends) == 3


def test_kept_chunks_stay_untracked_by_the_garbage_collector():
    rec = Recording(provider="pulse")
    _fill(rec, seconds=0.2)
    gc.collect()
    assert not any(gc.is_tracked(row) for row in rec._entries[1:])  # noqa: SLF001 - the property under test


def test_a_negative_bound_is_refused():
    with pytest.raises(ValueError, match="keep_audio_seconds"):
        Recording(provider="pulse", keep_audio_seconds=-1)
