import json

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA, entries
from voicelab.audio.sniff import sniff_samples

MISLABEL = {"rate_mismatch", "float32_as_int16", "int16_as_float32", "byte_swapped", "wav_header_in_raw",
            "stereo_as_mono", "base64_text", "json_text", "text_data", "container_in_raw"}


@pytest.mark.parametrize("entry", entries("broken"), ids=lambda e: e["path"])
def test_every_broken_file_is_flagged_first_with_its_code(entry):
    report = vl.inspect(DATA / entry["path"], raw=entry["raw"])
    assert report.codes, f"nothing found in {entry['path']}"
    assert report.codes[0] == entry["expect"], report.codes
    top = report.findings[0]
    assert top.fix and top.symptom_text and top.message


@pytest.mark.parametrize("entry", entries("speech") + entries("human"), ids=lambda e: e["path"])
@pytest.mark.parametrize("target", [None, "pulse"])
def test_good_files_raise_no_false_alarm(entry, target):
    report = vl.inspect(DATA / entry["path"], target=target)
    assert not MISLABEL & set(report.codes), report.codes
    assert all(f.severity == "info" for f in report.findings), [str(f) for f in report.findings]
    assert report.ok


#: (file, wrong-rate factor) pairs whose wrong label is a plausible rate (4–96 kHz): a 48 kHz file
#: declared at three times its rate (144 kHz) is not something anyone would be handed.
RELABELLED = [
    pytest.param(entry, factor, id=f"{entry['path']}-{factor:.3g}")
    for factor in (2, 3, 1 / 2, 1 / 3)
    for entry in entries("speech")[::2] + entries("human")
    if 4000 <= int(entry["samplerate"] / factor) <= 96000
]


@pytest.mark.parametrize(("entry", "factor"), RELABELLED)
def test_relabelled_good_files_are_caught(entry, factor):
    """Every good file, declared at the wrong rate, is flagged with the right direction and rate.

    Factor 1/2 (declared at twice the true rate) was a known limit of the old pitch-and-centroid
    check (a man's voice sped up sounds like a woman's); the harmonic peak catches it now.
    """
    clip = vl.load(DATA / entry["path"])
    wrong = int(clip.samplerate / factor)
    found = sniff_samples(vl.Clip(clip.samples, samplerate=wrong))
    assert [f.code for f in found] == ["rate_mismatch"], (wrong, [f.evidence for f in found])
    likely = found[0].evidence["likely_samplerate"]
    assert 0.6 < likely / clip.samplerate < 1.6


def test_truth_of_low_bandwidth_on_upsampled_audio():
    clip = vl.load(DATA / "speech" / "s02_weather_16k.flac")
    for rate, low in ((16000, False), (48000, True)):
        rep = vl.inspect(clip.resample(8000).resample(rate))
        assert ("low_bandwidth" in rep.codes) is low, (rate, rep.codes)
        assert rep.levels is not None and rep.levels.bandwidth_hz < 4100


def test_target_findings():
    clip = vl.load(DATA / "broken" / "stereo_44k_float.wav")
    rep = clip.inspect(target="pulse")
    assert {"stereo", "float_samples"} <= set(rep.codes)
    assert "wrong_samplerate" not in rep.codes  # 44.1 kHz is accepted by Pulse
    rep = clip.inspect(target="assemblyai-agent")
    assert "wrong_samplerate" in rep.codes and not rep.ok
    fixed = clip.to_mono().resample(24000)
    assert fixed.inspect(target="assemblyai-agent").ok


def test_raw_encoding_against_target():
    pcm = vl.audio.encode(vl.load(DATA / "speech" / "s02_weather_16k.flac").resample(8000), encoding="mulaw")
    assert vl.inspect(pcm, raw="mulaw:8000", target="assemblyai-agent").ok
    rep = vl.inspect(pcm, raw="mulaw:8000", target="pulse")
    assert rep.ok
    rep = vl.inspect(vl.audio.encode(vl.load(DATA / "speech" / "s02_weather_16k.flac"), encoding="linear32"),
                     raw="linear32:16000", target="assemblyai-agent")
    assert "wrong_encoding" in rep.codes


def test_every_input_kind(tone):
    clip = vl.Clip(tone, samplerate=16000)
    pcm = vl.audio.encode(clip, encoding="linear16")
    for src, kw in ((clip, {}), (tone, {"samplerate": 16000}), (pcm, {"raw": "linear16:16000:1"}),
                    (str(DATA / "speech" / "s01_fox_16k.flac"), {})):
        rep = vl.inspect(src, **kw)
        assert rep.samplerate == 16000 and rep.levels is not None


def test_report_renders_html_text_and_json():
    rep = vl.inspect(DATA / "broken" / "clipped.wav", target="pulse")
    html = rep._repr_html_()
    assert "clipping" in html and "<table>" in html and "fix" in html
    text = str(rep)
    assert "clipping" in text and "fix:" in text and "16000 Hz" in text
    d = json.loads(rep.to_json())
    assert d["findings"][0]["code"] == "clipping" and d["levels"]["clipping_share"] > 0.01
    assert d["ok"] is False


def test_json_has_no_nan_for_unvoiced_audio():
    noise = np.random.default_rng(0).normal(0, 0.1, 16000 * 3).astype(np.float32)
    d = json.loads(vl.inspect(noise, samplerate=16000).to_json())
    assert d["samplerate"] == 16000


def test_levels_known_values():
    t = np.arange(16000) / 16000
    x = (0.5 * np.sin(2 * np.pi * 1000 * t) + 0.1).astype(np.float32)
    x[:8000] = 0.1  # silence with a DC offset is still silence
    lv = vl.audio.measure_levels(vl.Clip(x, samplerate=16000))
    assert lv.peak_dbfs == pytest.approx(20 * np.log10(0.6), abs=0.01)
    assert lv.dc_offset[0] == pytest.approx(0.1, abs=1e-3)
    assert lv.silence_share == pytest.approx(0.5, abs=0.02)
