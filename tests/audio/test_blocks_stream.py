"""`vl.stream(path)` on a file longer than `HEAD_SECONDS`: streamed block by block, the same bytes as a Clip."""

import numpy as np
import pytest
import soundfile as sf

import voicelab as vl
from tests.conftest import DATA
from voicelab.audio.blocks import HEAD_SECONDS


def test_long_file_streams_block_by_block_with_the_same_bytes(tmp_path):
    speech = vl.load(DATA / "speech" / "s02_weather_24k.flac")
    reps = int(HEAD_SECONDS // speech.duration) + 2
    path = tmp_path / "long.flac"
    sf.write(path, np.tile(speech.samples, reps), speech.samplerate, subtype="PCM_16")
    whole = vl.load(path)
    assert whole.duration > HEAD_SECONDS
    with vl.serve(engine="sphinx", announce=False) as server:
        kw = dict(provider="pulse", url=server.url, api_key=server.api_key, speed=30.0, keep_audio_seconds=None)
        by_blocks = vl.stream(path, **kw)
        assert by_blocks.preflight == ()  # checked on its first minute: healthy speech, nothing to report
        by_blocks.wait(180)
        from_clip = vl.stream(whole, **kw).wait(180)
    a, b = by_blocks.recording.sent_audio(), from_clip.recording.sent_audio()
    assert a.complete and b.complete and a.format == b.format == "linear16:16000:1"
    assert a.data == b.data and len(a.data) == pytest.approx(whole.duration * 32000, abs=2)
    assert by_blocks.recording.stats.chunks_sent == from_clip.recording.stats.chunks_sent
