"""Pre-flight in `stream`: the first second of the audio is checked before the first byte goes out.

Real servers on 127.0.0.1 port 0 (the sphinx engine: the check happens before any recognition). Every
broken file in data/broken is named with its code, as a `VoicelabWarning` and in the Recording; with
``strict=True`` nothing connects. Every speech file in data/ passes silently on every provider.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import voicelab as vl
from tests.conftest import DATA, entries
from voicelab.audio import codecs
from voicelab.audio.formats import BYTES_PER_SAMPLE
from voicelab.cli import main
from voicelab.client.preflight import PreflightError, check_clip
from voicelab.providers import get_provider, provider_names

BUILT_IN = [p for p in provider_names() if get_provider(p).emulator]
SPEECH = sorted((DATA / "speech").glob("*.flac")) + sorted((DATA / "human").glob("*.flac"))
NOWHERE = "ws://127.0.0.1:9"  # nothing listens: a stream that reached the network would fail to connect


@pytest.fixture(scope="module")
def sphinx():
    with vl.serve(engine="sphinx", announce=False) as server:
        yield server


def _driver_format(provider: str) -> tuple[str, int]:
    from voicelab.providers import DriverOptions

    d = get_provider(provider).make_driver(DriverOptions(base_url=None, endpoint=None, region=None, params={},
                                                         auth=None, use_token=False))
    return d.encoding, d.samplerate


def _voicelab_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, vl.VoicelabWarning)]


def _preflight(session) -> dict:
    (entry,) = session.recording.of("preflight")
    return entry.data


def _codes(session) -> list[str]:
    return [f["code"] for f in _preflight(session)["findings"]]


def _ends(session) -> None:
    """Stop once the stream is connected (stop() before the client loop has started is not seen), then wait."""
    deadline = time.monotonic() + 10
    while not session.recording.of("handshake") and not session.done and time.monotonic() < deadline:
        time.sleep(0.02)
    session.stop()
    session.wait(60)


# -- never cry wolf ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", BUILT_IN)
def test_every_speech_file_passes_silently(sphinx, provider):
    encoding, rate = _driver_format(provider)
    bps = BYTES_PER_SAMPLE[encoding] * rate
    costs = []
    for path in SPEECH:
        clip = vl.load(path)  # its native rate: stream() resamples it
        pcm = codecs.encode_pcm(clip.to_mono().resample(rate).samples, encoding=encoding)
        items = [pcm[a:a + bps // 10] for a in range(0, len(pcm), bps // 10)]  # pre-encoded 100 ms chunks
        for source in (path, iter(items)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                s = vl.stream(source, provider=provider, url=sphinx.url, api_key=sphinx.api_key, strict=True)
                _ends(s)
            assert not _voicelab_warnings(caught), (path.name, _voicelab_warnings(caught))
            assert s.preflight == () and _preflight(s)["findings"] == [], path.name
            costs.append(_preflight(s)["cost_ms"])
            assert s.recording.of("handshake"), "the stream went on to connect"
    assert statistics.median(costs) < 100, costs  # milliseconds before the first send (measured: ~20)


# -- the broken files, as files (Clips) ----------------------------------------------------------------------
BROKEN = [e for e in entries("broken") if e.get("expect") not in (None, "stereo", "low_bandwidth", "too_quiet",
                                                                       "dc_offset")]


def _load_args(e: dict) -> dict:
    return {"raw": e["raw"]} if e.get("raw") else {}


@pytest.mark.parametrize("entry", BROKEN, ids=[e["path"].split("/")[-1] for e in BROKEN])
def test_each_broken_file_is_named_before_the_first_byte(sphinx, entry):
    path = DATA / entry["path"]
    args = _load_args(entry)
    try:
        vl.load(path, **args)
    except vl.AudioFormatError as exc:  # text, JSON or a WAV header where raw PCM was declared: refused at load
        with pytest.raises(vl.AudioFormatError):
            vl.stream(path, provider="pulse", url=NOWHERE, api_key="k", **args)
        assert entry["expect"] in ("wav_header_in_raw", "base64_text", "json_text", "int16_as_float32"), exc
        return
    with pytest.warns(vl.VoicelabWarning, match=entry["expect"]) as caught:
        s = vl.stream(path, provider="pulse", url=sphinx.url, api_key=sphinx.api_key, **args)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert entry["expect"] in _codes(s) and entry["expect"] in [f.code for f in s.preflight]
    finding = next(f for f in _preflight(s)["findings"] if f["code"] == entry["expect"])
    assert finding["fix"] and finding["symptom_text"]
    _ends(s)


@pytest.mark.parametrize("entry", [e for e in BROKEN if e["expect"] in ("float32_as_int16", "rate_mismatch",
                                                                          "silence", "truncated")],
                         ids=lambda e: e["path"].split("/")[-1])
def test_strict_refuses_to_connect_and_names_the_fix(entry):
    with pytest.raises(PreflightError, match=entry["expect"]) as info:
        vl.stream(DATA / entry["path"], provider="assemblyai-agent", url=NOWHERE, api_key="k", strict=True,
                  **_load_args(entry))
    assert isinstance(info.value, vl.StreamSetupError)
    assert "Fix:" in str(info.value) and info.value.findings[0].fix in str(info.value)
    assert entry["expect"] in [f.code for f in info.value.findings]


def test_a_preflight_warning_is_a_user_warning_and_a_voicelab_error():
    assert issubclass(vl.VoicelabWarning, UserWarning) and issubclass(vl.VoicelabWarning, vl.VoicelabError)
    assert vl.PreflightError is PreflightError


# -- iterators of pre-encoded chunks ---------------------------------------------------------------------------
def _items(data: bytes, size: int = 3200) -> list[bytes]:
    return [data[a:a + size] for a in range(0, len(data), size)]


def _raw(name: str) -> bytes:
    return (DATA / "broken" / name).read_bytes()


ITERATOR_CASES = {
    "float32_as_int16": lambda: _items(_raw("weather_float32_as_int16.raw")),
    "wav_header_in_raw": lambda: _items(_raw("weather_wav_header_in_raw.raw")),
    "byte_swapped": lambda: _items(_raw("weather_byteswapped.raw")),
    "stereo_as_mono": lambda: _items(_raw("weather_stereo_as_mono.raw")),
    "base64_text": lambda: _items(_raw("weather_base64.txt")),
    "json_text": lambda: [json.dumps({"type": "input.audio", "audio": base64.b64encode(b).decode()}).encode()
                          for b in _items(_raw("weather_byteswapped.raw"))],
    "silence": lambda: _items(bytes(32000 * 3)),
    "text_str": lambda: [base64.b64encode(b).decode() for b in _items(_raw("weather_byteswapped.raw"))],
}


@pytest.mark.parametrize("code", sorted(ITERATOR_CASES))
def test_iterator_sources_are_checked_on_their_first_second_before_connecting(code):
    items = ITERATOR_CASES[code]()
    s = vl.stream(iter(items), provider="pulse", url=NOWHERE, api_key="k", strict=True, speed=None)
    with pytest.raises(PreflightError) as info:
        s.wait(30)
    codes = [f.code for f in info.value.findings]
    expected = "base64_text" if code == "text_str" else code
    assert expected in codes, codes
    assert not s.recording.of("connect"), "strict=True must not connect"
    assert [f["code"] for f in _preflight(s)["findings"]] == codes


def test_an_iterator_is_read_ahead_without_losing_a_byte(sphinx):
    pcm = codecs.encode_pcm(vl.load(DATA / "speech" / "s02_weather_16k.flac").samples, encoding="linear16")
    items = _items(pcm)

    async def agen():  # an async source, as from a microphone
        for b in items:
            yield b

    s = vl.stream(agen(), provider="pulse", url=sphinx.url, api_key=sphinx.api_key, speed=None, strict=True)
    s.wait(60)
    assert s.preflight == () and _preflight(s)["checked_seconds"] == pytest.approx(1.0, abs=0.1)
    sent = s.recording.of("chunk")
    assert sum(e["bytes"] for e in sent) == len(pcm) and len(sent) == len(items)  # every item, once, in order
    assert sent[-1]["audio_end"] == pytest.approx(len(pcm) / 32000)
    assert "weather" in s.transcript.lower()


def test_an_iterator_finding_is_a_warning_without_strict():
    with pytest.warns(vl.VoicelabWarning, match="byte_swapped"):
        s = vl.stream(iter(_items(_raw("weather_byteswapped.raw"))), provider="pulse", url=NOWHERE, api_key="k",
                      reconnect=False, retry=vl.client.RetryPolicy(max_attempts=1))
        with pytest.raises(vl.ConnectError):  # it went on to connect (and nothing listens there)
            s.wait(30)
    assert [f.code for f in s.preflight] == ["byte_swapped"] and s.recording.of("connect")


def test_preflight_can_be_turned_off():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = vl.stream(np.zeros(16000, np.float32), samplerate=16000, url=NOWHERE, api_key="k", preflight=False,
                      strict=True, reconnect=False, retry=vl.client.RetryPolicy(max_attempts=1))
        with pytest.raises(vl.ConnectError):
            s.wait(30)
    assert not _voicelab_warnings(caught) and not s.recording.of("preflight")


# -- what it costs ------------------------------------------------------------------------------------------
def test_the_check_costs_little():
    """Time added before the first send (Clips: inside stream(); the source is already in memory)."""
    target = get_provider("assemblyai-agent").target
    check_clip(vl.load(SPEECH[0]), target=target, encoding="linear16", samplerate=24000)  # imports warm up
    one, full = [], []
    for path in SPEECH:
        clip = vl.load(path)
        for seconds, out in ((1.0, one), (None, full)):
            t0 = time.perf_counter()
            if seconds is None:
                check_clip(clip, target=target, encoding="linear16", samplerate=24000)
            else:
                check_clip(clip.slice(end=seconds), target=target, encoding="linear16", samplerate=24000)
            out.append(time.perf_counter() - t0)
    print(f"\npre-flight cost: 1 s check median {statistics.median(one) * 1000:.1f} ms (max {max(one) * 1000:.1f}); "
          f"with the rate-label window median {statistics.median(full) * 1000:.1f} ms (max {max(full) * 1000:.1f})")
    assert statistics.median(one) < 0.05 and statistics.median(full) < 0.15


def test_cli_strict_refuses(capsys, monkeypatch):
    monkeypatch.setenv(get_provider("pulse").key_env, "k")
    path = Path(DATA / "broken" / "weather_float32_as_int16.raw")
    assert main(["stream", str(path), "--raw", "linear16:16000:1", "--strict", "--url", NOWHERE]) == 2
    err = capsys.readouterr().err
    assert "float32_as_int16" in err and "Fix:" in err
