"""The rate-label check: verdicts, severities, evidence, and when it must say it cannot tell."""

import json

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.audio import ratelabel
from voicelab.audio.sniff import sniff_samples


@pytest.fixture(scope="module")
def weather() -> vl.Clip:
    return vl.load(DATA / "speech" / "s02_weather_16k.flac")


@pytest.fixture(scope="module")
def human() -> vl.Clip:
    return vl.load(DATA / "human" / "two_cities_48k.flac")


def relabel(clip: vl.Clip, declared: int) -> vl.Clip:
    return vl.Clip(clip.samples, samplerate=declared)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 32000, 44100, 48000])
def test_the_human_recording_is_clean_at_every_standard_rate(human, rate):
    report = vl.inspect(human.resample(rate))
    assert "rate_mismatch" not in report.codes and "rate_unverified" not in report.codes, report.codes
    assert report.cues is not None and report.cues.verdict == "consistent"
    assert report.cues.confidence > 0.9 and report.cues.log_likelihood_ratio < -ratelabel.DECISIVE_LLR


def test_decisive_evidence_is_an_error_with_cues_confidence_and_the_true_rate(human):
    report = vl.inspect(relabel(human.resample(16000), 32000))  # 16 kHz speech declared at 32 kHz: sped up
    f = report.findings[0]
    assert (f.code, f.severity) == ("rate_mismatch", "error")
    assert "sped up and pitched up" in f.message and "about 16000 Hz" in f.message and "possibly" not in f.message
    ev = f.evidence
    assert ev["likely_samplerate"] == 16000 and ev["rate_factor"] == 0.5 and ev["decisive"] is True
    assert ev["confidence"] > 0.99 and ev["log_likelihood_ratio"] >= ratelabel.DECISIVE_LLR
    assert {"pitch", "harmonic_peak", "syllable_rhythm"} <= set(ev["cues"])
    # the measured cues, and the same cues at the likely rate, where they are typical of speech
    at_true = ev["candidates"]["0.5"]
    assert at_true["samplerate"] == 16000
    assert 85 <= at_true["pitch_hz"] <= 155 and 300 <= at_true["harmonic_peak_hz"] <= 550
    assert ev["measured"]["pitch_hz"] == pytest.approx(2 * at_true["pitch_hz"], rel=0.01)
    assert "clip = vl.Clip(clip.samples, samplerate=16000)" in f.fix
    json.dumps(f.to_dict())  # evidence is JSON-serialisable


def test_weak_evidence_is_a_warning_that_says_possibly():
    """Little voiced speech (s06: "Yes. No. Maybe later.") declared at twice its rate: caught, but not decisive."""
    short = vl.load(DATA / "speech" / "s06_short_16k.flac")
    found = sniff_samples(relabel(short, 32000))
    assert [f.code for f in found] == ["rate_mismatch"]
    f = found[0]
    assert f.severity == "warning" and "possibly" in f.message and f.evidence["decisive"] is False
    assert f.evidence["likely_samplerate"] == 16000
    assert f.evidence["voiced_seconds"] / 0.5 < ratelabel.DECISIVE_VOICED_SECONDS


def test_the_same_speech_gets_the_same_verdict_at_every_stored_rate(weather):
    factors = []
    for rate in (8000, 16000, 24000, 48000):
        clip = weather.resample(rate)
        cues = [vl.audio.speech_cues(relabel(clip, round(rate * f))) for f in (1, 2, 1 / 2)]
        assert all(c is not None for c in cues)
        factors.append([(c.verdict, c.rate_factor) for c in cues if c is not None])
    assert all(f == factors[0] for f in factors), factors
    assert factors[0] == [("consistent", 1.0), ("mismatch", 0.5), ("mismatch", 2.0)]


def test_short_speech_says_it_cannot_tell(weather):
    report = vl.inspect(weather.slice(start=0.3, end=1.0))
    assert "rate_mismatch" not in report.codes
    f = next(f for f in report.findings if f.code == "rate_unverified")
    assert f.severity == "info" and "could not be checked" in f.message and "voiced speech" in f.message
    assert report.cues is not None and report.cues.verdict == "unknown" and report.cues.likely_samplerate is None
    assert "cannot tell" in str(report)


def test_unvoiced_audio_says_it_cannot_tell():
    noise = np.random.default_rng(0).normal(0, 0.1, 16000 * 5).astype(np.float32)
    report = vl.inspect(noise, samplerate=16000)
    assert "rate_mismatch" not in report.codes and "rate_unverified" in report.codes
    json.loads(report.to_json())


@pytest.mark.parametrize("hz", [110.0, 440.0, 1000.0])
def test_a_steady_tone_is_not_judged_as_speech(hz):
    t = np.arange(16000 * 4) / 16000
    tone = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    cues = vl.audio.speech_cues(vl.Clip(tone, samplerate=16000))
    assert cues is not None and cues.verdict == "unknown" and "tone" in cues.reason


def test_silence_has_no_cues():
    assert vl.audio.speech_cues(vl.Clip(np.zeros(16000, np.float32), samplerate=16000)) is None


def test_the_harmonic_peak_tells_a_sped_up_man_from_a_woman(weather, human):
    """At twice its rate a man's pitch is a woman's; his harmonic peak is twice anyone's."""
    man_2x = vl.audio.speech_cues(relabel(human.resample(16000), 32000))
    woman = vl.audio.speech_cues(weather)
    assert man_2x is not None and woman is not None
    assert abs(np.log(man_2x.pitch_hz / woman.pitch_hz)) < 0.25  # same pitch range ...
    assert man_2x.harmonic_peak_hz > 1.5 * woman.harmonic_peak_hz  # ... not the same vocal tract
    as_declared, at_half = man_2x.cues["1"], man_2x.cues["0.5"]
    # as declared, the likeliest voice has his pitch but not his harmonic peak (too high even for a child)
    assert as_declared["voice"] in ("woman", "child") and abs(as_declared["ll_pitch"]) < 1.5
    assert as_declared["ll_harmonic_peak"] < as_declared["ll_pitch"] - 1.0
    assert at_half["voice"] == "man" and at_half["ll_harmonic_peak"] > -1.0
    assert at_half["log_likelihood"] - as_declared["log_likelihood"] >= ratelabel.DECISIVE_LLR


def test_long_audio_is_analysed_in_bounded_excerpts(weather):
    long = vl.Clip(np.tile(weather.samples, 40), samplerate=16000)  # 3.7 minutes
    parts = ratelabel._excerpts(long.samples, long.samplerate)
    assert sum(len(p) for p in parts) <= ratelabel.MAX_ANALYSED_SECONDS * 16000
    cues = vl.audio.speech_cues(long)
    assert cues is not None and cues.verdict == "consistent"
    cues = vl.audio.speech_cues(relabel(long, 8000))
    assert cues is not None and cues.verdict == "mismatch" and cues.likely_samplerate == 16000


def test_report_row_shows_the_verdict(weather):
    text = str(vl.inspect(relabel(weather, 8000)))
    assert "rate label   wrong (confidence 100%; likely 16000 Hz)" in text
    assert "rate label   fits the speech" in str(vl.inspect(weather))
