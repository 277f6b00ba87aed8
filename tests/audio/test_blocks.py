"""The block reader: the same chunks as the whole-file path, byte for byte, with flat memory."""

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import DATA
from voicelab.audio import chunk, load
from voicelab.audio.blocks import HEAD_SECONDS, chunk_frames, file_chunks, file_info, long_file_head, read_head
from voicelab.errors import AudioLoadError, ChunkError

SPEECH = sorted((DATA / "speech").glob("*.flac"))

#: (rate, encoding, chunk arguments): the providers' defaults and the odd cases (G.711, float, bytes).
CASES = [
    (16000, "linear16", {"target": "pulse"}),
    (24000, "linear16", {"target": "assemblyai-agent"}),
    (8000, "mulaw", {"chunk_seconds": 0.02}),
    (8000, "alaw", {"chunk_bytes": 160}),
    (44100, "float32", {}),
    (48000, "linear32", {"chunk_bytes": 4000}),
]


def _whole(path, rate, enc, kw):
    return list(chunk(load(path).to_mono().resample(rate), encoding=enc, **kw))


@pytest.mark.parametrize("rate,enc,kw", CASES, ids=[f"{c[1]}@{c[0]}" for c in CASES])
def test_chunks_equal_the_whole_file_path_on_every_speech_file(rate, enc, kw):
    assert len(SPEECH) >= 10
    for path in SPEECH:
        old, new = _whole(path, rate, enc, kw), list(file_chunks(path, encoding=enc, samplerate=rate, **kw))
        assert len(new) == len(old) and new == old, f"{path.name} at {rate} Hz {enc}"


@pytest.mark.parametrize("block_seconds", [0.013, 0.25, 3.0])
def test_block_size_does_not_change_the_bytes(block_seconds):
    path = DATA / "broken" / "stereo_44k_float.wav"  # stereo float at 44.1 kHz: mixdown and resampling
    old = _whole(path, 16000, "linear16", {"target": "pulse"})
    new = list(file_chunks(path, encoding="linear16", samplerate=16000, target="pulse", block_seconds=block_seconds))
    assert new == old and new[-1].end == pytest.approx(load(path).duration, abs=1e-4)


def test_chunk_frames_matches_chunk_and_refuses_what_chunk_refuses():
    assert chunk_frames(encoding="linear16", samplerate=16000, target="pulse") == 2048
    assert chunk_frames(encoding="linear16", samplerate=24000, target="assemblyai-agent") == 1200
    assert chunk_frames(encoding="mulaw", samplerate=8000) == 800
    with pytest.raises(ChunkError, match="split"):
        chunk_frames(encoding="linear16", samplerate=16000, chunk_bytes=4095)
    with pytest.raises(ChunkError, match="not both"):
        chunk_frames(encoding="linear16", samplerate=16000, chunk_bytes=4096, chunk_seconds=0.1)
    with pytest.raises(ChunkError, match="Opus"):
        chunk_frames(encoding="opus", samplerate=16000, chunk_seconds=0.02)


def test_missing_file_and_non_audio_raise_load_errors(tmp_path):
    with pytest.raises(AudioLoadError, match="no such file"):
        file_chunks(tmp_path / "nope.flac", encoding="linear16", samplerate=16000)
    (tmp_path / "x.wav").write_text("hello, not audio")
    with pytest.raises(AudioLoadError, match="could not read"):
        file_info(tmp_path / "x.wav")


def test_read_head_names_the_part_and_carries_truncation():
    short = read_head(SPEECH[0], seconds=1.0)
    assert short.duration == pytest.approx(1.0, abs=1e-3) and "the first 1 s of" in short.provenance.name
    whole = read_head(SPEECH[0], seconds=600)
    assert whole == load(SPEECH[0]) and whole.provenance.name == str(SPEECH[0])
    cut = read_head(DATA / "broken" / "truncated.wav", seconds=60)
    assert [f.code for f in cut.provenance.findings] == ["truncated"]


def _tone_file(path: Path, seconds: float, rate: int = 48000, channels: int = 2) -> Path:
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16") as f:
        t = np.arange(rate) / rate
        second = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], channels, axis=1)
        for _ in range(int(seconds)):
            f.write(second)
    return path


def test_long_file_head_only_for_long_pcm_files(tmp_path):
    assert long_file_head(SPEECH[0], encoding="linear16") is None  # short: loaded whole as before
    long = _tone_file(tmp_path / "long.wav", HEAD_SECONDS + 2, rate=8000, channels=1)
    head = long_file_head(long, encoding="linear16")
    assert head is not None and head.duration == HEAD_SECONDS
    assert long_file_head(long, encoding="opus") is None
    assert long_file_head(str(tmp_path / "missing.wav"), encoding="linear16") is None  # load() names the error
    assert long_file_head(np.zeros(10), encoding="linear16") is None


def test_memory_stays_flat_as_the_file_grows(tmp_path):
    """Peak traced memory while streaming a 20 s and a 200 s stereo 48 kHz file: the same, and small."""
    peaks = []
    for seconds in (20, 200):
        path = _tone_file(tmp_path / f"t{seconds}.wav", seconds)
        tracemalloc.start()
        n = 0
        for c in file_chunks(path, encoding="linear16", samplerate=16000, target="pulse"):
            n += len(c.data)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert n == seconds * 16000 * 2
    whole_200 = 200 * 48000 * 2 * 4  # what the whole-file path holds as float32 samples alone: 77 MB
    assert peaks[1] < 2 * peaks[0] + 200_000 and peaks[1] < whole_200 / 20, peaks
