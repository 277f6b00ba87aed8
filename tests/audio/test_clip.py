import numpy as np
import pytest

import voicelab as vl
from voicelab.errors import AudioFormatError, VoicelabError


def test_int16_scaled_and_rate_kept():
    clip = vl.Clip(np.array([0, 16384, -32768, 32767], dtype=np.int16), samplerate=8000)
    assert clip.samples.dtype == np.float32
    assert clip.samples.tolist() == [0.0, 0.5, -1.0, 32767 / 32768]
    assert clip.samplerate == 8000 and clip.frames == 4 and clip.channels == 1
    assert clip.provenance.dtype == "int16" and clip.provenance.source == "array"


def test_samples_are_read_only_and_operations_record_history(tone):
    clip = vl.Clip(tone, samplerate=16000)
    with pytest.raises(ValueError):
        clip.samples[0] = 1.0
    out = clip.slice(start=0.25, end=0.5).resample(8000)
    assert out.samplerate == 8000
    assert out.duration == pytest.approx(0.25, abs=1e-3)
    assert [h.split()[0] for h in out.provenance.history] == ["slice", "resample"]


def test_slice_by_seconds_negative_and_clamped(tone):
    clip = vl.Clip(tone, samplerate=16000)
    assert clip.slice(start=-0.25).frames == 4000
    assert clip.slice(start=0.9, end=5.0).frames == 1600
    with pytest.raises(AudioFormatError, match="before start"):
        clip.slice(start=0.5, end=0.1)


def test_stereo_shape_and_transposed_input_error():
    st = np.zeros((100, 2), dtype=np.float32)
    assert vl.Clip(st, samplerate=16000).channels == 2
    with pytest.raises(AudioFormatError, match=r"samples.T"):
        vl.Clip(np.zeros((2, 1000)).T.T.reshape(1000, 2).T.reshape(2, 1000).T.T.repeat(50, axis=0).T,
                samplerate=16000)


@pytest.mark.parametrize("bad", [0, -1, 16000.5, "16000", None, True])
def test_bad_samplerate(bad):
    with pytest.raises(VoicelabError, match="samplerate"):
        vl.Clip(np.zeros(10), samplerate=bad)


def test_nan_rejected_with_fix():
    with pytest.raises(AudioFormatError, match="nan_to_num"):
        vl.Clip(np.array([0.0, np.nan]), samplerate=16000)


def test_repr_names_rate_layout_and_source(tone):
    r = repr(vl.Clip(tone, samplerate=16000))
    assert "16000 Hz" in r and "mono" in r and "1.000 s" in r
