"""The fixes that findings print are runnable as written on the files that raise them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import voicelab as vl
from voicelab.audio.codecs import CodecError

BROKEN = Path(__file__).resolve().parents[2] / "data" / "broken"


def _finding(clip_or_findings, code):
    findings = getattr(clip_or_findings, "findings", clip_or_findings)
    return next(f for f in findings if f.code == code)


def test_a_wav_file_named_raw_loads_as_the_wav_it_is():
    path = BROKEN / "weather_wav_header_in_raw.raw"
    clip = vl.load(path)  # what the wav_header_in_raw fix says: vl.load(path_or_bytes)
    assert clip.samplerate == 16000 and clip.duration == pytest.approx(5.53, abs=0.01)
    assert clip.provenance.container == "WAV"
    same = vl.load(path.read_bytes())
    assert np.array_equal(clip.samples, same.samples)


def test_headerless_raw_files_are_still_refused_without_a_format():
    with pytest.raises(vl.AudioFormatError, match="headerless audio"):
        vl.load(BROKEN / "weather_byteswapped.raw")


def test_base64_text_read_from_a_file_decodes_despite_its_last_newline():
    text = (BROKEN / "weather_base64.txt").read_text()
    assert text.endswith("\n")
    clip = vl.load(vl.audio.b64decode(text), raw="linear16:16000:1")  # the base64_text fix as printed
    assert clip.duration == pytest.approx(5.53, abs=0.01)
    with pytest.raises(CodecError, match="whitespace"):
        vl.audio.b64decode("AAAA\nAAAA")  # inside the text it is still refused


def test_the_rate_fix_does_not_resample_to_the_rate_the_audio_already_has():
    clip = vl.load(BROKEN / "weather_16k_labelled_8k.raw", raw="linear16:8000:1")
    fix = _finding(clip.inspect(), "rate_mismatch").fix
    assert "raw='pcm_16:16000:1')" in fix.replace("linear16", "pcm_16") or "samplerate=16000)" in fix, fix
    assert ".resample(16000)" not in fix
    wrong48 = vl.load(BROKEN / "weather_48k_labelled_16k.raw", raw="linear16:16000:1")
    assert ".resample(16000)" in _finding(wrong48.inspect(), "rate_mismatch").fix  # the declared rate
    for_agent = _finding(wrong48.inspect(target="assemblyai-agent"), "rate_mismatch").fix
    assert "raw='linear16:48000:1').resample(24000)" in for_agent, for_agent  # the rate the Voice Agent takes
