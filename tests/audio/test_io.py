import io

import numpy as np
import pytest
import soundfile as sf

import voicelab as vl
from tests.conftest import DATA
from voicelab.errors import AudioFormatError, AudioLoadError

WEATHER = DATA / "speech" / "s02_weather_16k.flac"


@pytest.fixture(scope="module")
def ref():
    x, rate = sf.read(WEATHER, dtype="int16")
    return x, rate


def _wav_bytes(x, rate, subtype="PCM_16", fmt="WAV"):
    b = io.BytesIO()
    sf.write(b, x / 32768.0 if x.dtype == np.int16 else x, rate, format=fmt, subtype=subtype)
    return b.getvalue()


def test_every_input_kind_gives_the_same_clip(ref, tmp_path):
    x, rate = ref
    wav = _wav_bytes(x, rate)
    (tmp_path / "a.wav").write_bytes(wav)
    with open(tmp_path / "a.wav", "rb") as fh:
        from_file = vl.load(fh)
    clips = {
        "path": vl.load(str(tmp_path / "a.wav")),
        "pathlike": vl.load(tmp_path / "a.wav"),
        "bytes": vl.load(wav),
        "file": from_file,
        "array": vl.load(x, samplerate=rate),
        "raw": vl.load(x.astype("<i2").tobytes(), raw=f"linear16:{rate}:1"),
        "raw-kw": vl.load(x.astype("<i2").tobytes(), encoding="linear16", samplerate=rate),
        "clip": vl.load(vl.Clip(x, samplerate=rate)),
    }
    for kind, clip in clips.items():
        assert clip.samplerate == rate, kind
        np.testing.assert_array_equal(clip.samples, x / 32768.0, err_msg=kind)
    assert clips["path"].provenance.source == "path"
    assert clips["file"].provenance.source == "file"
    assert clips["bytes"].provenance.source == "bytes"
    assert clips["raw"].provenance.source == "raw" and clips["raw"].provenance.subtype == "linear16"
    assert clips["path"].provenance.container == "WAV" and clips["path"].provenance.subtype == "PCM_16"
    assert clips["path"].provenance.dtype == "int16" and clips["path"].provenance.byteorder == "little"


@pytest.mark.parametrize(("fmt", "subtype", "exact"), [
    ("WAV", "PCM_16", True), ("WAV", "FLOAT", True), ("FLAC", "PCM_16", True), ("WAV", "PCM_24", True),
    ("OGG", "VORBIS", False), ("OGG", "OPUS", False), ("MP3", "MPEG_LAYER_III", False),
])
def test_containers(ref, fmt, subtype, exact):
    x, rate = ref
    data = _wav_bytes(x, rate if fmt != "OGG" or subtype != "OPUS" else 16000, subtype, fmt)
    clip = vl.load(data)
    assert clip.provenance.container == fmt and clip.provenance.subtype == subtype
    if exact:
        np.testing.assert_allclose(clip.samples, x / 32768.0, atol=1e-4)
    else:  # lossy: same length within codec padding and strongly correlated with the source
        n = min(clip.frames, len(x))
        assert abs(clip.frames - len(x)) < 0.05 * rate * 2 + 2000
        if clip.samplerate == rate:
            lag = np.argmax(np.correlate(clip.samples[:n][:8000], (x[:n] / 32768.0)[:4000], "valid"))
            a = clip.samples[lag:n]
            b = x[: n - lag] / 32768.0
            assert np.corrcoef(a, b)[0, 1] > 0.9


def test_big_endian_aiff_byteorder(ref):
    x, rate = ref
    clip = vl.load(_wav_bytes(x, rate, "PCM_16", "AIFF"))
    assert clip.provenance.byteorder == "big"


@pytest.mark.parametrize(("encoding", "bps"), [("linear16", 2), ("linear32", 4), ("float32", 4),
                                              ("alaw", 1), ("mulaw", 1)])
def test_raw_every_pcm_encoding(ref, encoding, bps):
    x, rate = ref
    clip = vl.Clip(x, samplerate=rate)
    data = vl.audio.encode(clip, encoding=encoding)
    assert len(data) == bps * clip.frames
    back = vl.load(data, raw=vl.RawFormat(encoding, rate))
    tol = 1e-4 if bps > 1 else 0.02
    assert np.max(np.abs(back.samples - clip.samples)) < tol


def test_raw_ogg_opus(ref):
    x, rate = ref
    data = vl.audio.encode(vl.Clip(x, samplerate=rate), encoding="ogg_opus")
    clip = vl.load(data, raw=f"ogg_opus:{rate}")
    assert clip.duration == pytest.approx(len(x) / rate, abs=0.05)


def test_errors_name_input_and_fix(tmp_path):
    with pytest.raises(AudioLoadError, match="no such file"):
        vl.load(tmp_path / "missing.wav")
    with pytest.raises(AudioLoadError, match="directory"):
        vl.load(tmp_path)
    with pytest.raises(AudioFormatError, match="samplerate="):
        vl.load(np.zeros(100))
    (tmp_path / "x.raw").write_bytes(b"\0\0" * 100)
    with pytest.raises(AudioFormatError, match="raw='linear16:16000:1'"):
        vl.load(tmp_path / "x.raw")
    with pytest.raises(AudioLoadError, match="raw="):
        vl.load(bytes(range(256)) * 4)
    with pytest.raises(AudioLoadError, match="binary mode"):
        vl.load(io.StringIO("hello"))
    with pytest.raises(AudioFormatError, match="needs samplerate"):
        vl.load(b"\0\0", encoding="linear16")
    with pytest.raises(AudioFormatError, match="unknown encoding"):
        vl.load(b"\0\0", raw="pcm24:16000")
    with pytest.raises(AudioFormatError, match="2-byte"):
        vl.load(b"\x01\x02\x03", raw="linear16:16000")
    with pytest.raises(AudioFormatError, match="Ogg Opus file"):
        vl.load(b"\x01\x02" * 100, raw="opus:16000")


def test_save_round_trip_and_no_partial_file(ref, tmp_path):
    x, rate = ref
    clip = vl.Clip(x, samplerate=rate)
    for name in ("a.wav", "a.flac"):
        clip.save(str(tmp_path / name))
        np.testing.assert_array_equal(vl.load(tmp_path / name).samples, clip.samples)
    with pytest.raises(AudioFormatError, match="cannot tell"):
        clip.save(str(tmp_path / "a.xyz"))
    with pytest.raises(AudioFormatError, match="subtype"):
        vl.save(clip, tmp_path / "b.flac", subtype="FLOAT")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.flac", "a.wav"]
