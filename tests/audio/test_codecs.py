"""Codecs: PCM/G.711 byte formats, Ogg Opus, raw Opus packets, Ogg pages and strict base64."""

from __future__ import annotations

import base64
import importlib
import io
import json
import sys
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from voicelab.audio import codecs
from voicelab.audio.clip import Clip
from voicelab.audio.codecs import (
    b64decode,
    b64encode,
    decode,
    decode_opus_packets,
    decode_pcm,
    encode,
    encode_opus_packets,
    encode_pcm,
    ogg_pages,
    opus_preskip,
)
from voicelab.errors import CodecError, CodecUnavailableError, VoicelabError

PCM = ("linear16", "linear32", "float32", "alaw", "mulaw")


def _audioop() -> ModuleType:
    if sys.version_info >= (3, 13):  # removed from the stdlib; the audioop-lts package provides it
        return pytest.importorskip("audioop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


def speech_like(samplerate: int, *, seconds: float = 2.0, channels: int = 1, peak: float = 0.5) -> np.ndarray:
    """Harmonics of a gliding 110-190 Hz pitch under a 3 Hz syllable envelope, plus light noise.

    The pitch glide keeps the signal from being periodic, so cross-correlation finds one delay.
    """
    rng = np.random.default_rng(1234)
    t = np.arange(round(samplerate * seconds)) / samplerate
    f0 = 150 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / samplerate
    x = np.zeros_like(t)
    for k in range(1, 25):
        if 190 * k < 0.45 * samplerate:
            x += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
    env = 0.55 - 0.45 * np.cos(2 * np.pi * 3 * t)
    x = x * env + 0.01 * rng.standard_normal(t.size)
    x = peak * x / np.max(np.abs(x))
    if channels == 2:
        return np.stack([x, 0.6 * np.roll(x, 37)], axis=1).astype(np.float32)
    return x.astype(np.float32)


def snr_db(ref: np.ndarray, out: np.ndarray) -> float:
    return float(
        10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((ref - out).astype(np.float64) ** 2))
    )


def align(ref: np.ndarray, out: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Delay of ``out`` against ``ref`` (by FFT cross-correlation) and the overlapping parts."""
    from scipy.signal import correlate

    lag = int(np.argmax(correlate(out, ref, mode="full", method="fft"))) - (len(ref) - 1)
    r, o = (ref, out[lag:]) if lag >= 0 else (ref[-lag:], out)
    n = min(len(r), len(o))
    return lag, r[:n], o[:n]


# -- PCM ------------------------------------------------------------------------------------------
def test_linear16_round_trip_is_exact_for_every_int16_value() -> None:
    ints = np.arange(-32768, 32768, dtype=np.int16)
    floats = ints.astype(np.float32) / 32768
    data = encode_pcm(floats, encoding="linear16")
    assert data == ints.astype("<i2").tobytes()
    back = decode_pcm(data, encoding="linear16")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, floats)  # bytes -> float -> bytes is exact too
    assert encode_pcm(back, encoding="linear16") == data


def test_linear16_matches_clip_int_scaling() -> None:
    ints = np.array([-32768, -1, 0, 1, 12345, 32767], dtype=np.int16)
    assert encode(Clip(ints, samplerate=16000), encoding="linear16") == ints.astype("<i2").tobytes()


def test_linear16_rounds_and_clips() -> None:
    x = np.array([1.0, -1.0, 1.5, -1.5, 0.5 / 32768, 1.5 / 32768, -0.6 / 32768], dtype=np.float64)
    got = np.frombuffer(encode_pcm(x, encoding="linear16"), "<i2")
    assert got.tolist() == [32767, -32768, 32767, -32768, 0, 2, -1]


def test_linear32_round_trip_error_is_at_most_2_to_minus_32() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [rng.uniform(-1, 1, 100_000), rng.uniform(-1e-3, 1e-3, 10_000), [-1.0, 1.0, 0.0]]
    ).astype(np.float32)
    data = encode_pcm(x, encoding="linear32")
    assert len(data) == 4 * x.size
    back = decode_pcm(data, encoding="linear32")
    err = np.abs(back.astype(np.float64) - x.astype(np.float64))
    assert err.max() <= 2.0**-32
    big = np.abs(x) >= 2.0**-8  # float32 has 24 significant bits: these survive exactly
    np.testing.assert_array_equal(back[big], x[big])
    assert np.frombuffer(data, "<i4")[-3:].tolist() == [-(2**31), 2**31 - 1, 0]


def test_float32_round_trip_is_bit_exact_and_clips_beyond_full_scale() -> None:
    x = np.array([0.0, -0.0, 1e-30, 0.1, -1.0, 1.0, 2.0, -3.0], dtype=np.float32)
    data = encode_pcm(x, encoding="float32")
    back = decode_pcm(data, encoding="float32")
    np.testing.assert_array_equal(back[:6].view(np.uint32), x[:6].view(np.uint32))
    assert back[6:].tolist() == [1.0, -1.0]


@pytest.mark.parametrize("law", ["alaw", "mulaw"])
def test_g711_matches_audioop_and_has_snr_above_35_db(law: str) -> None:
    audioop = _audioop()
    x = speech_like(8000, peak=0.7)
    data = encode_pcm(x, encoding=law)
    assert len(data) == x.size
    pcm16 = encode_pcm(x, encoding="linear16")
    assert data == (audioop.lin2alaw if law == "alaw" else audioop.lin2ulaw)(pcm16, 2)
    back = decode_pcm(data, encoding=law)
    ref = np.frombuffer((audioop.alaw2lin if law == "alaw" else audioop.ulaw2lin)(data, 2), "<i2")
    np.testing.assert_array_equal(back, ref.astype(np.float32) / 32768)
    snr = snr_db(x, back)
    assert snr > 35.0, snr  # measured 37.4 dB for both laws
    # G.711 error is relative: at most half a segment step, i.e. < 1/16 of |x| plus the smallest step.
    assert np.all(np.abs(back - x) <= np.abs(x) / 16 + 16 / 32768)


@pytest.mark.parametrize("encoding", PCM)
def test_stereo_is_interleaved_and_decodes_to_frames_by_channels(encoding: str) -> None:
    x = speech_like(16000, seconds=0.1, channels=2)
    data = encode_pcm(x, encoding=encoding)
    mono = [encode_pcm(x[:, c], encoding=encoding) for c in range(2)]
    width = codecs.BYTES_PER_SAMPLE[encoding]
    assert data[:width] == mono[0][:width] and data[width : 2 * width] == mono[1][:width]
    back = decode_pcm(data, encoding=encoding, channels=2)
    assert back.shape == x.shape and back.dtype == np.float32
    np.testing.assert_array_equal(back[:, 1], decode_pcm(mono[1], encoding=encoding))


@pytest.mark.parametrize("encoding", PCM)
def test_decode_returns_clip_with_raw_provenance(encoding: str) -> None:
    x = speech_like(16000, seconds=0.25)
    clip = decode(encode(Clip(x, samplerate=16000), encoding=encoding), encoding=encoding, samplerate=16000)
    assert clip.samplerate == 16000 and clip.frames == x.size
    p = clip.provenance
    assert (p.source, p.container, p.subtype, p.samplerate, p.channels) == ("raw", "RAW", encoding, 16000, 1)
    assert p.byteorder == (None if encoding in ("alaw", "mulaw") else "little")


def test_aliases_are_accepted() -> None:
    x = np.array([0.25, -0.25], dtype=np.float32)
    assert encode_pcm(x, encoding="pcm_s16le") == encode_pcm(x, encoding="linear16")
    assert encode_pcm(x, encoding="ulaw") == encode_pcm(x, encoding="mulaw")


@pytest.mark.parametrize(
    ("encoding", "channels", "nbytes", "left"),
    [
        ("linear16", 1, 3, 1),
        ("linear32", 1, 6, 2),
        ("float32", 1, 9, 1),
        ("linear16", 2, 6, 2),
        ("mulaw", 2, 5, 1),
    ],
)
def test_partial_frames_are_rejected_with_left_over_count(
    encoding: str, channels: int, nbytes: int, left: int
) -> None:
    with pytest.raises(CodecError) as info:
        decode_pcm(b"\x00" * nbytes, encoding=encoding, channels=channels)
    msg = str(info.value)
    assert f"{nbytes} bytes is not a whole number of frames" in msg
    assert f"{left} byte{'s' if left > 1 else ''} left over" in msg
    assert "cut mid-sample" in msg


def test_pcm_argument_errors() -> None:
    with pytest.raises(CodecError, match=r"needs float samples.*got dtype int16"):
        encode_pcm(np.zeros(4, np.int16), encoding="linear16")
    with pytest.raises(CodecError, match=r"NaN or infinity"):
        encode_pcm(np.array([0.0, np.nan]), encoding="linear16")
    with pytest.raises(CodecError, match=r"use encode_opus_packets"):
        encode_pcm(np.zeros(4, np.float32), encoding="opus")
    with pytest.raises(CodecError, match=r"channels must be a whole number from 1 to 64, got 0"):
        decode_pcm(b"", encoding="linear16", channels=0)
    with pytest.raises(CodecError, match=r"needs the sample rate"):
        decode(b"\x00\x00", encoding="linear16")
    with pytest.raises(CodecError, match=r"bitrate applies to ogg_opus only"):
        encode(Clip(np.zeros(4, np.float32), samplerate=8000), encoding="mulaw", bitrate=64000)
    with pytest.raises(VoicelabError, match=r"unknown encoding 'mp3'"):
        encode_pcm(np.zeros(4, np.float32), encoding="mp3")
    with pytest.raises(CodecError, match=r"encode needs a Clip, got ndarray"):
        encode(np.zeros(4, np.float32), encoding="linear16")  # type: ignore[arg-type]
    assert decode_pcm(b"", encoding="linear16").shape == (0,)


def test_raw_opus_in_a_byte_stream_is_refused_with_pointer_to_packets() -> None:
    clip = Clip(np.zeros(160, np.float32), samplerate=8000)
    with pytest.raises(CodecError, match=r"no framing.*encode_opus_packets"):
        encode(clip, encoding="opus")
    with pytest.raises(CodecError, match=r"decode_opus_packets"):
        decode(b"\x00", encoding="opus", samplerate=8000)


# -- Ogg Opus -------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", codecs.OPUS_SAMPLERATES)
def test_ogg_opus_round_trip_keeps_rate_length_and_timing(rate: int) -> None:
    x = speech_like(rate)
    data = encode(Clip(x, samplerate=rate), encoding="ogg_opus")
    assert data[:4] == b"OggS" and data[28:36] == b"OpusHead"
    # libsndfile decodes at the original rate stored in OpusHead, whatever samplerate says.
    clip = decode(data, encoding="ogg_opus", samplerate=48000)
    assert clip.samplerate == rate
    assert clip.frames == x.size  # pre-skip and end padding trimmed exactly
    p = clip.provenance
    assert (p.source, p.container, p.subtype, p.channels) == ("raw", "OGG", "ogg_opus", 1)
    lag, ref, out = align(x, clip.samples)
    assert abs(lag) <= 1  # no codec delay left (the correlation peak may sit one sample off)
    snr = snr_db(ref, out)
    assert snr > 15.0, snr  # measured 20.1-26.2 dB at the default bitrate
    assert np.corrcoef(ref, out)[0, 1] > 0.99


def test_ogg_opus_stereo_and_bitrate() -> None:
    x = speech_like(48000, channels=2)
    clip = Clip(x, samplerate=48000)
    low = encode(clip, encoding="ogg_opus", bitrate=24000)
    high = encode(clip, encoding="ogg_opus", bitrate=128000)
    assert len(high) > 2 * len(low)
    assert 100_000 < len(high) * 8 / 2.0 < 160_000  # bits per second over the 2 s clip
    back = decode(high, encoding="ogg_opus", samplerate=48000)
    assert back.channels == 2 and back.frames == x.shape[0]
    for c in range(2):
        lag, ref, out = align(x[:, c], back.samples[:, c])
        assert abs(lag) <= 1 and snr_db(ref, out) > 20.0  # measured 26.6 and 27.1 dB


def test_ogg_opus_rejects_unsupported_rates_channels_and_bitrates() -> None:
    with pytest.raises(CodecError, match=r"got 44100; resample first: clip\.resample\(48000\)"):
        encode(Clip(np.zeros(441, np.float32), samplerate=44100), encoding="ogg_opus")
    with pytest.raises(CodecError, match=r"got 22050; resample first: clip\.resample\(24000\)"):
        encode(Clip(np.zeros(441, np.float32), samplerate=22050), encoding="ogg_opus")
    with pytest.raises(CodecError, match=r"1 or 2 channels.*got 3"):
        encode(Clip(np.zeros((480, 3), np.float32), samplerate=48000), encoding="ogg_opus")
    with pytest.raises(CodecError, match=r"bitrate must be .* from 6000 to 256000"):
        encode(Clip(np.zeros(480, np.float32), samplerate=48000), encoding="ogg_opus", bitrate=1000)


def test_ogg_opus_decode_errors_name_the_problem() -> None:
    wav = io.BytesIO()
    sf.write(wav, np.zeros(100, np.float32), 16000, format="WAV")
    with pytest.raises(CodecError, match=r"b'OggS'.*looks like WAV"):
        decode(wav.getvalue(), encoding="ogg_opus", samplerate=16000)
    data = encode(Clip(speech_like(16000), samplerate=16000), encoding="ogg_opus")
    with pytest.raises(CodecError, match=r"could not decode .* as Ogg Opus.*page boundaries"):
        decode(data[: len(data) // 2], encoding="ogg_opus", samplerate=16000)


# -- Ogg pages -------------------------------------------------------------------------------------
def test_ogg_pages_cover_the_stream_and_granules_give_exact_times() -> None:
    x = speech_like(16000, seconds=3.0)
    data = encode(Clip(x, samplerate=16000), encoding="ogg_opus")
    pages = ogg_pages(data)
    assert pages[0].offset == 0
    assert [p.sequence for p in pages] == list(range(len(pages)))
    assert len({p.serial for p in pages}) == 1
    assert sum(p.length for p in pages) == len(data)
    assert all(a.offset + a.length == b.offset for a, b in zip(pages, pages[1:], strict=False))
    assert all(data[p.offset : p.offset + 4] == b"OggS" for p in pages)
    assert pages[0].granule == 0 and pages[1].granule == 0  # OpusHead and OpusTags pages
    preskip = opus_preskip(data)
    assert preskip == 312  # 6.5 ms at 48 kHz, libopus' lookahead
    assert (pages[-1].granule - preskip) / 48000 == pytest.approx(3.0, abs=1e-12)
    granules = [p.granule for p in pages[2:]]
    assert granules == sorted(granules)


def test_stream_cut_at_a_page_boundary_decodes_to_the_page_granule() -> None:
    x = speech_like(24000, seconds=3.0)
    data = encode(Clip(x, samplerate=24000), encoding="ogg_opus")
    pages = ogg_pages(data)
    assert len(pages) >= 4
    cut = pages[3]
    head = decode(data[: cut.offset + cut.length], encoding="ogg_opus", samplerate=24000)
    expected_seconds = (cut.granule - opus_preskip(data)) / 48000
    assert head.duration == pytest.approx(expected_seconds, abs=1 / 24000)
    np.testing.assert_allclose(
        head.samples, decode(data, encoding="ogg_opus").samples[: head.frames], atol=1e-6
    )


def test_ogg_pages_errors() -> None:
    data = encode(Clip(speech_like(16000, seconds=1.0), samplerate=16000), encoding="ogg_opus")
    pages = ogg_pages(data)
    with pytest.raises(CodecError, match=rf"Ogg page at offset {pages[2].offset} needs \d+ bytes"):
        ogg_pages(data[: pages[2].offset + 100])
    with pytest.raises(CodecError, match=r"too short for a 27-byte page header"):
        ogg_pages(data[: pages[1].offset + 10])
    with pytest.raises(CodecError, match=r"no Ogg page at offset 0.*not Ogg"):
        ogg_pages(b"RIFF" + data[4:])
    broken = bytearray(data)
    broken[pages[1].offset : pages[1].offset + 4] = b"XXXX"
    with pytest.raises(CodecError, match=rf"no Ogg page at offset {pages[1].offset}"):
        ogg_pages(bytes(broken))
    with pytest.raises(CodecError, match=r"OpusHead"):
        opus_preskip(data[pages[1].offset :])
    with pytest.raises(CodecError, match=r"starting with b'OggS'"):
        opus_preskip(b"{}")
    assert ogg_pages(b"") == []


# -- raw Opus packets -----------------------------------------------------------------------------
@pytest.mark.parametrize("frame_seconds", codecs.OPUS_FRAME_SECONDS)
def test_opus_packets_one_per_frame_with_zero_padded_tail(frame_seconds: float) -> None:
    rate = 16000
    x = speech_like(rate, seconds=1.01)
    packets = encode_opus_packets(Clip(x, samplerate=rate), frame_seconds=frame_seconds, application="audio")
    frame = round(frame_seconds * rate)
    assert len(packets) == -(-x.size // frame)
    assert all(isinstance(p, bytes) and 0 < len(p) <= 1275 for p in packets)
    out = decode_opus_packets(packets, samplerate=rate)
    assert out.frames == len(packets) * frame
    lag, ref, dec = align(x, out.samples)
    assert lag == pytest.approx(0.0065 * rate, abs=2)  # libopus lookahead, 6.5 ms
    assert snr_db(ref, dec) > 12.0  # measured 15.3-19.5 dB over the six frame durations


@pytest.mark.parametrize("rate", codecs.OPUS_SAMPLERATES)
def test_opus_audio_application_quality(rate: int) -> None:
    x = speech_like(rate)
    packets = encode_opus_packets(Clip(x, samplerate=rate), application="audio", bitrate=64000)
    out = decode_opus_packets(packets, samplerate=rate)
    p = out.provenance
    assert (p.container, p.subtype, out.samplerate) == ("RAW", "opus", rate)
    lag, ref, dec = align(x, out.samples)
    assert abs(lag - 0.0065 * rate) <= 2
    assert snr_db(ref, dec) > 20.0  # measured 26.6-35.4 dB at 64 kbit/s
    assert np.corrcoef(ref, dec)[0, 1] > 0.995


def test_opus_voip_and_low_delay_applications() -> None:
    rate = 16000
    x = speech_like(rate)
    voip = decode_opus_packets(encode_opus_packets(Clip(x, samplerate=rate)), samplerate=rate)
    lag, ref, dec = align(x, voip.samples)
    # voip high-passes and shapes the waveform (SILK), so waveform SNR is low but the match is clear.
    assert abs(lag - 0.0065 * rate) <= 4
    assert np.corrcoef(ref, dec)[0, 1] > 0.75  # measured 0.83-0.84 at every rate (waveform SNR ~5 dB)
    level_db = 20 * np.log10(np.std(dec) / np.std(ref))
    assert abs(level_db) < 1.5, level_db  # but the level is kept
    low = encode_opus_packets(Clip(x, samplerate=rate), application="restricted_lowdelay", bitrate=48000)
    lag, ref, dec = align(x, decode_opus_packets(low, samplerate=rate).samples)
    assert lag == round(0.0025 * rate)  # 2.5 ms lookahead
    assert snr_db(ref, dec) > 18.0  # measured 27.4 dB


def test_opus_stereo_bitrate_and_packet_loss() -> None:
    rate = 48000
    x = speech_like(rate, channels=2)
    clip = Clip(x, samplerate=rate)
    small = encode_opus_packets(clip, bitrate=16000, application="audio")
    large = encode_opus_packets(clip, bitrate=128000, application="audio")
    assert sum(map(len, large)) > 4 * sum(map(len, small))
    stereo = decode_opus_packets(large, samplerate=rate, channels=2)
    assert stereo.channels == 2 and stereo.frames == len(large) * 960
    lag, ref, dec = align(x[:, 1], stereo.samples[:, 1])
    assert snr_db(ref, dec) > 20.0  # measured 26.8 dB
    mono = decode_opus_packets(large, samplerate=16000)  # any rate, down-mixed
    assert mono.channels == 1 and mono.frames == len(large) * 320
    lost = list(large)
    lost[10] = b""
    concealed = decode_opus_packets(lost, samplerate=rate, channels=2)
    assert concealed.frames == stereo.frames
    np.testing.assert_array_equal(concealed.samples[: 10 * 960], stereo.samples[: 10 * 960])


def test_opus_argument_errors() -> None:
    clip16 = Clip(np.zeros(320, np.float32), samplerate=16000)
    with pytest.raises(CodecError, match=r"got 44100; resample first: clip\.resample\(48000\)"):
        encode_opus_packets(Clip(np.zeros(441, np.float32), samplerate=44100))
    with pytest.raises(CodecError, match=r"got frame_seconds=0\.03; 0\.02 is the usual choice"):
        encode_opus_packets(clip16, frame_seconds=0.03)
    with pytest.raises(CodecError, match=r"application must be one of voip, audio, restricted_lowdelay"):
        encode_opus_packets(clip16, application="music")
    with pytest.raises(CodecError, match=r"bitrate must be .* from 6000 to 510000"):
        encode_opus_packets(clip16, bitrate=600_000)
    with pytest.raises(CodecError, match=r"1 or 2 channels"):
        encode_opus_packets(Clip(np.zeros((320, 3), np.float32), samplerate=16000))
    with pytest.raises(CodecError, match=r"needs 8000, 12000, 16000, 24000 or 48000 Hz, got 44100"):
        decode_opus_packets([], samplerate=44100)
    with pytest.raises(CodecError, match=r"1 or 2 channels, got channels=3"):
        decode_opus_packets([], samplerate=16000, channels=3)
    with pytest.raises(CodecError, match=r"opus packet 1 .* is not valid Opus"):
        decode_opus_packets([encode_opus_packets(clip16)[0], b"\xff\xff\xff"], samplerate=16000)
    with pytest.raises(CodecError, match=r"opus packet 0 is empty"):
        decode_opus_packets([b""], samplerate=16000)
    assert decode_opus_packets([], samplerate=16000).frames == 0


def test_missing_libopus_raises_codec_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> Any:
        if name.startswith("opuslib"):
            raise Exception("Could not find Opus library. Make sure it is installed.")
        return real(name, package)

    monkeypatch.setattr(codecs.importlib, "import_module", fake)
    with pytest.raises(CodecUnavailableError, match=r"apt-get install libopus0"):
        encode_opus_packets(Clip(np.zeros(320, np.float32), samplerate=16000))
    with pytest.raises(CodecUnavailableError, match=r"apt-get install libopus0"):
        decode_opus_packets([b"\x00"], samplerate=16000)


# -- base64 -----------------------------------------------------------------------------------------
def test_b64_round_trip() -> None:
    data = np.random.default_rng(3).integers(0, 256, 1001, dtype=np.uint8).tobytes()
    text = b64encode(data)
    assert isinstance(text, str) and text == base64.b64encode(data).decode()
    assert b64decode(text) == data
    assert b64decode(text.encode()) == data
    assert b64encode(b"") == "" and b64decode("") == b""


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (json.dumps({"audio": "AAAA"}), r"character '\{' at offset 0 .* looks like JSON"),
        ("  [1, 2]", r"character '\[' at offset 2 .* looks like JSON"),
        ("AAAA-_AA", r"character '-' at offset 4 .* URL-safe base64"),
        ("AAAA\nAAAA", r"whitespace '\\n' at offset 4"),
        ("AAA*", r"character '\*' at offset 3 is outside the base64 alphabet"),
        ("AAAAé", r"non-ASCII character 'é' at offset 4"),
        ("data:audio/wav;base64,AAAA", r"data: URL"),
        ("AAA", r"length 3 is not a multiple of 4"),
        ("AA==AAAA", r"'=' at offset 2 is followed by more data"),
    ],
)
def test_b64decode_explains_garbage(text: str, pattern: str) -> None:
    with pytest.raises(CodecError, match=pattern):
        b64decode(text)


def test_b64_type_errors() -> None:
    with pytest.raises(CodecError, match=r"needs bytes, got str"):
        b64encode("abc")  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"needs str or bytes, got int"):
        b64decode(5)  # type: ignore[arg-type]
