"""Reconnecting through drops: replay of uncovered audio, continuous audio time, gaps, the retry budget.

The identity test uses the whisper engine: its decoding depends only on the audio of the current
utterance, so a client that replays exactly the uncovered audio, on the original chunk grid, gets the
undisturbed transcript back, character for character. That needs the emulator's VAD to place each
onset on the same frame whatever the session heard before; its silero state is reset after every
clearly silent frame for that reason (tests/emulator/test_recognizers.py checks it without a client).
The sphinx engine cannot be drop-invariant at all: its live cepstral mean normalisation carries over
from one utterance to the next (the undisturbed transcript already differs between repetitions of the
same audio).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.client import ConnectionDropped, RetryPolicy
from voicelab.client.front import Stream
from voicelab.protocols.events import Final
from voicelab.recording.log import Recording

#: Sentences of at most this many words: longer ones can be cut by Pulse's ``finalize_on_words``, which
#: depends on when partials happen to be decoded (wall-clock), not on drops.
MAX_WORDS = 8


def _short_sentences(*, seconds: float) -> vl.Clip:
    """About ``seconds`` (never more) of data/ speech: short sentences, each with 0.4 s before and 0.6 s after."""
    manifest = json.loads((DATA / "manifest.json").read_text())
    pieces: list[np.ndarray] = []
    for entry in manifest["files"]:
        if entry["kind"] != "speech" or entry["samplerate"] != 16000:
            continue
        samples = vl.load(DATA / entry["path"]).samples
        for sentence in entry["sentences"]:
            if len(sentence["text"].split()) <= MAX_WORDS:
                start = max(0, round((sentence["start"] - 0.4) * 16000))
                pieces.append(samples[start : round((sentence["end"] + 0.6) * 16000)])
    out: list[np.ndarray] = []
    total = 0
    for piece in (p for _ in range(100) for p in pieces):
        if total + len(piece) > seconds * 16000:
            break
        out.append(piece)
        total += len(piece)
    return vl.Clip(np.concatenate(out).astype(np.float32), samplerate=16000)


@pytest.fixture(scope="module")
def minute() -> vl.Clip:
    """Just under a minute of short sentences."""
    clip = _short_sentences(seconds=60.0)
    assert 55.0 <= clip.duration <= 60.0
    return clip


@pytest.fixture(scope="module")
def whisper() -> Iterator[Any]:
    """An undisturbed whisper emulator (the model is loaded once per process and shared)."""
    with vl.serve(engine="whisper", announce=False) as server:
        if server.engine != "whisper":
            pytest.skip("the whisper engine is not available (faster-whisper or its model missing)")
        yield server


def _finals(session: Stream) -> list[Final]:
    return [ev for _, ev in session.events if isinstance(ev, Final)]


def _wait_idle(server: Any, timeout: float = 5.0) -> int:
    end = time.monotonic() + timeout
    while server.sessions and time.monotonic() < end:
        time.sleep(0.05)
    return int(server.sessions)


def _check_audio_continuous(recording: Recording, duration: float) -> None:
    """Every sample of the clip went out at least once: the sent chunk spans leave no hole."""
    spans = sorted((float(c["audio_start"]), float(c["audio_end"])) for c in recording.of("chunk"))
    reach = 0.0
    for start, end in spans:
        assert start <= reach + 1e-6, f"audio {reach:.3f}-{start:.3f} s was never sent"
        reach = max(reach, end)
    assert reach == pytest.approx(duration, abs=1e-3)


def _connections(recording: Recording) -> list[list[Any]]:
    """The entries of each connection, from its ``connect`` to the entry before the next one."""
    out: list[list[Any]] = []
    for e in recording.entries:
        if e.kind == "connect":
            out.append([])
        if out:
            out[-1].append(e)
    return out


@pytest.mark.slow
def test_twenty_drops_in_a_minute_give_the_undisturbed_transcript(whisper: Any, minute: vl.Clip) -> None:
    ref = vl.stream(minute, url=whisper.url, api_key=whisper.api_key, speed=4.0).wait(180)
    assert ref.recording.stats.reconnects == 0 and len(_finals(ref)) >= 15
    with vl.serve(engine="whisper", faults="drop_after_seconds:2.5", announce=False) as server:
        t0 = time.monotonic()
        # more attempts than the default 5: on a loaded machine the emulator may need longer than a 2.5 s
        # connection to decode a replayed utterance, and a connection without a final is a failed attempt
        s = vl.stream(minute, url=server.url, api_key=server.api_key, speed=1.0,
                      retry=RetryPolicy(max_attempts=10, seed=1)).wait(300)
        wall = time.monotonic() - t0
        assert _wait_idle(server) == 0, "a session is still registered after the stream ended"
    rec = s.recording
    gaps = rec.of("gap")
    # 20 drops while the minute of audio was streaming (not after it, in the final phase)
    assert len([g for g in gaps if float(g["audio_sent"]) < minute.duration]) >= 20, len(gaps)
    assert all(g["close_code"] == 1006 for g in gaps)
    # ... reconnecting promptly (the backoff starts over after each connection that made progress)
    closes = [e.t for e in rec.of("close")]
    opens = [e.t for e in rec.of("handshake") if e.get("ok")][1:]
    assert statistics.median(b - a for a, b in zip(closes, opens, strict=False)) < 1.0
    assert wall < 2 * minute.duration + 20, wall
    finals = _finals(s)
    assert [f.text for f in finals] == [f.text for f in _finals(ref)]  # none split, merged, lost or repeated
    assert s.transcript == ref.transcript
    assert finals[-1].is_last and all(not f.is_last for f in finals[:-1])

    # every gap is in the Recording, between the dropped connection's close and the next connect
    conns = _connections(rec)
    assert len(conns) == len(gaps) + 1
    for conn, gap, nxt in zip(conns, gaps, conns[1:], strict=False):
        kinds = [e.kind for e in conn]
        assert kinds[-2:] == ["close", "gap"] and conn[-1] is gap
        assert conn[-2]["code"] == 1006
        # the next connection starts its audio where finals stopped covering it, before the drop point
        handshake = next(e for e in nxt if e.kind == "handshake")
        assert handshake["audio_offset"] == pytest.approx(gap["audio_time"], abs=1e-3)
        assert handshake["audio_offset"] <= float(gap["audio_sent"]) + 1e-6
        first_chunk = next(e for e in nxt if e.kind == "chunk")
        assert first_chunk["audio_start"] == pytest.approx(handshake["audio_offset"], abs=1e-6)
        # ... and resends all the audio no final covered (and the chunk in hand at the drop, if any)
        if handshake["resent_chunks"]:
            resent = [e for e in nxt if e.kind == "chunk"][: handshake["resent_chunks"]]
            assert float(resent[-1]["audio_end"]) >= float(gap["audio_sent"]) - 1e-6

    # audio time continues across the gaps: no hole in what was sent, and the word times of the finals
    # (mapped through each connection's audio_offset) increase through the whole session
    _check_audio_continuous(rec, minute.duration)
    starts = [w.start for f in finals for w in f.words]
    assert starts == sorted(starts) and starts[-1] > minute.duration - 3.0


def test_drop_after_close_stream_still_ends_with_is_last(whisper: Any) -> None:
    fox = vl.load(DATA / "speech" / "s01_fox_16k.flac").samples
    # 4 s of silence after the sentence: its final arrives well before the end even on a busy machine, so the
    # resend is shorter than the first connection (the fault below counts resent chunks too, and would drop
    # a resend of everything again until the retry budget ran out)
    clip = vl.Clip(np.concatenate([fox, np.zeros(64000, np.float32)]), samplerate=16000)
    chunks = sum(1 for _ in range(0, len(clip.samples) * 2, 4096))
    ref = vl.stream(clip, url=whisper.url, api_key=whisper.api_key, speed=4.0).wait(60)
    assert "fox" in ref.transcript.lower()
    # the server aborts when the last audio chunk arrives; the client has sent close_stream right after it
    with vl.serve(engine="whisper", faults=f"drop_after_chunks:{chunks}", announce=False) as server:
        s = vl.stream(clip, url=server.url, api_key=server.api_key, speed=1.0).wait(60)
    rec = s.recording
    first = _connections(rec)[0]
    sent = [e["message"].get("type") for e in first if e.kind == "send" and isinstance(e.get("message"), dict)]
    assert sent[-1:] == ["close_stream"], sent
    assert [e["code"] for e in rec.of("close")] == [1006, 1000]
    assert len(rec.of("gap")) == 1
    finals = _finals(s)
    assert finals[-1].is_last
    assert s.transcript == ref.transcript
    _check_audio_continuous(rec, clip.duration)


def test_a_server_that_drops_every_connection_exhausts_the_budget(whisper: Any) -> None:
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * 16000) / 16000)).astype(np.float32)
    with vl.serve(engine="whisper", faults="drop_after_seconds:0", announce=False) as server:
        t0 = time.monotonic()
        s = vl.stream(tone, samplerate=16000, url=server.url, api_key=server.api_key, speed=1.0,
                      retry=RetryPolicy(max_attempts=3, base=0.05, seed=1))
        with pytest.raises(ConnectionDropped, match="1006") as info:
            s.wait(30)
    assert time.monotonic() - t0 < 10
    assert info.value.close_code == 1006
    assert "Fix:" in str(info.value)
    assert len(s.recording.of("connect")) == 3
    assert len(s.recording.of("gap")) == 2
