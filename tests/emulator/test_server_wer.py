"""Transcript quality of the whisper engine through the real server (vendor-style client, data/ references)."""

from __future__ import annotations

import json
import re

import jiwer
import pytest

from tests.emulator.urls import pulse_url

from .conftest import DATA, pcm16, run, silence, stream_pulse

pytestmark = pytest.mark.slow


def _norm(text: str) -> str:
    text = text.lower().replace("—", " ").replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


def _speech_16k() -> list[dict]:
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    return [e for e in files if e["kind"] == "speech" and e["samplerate"] == 16000]


def test_wer_synthetic_set(whisper_server):
    refs, hyps = [], []
    for entry in _speech_16k():
        pcm, rate = pcm16(entry["path"])
        res = run(
            stream_pulse(
                pulse_url(whisper_server) + "&language=en", pcm + silence(0.5), api_key=whisper_server.api_key, speed=4
            )
        )
        assert res.close_code == 1000 and res.finals[-1]["is_last"]
        refs.append(_norm(entry["transcript"]))
        hyps.append(_norm(res.text))
    wer = jiwer.wer(refs, hyps)
    print(f"synthetic WER {wer:.3f}")
    assert wer <= 0.15, list(zip(refs, hyps, strict=True))


def test_wer_human_48k(whisper_server):
    entry = next(e for e in json.loads((DATA / "manifest.json").read_text())["files"] if e["id"] == "two_cities")
    pcm, rate = pcm16(entry["path"])
    assert rate == 48000
    res = run(
        stream_pulse(
            pulse_url(whisper_server) + "&sample_rate=48000&encoding=linear16",
            pcm,
            api_key=whisper_server.api_key,
            chunk=4096 * 3,
            bytes_per_second=96000.0,
            speed=4,
            timeout=180,
        )
    )
    wer = jiwer.wer(_norm(entry["transcript"]), _norm(res.text))
    print(f"two_cities WER {wer:.3f}: {res.text}")
    assert wer <= 0.05


def test_real_time_paced_session(whisper_server):
    """One session paced at real time: interims arrive during speech, finals soon after each sentence."""
    entry = next(e for e in _speech_16k() if e["id"] == "s02_weather")
    pcm, _ = pcm16(entry["path"])
    res = run(stream_pulse(pulse_url(whisper_server), pcm, api_key=whisper_server.api_key, speed=1.0))
    onset = entry["sentences"][1]["start"]
    end = entry["sentences"][1]["end"]
    interims = [
        t
        for m, t in zip(res.messages, res.times, strict=True)
        if m["type"] == "transcription" and not m["is_final"] and m["transcript"] and t > onset
    ]
    assert interims and interims[0] - onset < 1.5
    worded = [(m, t) for m, t in zip(res.messages, res.times, strict=True) if m.get("is_final") and m["transcript"]]
    assert "weather" in worded[-1][0]["transcript"].lower()
    assert worded[-1][1] - end < 2.0
    assert jiwer.wer(_norm(entry["transcript"]), _norm(res.text)) <= 0.25
