import numpy as np
import pytest
import soxr

import voicelab as vl
from voicelab.errors import ConversionError


def test_float_to_pcm_rounds_and_clips():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 1 / 65536])
    assert vl.audio.float_to_pcm(x, dtype="int16").tolist() == [0, 16384, -16384, 32767, -32768, 32767, -32768, 0]
    assert vl.audio.float_to_pcm(x, dtype="int32")[1] == 2**30
    assert vl.audio.float_to_pcm(x, dtype="float32").max() == 1.0
    with pytest.raises(ConversionError, match="int16, int32, float32"):
        vl.audio.float_to_pcm(x, dtype="int8")


def test_int16_round_trip_is_exact():
    x = np.arange(-32768, 32768, dtype=np.int16)
    assert np.array_equal(vl.audio.float_to_pcm(vl.audio.pcm_to_float(x)), x)


def test_mono_mixdown_averages():
    st = np.stack([np.full(10, 0.5), np.full(10, -0.1)], axis=1)
    mono = vl.Clip(st, samplerate=8000).to_mono()
    assert mono.channels == 1 and np.allclose(mono.samples, 0.2)


@pytest.mark.parametrize("quality", ["LQ", "HQ", "VHQ"])
def test_resample_uses_soxr_and_keeps_a_tone(quality, tone):
    clip = vl.Clip(tone, samplerate=16000)
    out = clip.resample(48000, quality=quality)
    assert out.samplerate == 48000 and out.frames == 48000
    assert np.allclose(out.samples, soxr.resample(tone, 16000, 48000, quality=quality))
    spec = np.abs(np.fft.rfft(out.samples))
    assert np.argmax(spec) == 440
    with pytest.raises(ConversionError, match="quality"):
        clip.resample(8000, quality="best")


def test_normalize_and_dc(tone):
    clip = vl.Clip(tone * 0.1 + 0.05, samplerate=16000)
    assert 20 * np.log10(np.abs(clip.normalize(peak_dbfs=-3).samples).max()) == pytest.approx(-3, abs=1e-4)
    assert abs(vl.audio.remove_dc(clip).samples.mean()) < 1e-6
    with pytest.raises(ConversionError, match="<= 0"):
        clip.normalize(peak_dbfs=3)
    silent = vl.Clip(np.zeros(100), samplerate=16000)
    assert silent.normalize() is silent
