import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA
from voicelab.errors import ChunkError


@pytest.fixture(scope="module")
def weather():
    return vl.load(DATA / "speech" / "s02_weather_16k.flac")


def _tiles(chunks, duration):
    assert chunks[0].start == 0.0
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.end == pytest.approx(b.start)
        assert b.seq == a.seq + 1
    assert chunks[-1].end == pytest.approx(duration, abs=1e-6)


@pytest.mark.parametrize("encoding", ["linear16", "linear32", "float32", "alaw", "mulaw"])
def test_pcm_chunks_by_bytes_and_seconds_reassemble_exactly(weather, encoding):
    whole = vl.audio.encode(weather, encoding=encoding)
    by_bytes = list(vl.audio.chunk(weather, encoding=encoding, chunk_bytes=4096))
    assert all(c.nbytes == 4096 for c in by_bytes[:-1]) and by_bytes[-1].nbytes <= 4096
    assert b"".join(c.data for c in by_bytes) == whole
    _tiles(by_bytes, weather.duration)
    by_time = list(vl.audio.chunk(weather, encoding=encoding, chunk_seconds=0.05))
    assert all(c.duration == pytest.approx(0.05) for c in by_time[:-1])
    assert b"".join(c.data for c in by_time) == whole


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("encoding", ["linear16", "mulaw"])
def test_pcm_chunks_encoded_in_blocks_equal_chunks_encoded_alone(weather, encoding, channels):
    """Blocks of whole chunks (chunk sizes that do not divide a block too) give each chunk its own bytes."""
    samples = weather.samples[: int(2.7 * weather.samplerate)]
    clip = vl.Clip(np.stack([samples, -samples], axis=1) if channels == 2 else samples,
                   samplerate=weather.samplerate)
    for seconds in (0.02, 0.03, 0.7, 5.0):
        chunks = list(vl.audio.chunk(clip, encoding=encoding, chunk_seconds=seconds))
        _tiles(chunks, clip.duration)
        for c in chunks:
            a, b = round(c.start * clip.samplerate), round(c.end * clip.samplerate)
            assert c.data == vl.audio.encode_pcm(clip.samples[a:b], encoding=encoding)


def test_target_defaults(weather):
    pulse = list(vl.audio.chunk(weather, target="pulse"))
    assert pulse[0].nbytes == 4096 and pulse[0].duration == pytest.approx(0.128)
    agent = list(vl.audio.chunk(weather.resample(24000), target="assemblyai-agent"))
    assert agent[0].nbytes == 2400 and agent[0].duration == pytest.approx(0.05)
    assert vl.audio.b64decode(agent[0].b64()) == agent[0].data


def test_opus_packets_decode_back(weather):
    chunks = list(vl.audio.chunk(weather, encoding="opus", chunk_seconds=0.02))
    assert len(chunks) == int(np.ceil(weather.duration / 0.02))
    _tiles(chunks, weather.duration)
    back = vl.audio.decode_opus_packets([c.data for c in chunks], samplerate=16000)
    assert back.duration == pytest.approx(weather.duration, abs=0.03)


def test_ogg_opus_chunks_at_page_boundaries(weather):
    chunks = list(vl.audio.chunk(weather, encoding="ogg_opus", chunk_seconds=0.5))
    assert all(c.data.startswith(b"OggS") for c in chunks)
    _tiles(chunks, weather.duration)
    joined = b"".join(c.data for c in chunks)
    assert len(joined) == sum(c.nbytes for c in chunks)  # (each encode picks a new Ogg serial number)
    assert vl.load(joined, raw="ogg_opus:48000").duration == pytest.approx(weather.duration, abs=0.03)


def test_chunk_errors_name_the_fix(weather):
    with pytest.raises(ChunkError, match="e.g. 4094"):
        next(vl.audio.chunk(weather, chunk_bytes=4095))
    with pytest.raises(ChunkError, match="not both"):
        vl.audio.chunk(weather, chunk_bytes=4096, chunk_seconds=0.1)
    with pytest.raises(ChunkError, match="positive"):
        vl.audio.chunk(weather, chunk_seconds=0)
    with pytest.raises(ChunkError, match="Opus frame duration"):
        vl.audio.chunk(weather, encoding="opus", chunk_seconds=0.03)
    with pytest.raises(ChunkError, match="cannot be cut by bytes"):
        vl.audio.chunk(weather, encoding="opus", chunk_bytes=100)


def test_validate_chunk(weather):
    good = next(iter(vl.audio.chunk(weather, target="pulse"))).data
    assert vl.audio.validate_chunk(good, target="pulse") == []
    codes = lambda data, **kw: [f.code for f in vl.audio.validate_chunk(data, **kw)]  # noqa: E731
    assert codes(b"", target="pulse") == ["empty"]
    assert codes(good + b"\0" * 9000, target="pulse") == ["chunk_too_large"]
    assert codes(good[:513], target="pulse") == ["partial_sample", "chunk_too_small"]
    assert codes(vl.audio.b64encode(good), target="pulse") == ["base64_text"]
    assert "json_text" in codes('{"audio": "AAAA"}', target="pulse")
    wav = (DATA / "broken" / "weather_wav_header_in_raw.raw").read_bytes()[:4096]
    assert codes(wav, target="pulse")[0] == "wav_header_in_raw"
    f32 = vl.audio.encode(weather.slice(start=1.0, end=1.1), encoding="float32")
    assert codes(f32, target="pulse", seq=3)[0] == "float32_as_int16"
    assert "chunk 3" in vl.audio.validate_chunk(f32, target="pulse", seq=3)[0].message
    # AssemblyAI: base64 text is the right form; bad base64 is named
    agent_pcm = next(iter(vl.audio.chunk(weather.resample(24000), target="assemblyai-agent"))).data
    assert codes(vl.audio.b64encode(agent_pcm), target="assemblyai-agent") == []
    assert codes("not base64!!", target="assemblyai-agent") == ["invalid_base64"]
    assert codes(agent_pcm * 10, target="assemblyai-agent") == ["binary_chunk", "chunk_too_large"]
