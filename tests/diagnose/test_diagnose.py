"""`diagnose`: each finding code reproduced from its cause against the real emulator (sphinx, 127.0.0.1).

Every test streams something with the cause in it — mislabelled bytes, a wrong rate, unpaced audio, an
injected drop or close, an expired token, an echo loop — and asserts the code `diagnose` gives on the
Recording the stream wrote. Two causes cannot come from voicelab's own client, which always ends a
session cleanly: a user's client that closes without the end message is played by a few lines of
websockets below (`own_client`), logging into a `Recording` as an application would. One cannot come
through either provider at all: no emulated provider takes float32 audio, so ``int16_as_float32`` is
checked on a Recording whose chunks are declared float32 (the way a third provider's stream would log
them).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import websockets

import voicelab as vl
from tests.conftest import DATA
from voicelab.audio import codecs
from voicelab.client import RetryPolicy
from voicelab.diagnosis import DIAGNOSE_CODES, Diagnosis, diagnose
from voicelab.recording.log import Recording

FAST = RetryPolicy(base=0.05, max_attempts=3)


@pytest.fixture(scope="module")
def server():
    with vl.serve(engine="sphinx", announce=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def fox() -> vl.Clip:
    return vl.load(DATA / "speech" / "s01_fox_16k.flac")


@pytest.fixture(scope="module")
def fox24() -> vl.Clip:
    return vl.load(DATA / "speech" / "s01_fox_24k.flac")


def pcm16(clip: vl.Clip) -> np.ndarray:
    return (np.clip(clip.samples, -1, 1) * 32767).astype("<i2")


def pieces(data: bytes, n: int = 4096):
    return iter([data[i:i + n] for i in range(0, len(data), n)])


def run(server, source, *, provider: str = "pulse", **kw) -> tuple[vl.Stream, Diagnosis]:
    s = vl.stream(source, provider=provider, url=server.url, api_key=server.api_key, retry=kw.pop("retry", FAST), **kw)
    try:
        s.wait(120)
    except vl.VoicelabError:
        pass  # the diagnosis is what is under test
    return s, diagnose(s)


def by_code(d: Diagnosis) -> dict[str, vl.audio.findings.Finding]:
    return {f.code: f for f in d}


# -- the Recording keeps the audio sent ------------------------------------------------------------------------
def test_the_recording_keeps_the_bytes_sent_and_load_reads_them_back(server, fox, tmp_path):
    path = tmp_path / "r.jsonl"
    s, _ = run(server, fox, speed=None, record=path)
    expected = codecs.encode(fox, encoding="linear16")
    for rec in (s.recording, Recording.load(path)):
        sent = rec.sent_audio()
        assert sent is not None and sent.complete
        assert (sent.encoding, sent.samplerate, sent.channels) == ("linear16", 16000, 1)
        assert sent.data == expected
        assert sent.start == 0.0 and sent.end == pytest.approx(fox.duration, abs=1e-3)


def test_keep_audio_seconds_bounds_it_and_zero_turns_it_off(server, fox, tmp_path):
    s, _ = run(server, fox, speed=None, keep_audio_seconds=1.0)
    sent = s.recording.sent_audio()
    assert sent is not None and not sent.complete
    assert 1.0 <= sent.duration <= 1.0 + 0.13  # whole chunks of 4096 B (0.128 s) starting before 1 s
    path = tmp_path / "off.jsonl"
    s, d = run(server, fox, speed=None, keep_audio_seconds=0, record=path)
    assert s.recording.sent_audio() is None and Recording.load(path).sent_audio() is None
    assert '"data"' not in path.read_text()
    assert d.audio is None and "none kept" in str(d)


# -- audio as sent -------------------------------------------------------------------------------------------
def test_float32_streamed_as_linear16(server, fox):
    f32 = fox.samples.astype("<f4").tobytes()
    _, d = run(server, pieces(f32), speed=None)
    f = by_code(d)["float32_as_int16"]
    assert f.severity == "error" and "32-bit float" in f.message and "float32" in f.fix
    assert not d.ok


def test_silent_audio_explains_no_transcripts(server):
    _, d = run(server, pieces(bytes(64000)), speed=None)
    codes = by_code(d)
    assert codes["silent_audio"].severity == "error"
    nt = codes["no_transcripts"]
    assert nt.severity == "error" and nt.evidence["explained_by"][0] == "silent_audio"
    assert "silent_audio" in nt.message


def test_48k_declared_as_16k_is_a_rate_mismatch(server):
    human = vl.load(DATA / "human" / "two_cities_48k.flac").slice(end=6.0)
    _, d = run(server, human.samples, samplerate=16000, speed=None)  # 48 kHz samples labelled 16 kHz
    f = by_code(d)["rate_mismatch"]
    assert f.severity == "error" and "48000" in f.message


def _wav_bytes(clip: vl.Clip) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, clip.samples, clip.samplerate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.mark.parametrize(("case", "code"), [
    ("byte_swapped", "byte_swapped"),
    ("stereo", "stereo_as_mono"),
    ("base64", "text_frames"),
    ("wav", "wav_header_in_raw"),
])
def test_mislabelled_bytes_as_sent(server, fox, case, code):
    pcm = pcm16(fox)
    data = {"byte_swapped": pcm.astype(">i2").tobytes(), "stereo": np.repeat(pcm, 2).tobytes(),
            "base64": base64.b64encode(pcm.tobytes()), "wav": _wav_bytes(fox)}[case]
    _, d = run(server, pieces(data), speed=None)
    f = by_code(d)[code]
    assert f.severity == "error" and f.evidence["t"] >= 0
    assert f.message.startswith("the audio sent")


def test_too_quiet_and_clipped_audio(server, fox):
    quiet = vl.Clip((fox.samples * 10 ** (-40 / 20) / np.abs(fox.samples).max()).astype(np.float32), samplerate=16000)
    _, d = run(server, quiet, speed=None)
    assert by_code(d)["too_quiet"].severity == "warning"
    loud = vl.Clip(np.clip(fox.samples * 20, -1, 1).astype(np.float32), samplerate=16000)
    _, d = run(server, loud, speed=None)
    assert by_code(d)["clipping"].severity == "error"


def test_int16_declared_float32():
    """No emulated provider takes float32; a Recording whose chunks declare it (a third provider's) is checked."""
    pcm = pcm16(vl.load(DATA / "speech" / "s01_fox_16k.flac")).tobytes()
    rec = Recording(provider="pulse")
    for k, i in enumerate(range(0, len(pcm), 4096)):
        part = pcm[i:i + 4096]
        rec.chunk(seq=k, audio_start=i / 64000, audio_end=(i + len(part)) / 64000, nbytes=len(part), data=part,
                  encoding="float32", samplerate=16000)
    assert by_code(diagnose(rec))["int16_as_float32"].severity == "error"


def test_wav_header_to_the_agent_is_invalid_audio_with_the_cause(server, fox24):
    _, d = run(server, pieces(_wav_bytes(fox24), 2400), provider="assemblyai-agent", speed=None)
    f = by_code(d)["invalid_audio"]
    assert "wav_header_in_raw" in f.evidence["audio_findings"]
    assert by_code(d)["wav_header_in_raw"].severity == "error"


# -- outcome -------------------------------------------------------------------------------------------------
async def _own_client(server, provider: str, pcm: bytes, rec: Recording, *, rate: int, end: bool,
                      binary_first: bool = False) -> None:
    """An application's own client: streams ``pcm`` at 4x real time and closes, with or without the end message."""
    url = server.url_for(provider)
    rec.log("connect", attempt=1, url=url)
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {server.api_key}"}) as ws:
        rec.log("handshake", ok=True, status=101, audio_offset=0.0)

        async def receive() -> None:
            async for msg in ws:
                rec.message_in(msg)

        receiver = asyncio.create_task(receive())
        agent = provider == "assemblyai-agent"
        if agent:
            update = json.dumps({"type": "session.update", "session": {}})
            rec.message_out(update)
            await ws.send(update)
            await asyncio.sleep(0.5)  # session.ready
            if binary_first:
                await ws.send(b"\x00\x01" * 100)
        step = int(rate * 0.05) * 2
        for k, i in enumerate(range(0, len(pcm), step)):
            part = pcm[i:i + step]
            await ws.send(json.dumps({"type": "input.audio", "audio": base64.b64encode(part).decode()}) if agent
                          else part)
            rec.chunk(seq=k, audio_start=i / (2 * rate), audio_end=(i + len(part)) / (2 * rate), nbytes=len(part),
                      data=part, encoding="linear16", samplerate=rate)
            await asyncio.sleep(0.0125)
        if end:
            msg = json.dumps({"type": "session.end"} if agent else {"type": "close_stream"})
            rec.message_out(msg)
            await ws.send(msg)
        await asyncio.sleep(1.0)
        await ws.close()
        receiver.cancel()
    rec.log("close", code=1000, reason="", by="client")


def test_closed_without_close_stream_mid_speech(server, fox):
    rec = Recording(provider="pulse", endpoint=server.url)
    cut = pcm16(fox.slice(end=1.9)).tobytes()  # stops mid-sentence: no endpointing silence, no final
    asyncio.run(_own_client(server, "pulse", cut, rec, rate=16000, end=False))
    codes = by_code(diagnose(rec))
    assert codes["no_end_signal"].severity == "warning" and "close_stream" in codes["no_end_signal"].message
    assert codes["only_partials"].severity == "error"


def test_the_same_client_with_close_stream_is_clean(server, fox):
    rec = Recording(provider="pulse", endpoint=server.url)
    asyncio.run(_own_client(server, "pulse", pcm16(fox).tobytes(), rec, rate=16000, end=True))
    d = diagnose(rec)
    assert "no_end_signal" not in d.codes and "only_partials" not in d.codes, str(d)


def test_agent_closed_without_session_end(server, fox24):
    rec = Recording(provider="assemblyai-agent", endpoint=server.url)
    asyncio.run(_own_client(server, "assemblyai-agent", pcm16(fox24.slice(end=2.0)).tobytes(), rec, rate=24000,
                            end=False, binary_first=True))
    codes = by_code(diagnose(rec))
    f = codes["session_end_missing"]
    assert f.severity == "warning" and "30 s" in f.message and "session.end" in f.fix
    assert "no_end_signal" not in codes
    assert codes["invalid_format"].severity == "error"  # the binary frame


def test_one_chunk_per_file_leaves_no_partials(server):
    _, d = run(server, vl.load(DATA / "speech" / "s03_meeting_16k.flac"), speed=None, chunk_seconds=13.0)
    f = by_code(d)["partials_absent"]
    assert f.severity == "warning" and "12.8 s of audio" in f.message


# -- pacing and latency --------------------------------------------------------------------------------------
def test_pacing_codes(server, fox):
    _, d = run(server, fox, speed=None)
    assert by_code(d)["faster_than_real_time"].severity == "warning"
    _, d = run(server, fox.slice(end=2.0), speed=0.5)
    f = by_code(d)["slower_than_real_time"]
    assert f.evidence["ratio"] == pytest.approx(0.5, abs=0.08)
    _, d = run(server, fox, speed=4.0, chunk_bytes=16384)
    assert by_code(d)["chunk_too_large"].evidence["median_bytes"] == 16384
    _, d = run(server, fox.slice(end=2.5), chunk_seconds=0.25)
    codes = by_code(d)
    assert codes["chunk_interval_long"].evidence["median_interval"] == pytest.approx(0.25, abs=0.03)
    assert "chunk_too_large" not in codes and "faster_than_real_time" not in codes


def test_high_latency_is_attributed_to_the_server(fox):
    with vl.serve(engine="sphinx", faults="latency:2", announce=False) as slow:
        _, d = run(slow, fox.slice(end=3.0))
    f = by_code(d)["high_latency"]
    assert f.evidence["mostly"] == "server" and f.evidence["attribution"]["server"] > 1.0


# -- connection ----------------------------------------------------------------------------------------------
def test_drops(fox):
    with vl.serve(engine="sphinx", faults="drop_after_seconds:2.5", announce=False) as srv:
        _, lost = run(srv, fox, reconnect=False)
        _, recovered = run(srv, fox)
    assert by_code(lost)["dropped"].severity == "error"
    f = by_code(recovered)["dropped"]
    assert f.severity == "warning" and f.evidence["recovered"]
    r = by_code(recovered)["reconnected"]
    assert r.severity == "info" and r.evidence["resent_chunks"] >= 0 and "without a hole" in r.message


def test_server_close_code_is_explained(fox):
    with vl.serve(engine="sphinx", faults="close_after_chunks:8;close_code:1011", announce=False) as srv:
        _, d = run(srv, fox, speed=4.0, reconnect=False)
    f = by_code(d)["server_closed"]
    assert f.evidence["close_code"] == 1011 and "1011" in f.message and len(f.message) > 60
    assert d.close_codes == (1011,)


def test_resume_failure_falls_back(fox24):
    clip = vl.Clip(np.tile(fox24.samples, 2), samplerate=24000)
    with vl.serve(engine="sphinx", faults="drop_after_seconds:3", announce=False, resume_grace_seconds=0.0) as srv:
        _, d = run(srv, clip, provider="assemblyai-agent", speed=1.5)
    f = by_code(d)["resume_failed"]
    assert f.evidence["provider_code"] == "session_not_found" and f.evidence["fell_back"]
    assert len(d.session_ids) >= 2


def test_expired_token(fox24):
    with vl.serve(engine="sphinx", faults="token_ttl:0", announce=False) as srv:
        _, d = run(srv, fox24, provider="assemblyai-agent", use_token=True)
    f = by_code(d)["token_expired"]
    assert f.severity == "error" and "fresh token" in f.fix


# -- agent: echo loop ----------------------------------------------------------------------------------------
def test_echo_loop_with_speakers_and_not_with_headphones(server):
    from voicelab.client.echo import EchoLoop

    clip = vl.load(DATA / "speech" / "s02_weather_24k.flac")
    room = vl.stream(clip, provider="assemblyai-agent", url=server.url, api_key=server.api_key,
                     echo=EchoLoop(delay_seconds=0.25, gain=0.6))
    phones = vl.stream(clip, provider="assemblyai-agent", url=server.url, api_key=server.api_key)
    room.wait(120)
    phones.wait(120)
    f = by_code(diagnose(room))["echo_loop"]
    assert f.severity == "error"
    assert f.evidence["score"] >= 0.5 and f.evidence["lag"] == pytest.approx(0.25, abs=0.03)
    assert sum(r["interrupted"] for r in f.evidence["replies"]) >= 2
    assert "echo_loop" not in diagnose(phones).codes


# -- the report and the CLI ----------------------------------------------------------------------------------
def test_report_renders_and_states_the_support_facts(server, fox, tmp_path):
    path = tmp_path / "r.jsonl"
    s, d = run(server, pieces(bytes(64000)), speed=None, record=path)
    assert set(d.codes) <= set(DIAGNOSE_CODES)
    assert d.session_ids and d.close_codes == (1000,) and d.started_at and d.endpoint == server.url
    text = str(d)
    assert "silent_audio" in text and "fix:" in text and d.session_ids[0] in text
    page = d._repr_html_()
    assert "silent_audio" in page and "<svg" in page and "fix:" in page and " s</a>" in page
    data = json.loads(d.to_json())
    assert data["ok"] is False and data["findings"][0]["severity"] == "error"
    assert vl.diagnose(path).codes == d.codes  # a path, and vl.diagnose is the function
    with pytest.raises(vl.DiagnoseError):
        diagnose(42)


def test_cli_exit_codes(server, fox, tmp_path):
    bad, good = tmp_path / "bad.jsonl", tmp_path / "good.jsonl"
    run(server, pieces(bytes(64000)), speed=None, record=bad)
    run(server, fox, speed=None, record=good)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "voicelab", "diagnose", *args], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[2], timeout=60)

    r = cli(str(bad))
    assert r.returncode == 1 and "silent_audio" in r.stdout
    r = cli(str(good), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    r = cli(str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no such recording" in r.stderr
    r = cli()
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_hanging_up_without_session_end_is_named_even_when_no_transcript_came(server):
    """Billing after hang-up does not depend on transcripts: silence sent, no session.end, both named."""
    rec = Recording(provider="assemblyai-agent", endpoint=server.url)
    asyncio.run(_own_client(server, "assemblyai-agent", bytes(2 * 24000 * 2), rec, rate=24000, end=False))
    codes = by_code(diagnose(rec))
    assert "no_transcripts" in codes and codes["session_end_missing"].severity == "warning", codes
