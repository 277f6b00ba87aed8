"""The Pulse emulator driven by plain websockets clients (the sphinx engine: behaviour, not text quality)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import soundfile as sf
import websockets
from websockets.exceptions import InvalidStatus

import voicelab.emulator as emulator
from tests.emulator.urls import pulse_url
from voicelab.audio.clip import Clip
from voicelab.audio.codecs import encode, encode_opus_packets, encode_pcm
from voicelab.providers import pulse

from .conftest import DATA, drain, pcm16, run, silence, stream_pulse

# --------------------------------------------------------------------------- handshake


async def _status(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, additional_headers=headers or {}):
            pass
    resp = info.value.response
    return resp.status_code, json.loads(resp.body or b"{}"), dict(resp.headers.raw_items())


def test_wrong_scheme_token_is_401(sphinx_server):
    status, body, _ = run(_status(pulse_url(sphinx_server), {"Authorization": f"Token {sphinx_server.api_key}"}))
    assert status == 401
    assert body == {"error": "unauthorized"}


def test_missing_key_is_401(sphinx_server):
    status, body, _ = run(_status(pulse_url(sphinx_server)))
    assert status == 401
    assert body == {"message": "Unauthorized: No tokens provided"}


def test_wrong_key_is_401(sphinx_server):
    status, body, _ = run(_status(pulse_url(sphinx_server), {"Authorization": "Bearer sk_wrong"}))
    assert (status, body) == (401, {"error": "unauthorized"})


def test_pulse_pro_is_400(sphinx_server):
    url = f"{sphinx_server.url}/waves/v1/stt/live?model=pulse-pro"
    status, body, _ = run(_status(url, {"Authorization": f"Bearer {sphinx_server.api_key}"}))
    assert status == 400
    assert "Pulse Pro has no streaming transport" in body["error"]
    assert body["request_id"]


def test_missing_model_is_400(sphinx_server):
    url = f"{sphinx_server.url}/waves/v1/stt/live"
    status, body, _ = run(_status(url, {"Authorization": f"Bearer {sphinx_server.api_key}"}))
    assert status == 400
    assert "model" in body["error"]


@pytest.mark.parametrize("rate", ["11025", "16k"])
def test_bad_sample_rate_is_400(sphinx_server, rate):
    status, body, _ = run(
        _status(pulse_url(sphinx_server) + f"&sample_rate={rate}", {"Authorization": f"Bearer {sphinx_server.api_key}"})
    )
    assert status == 400
    assert "sample_rate" in body["error"]
    assert body["details"] == [{"param": "sample_rate"}]


def test_bad_encoding_is_400(sphinx_server):
    status, body, _ = run(
        _status(pulse_url(sphinx_server) + "&encoding=pcm16", {"Authorization": f"Bearer {sphinx_server.api_key}"})
    )
    assert status == 400 and "encoding" in body["error"]


def test_unknown_path_is_404(sphinx_server):
    status, body, _ = run(_status(f"{sphinx_server.url}/waves/v1/nope", {"Authorization": "Bearer x"}))
    assert status == 404 and "Not found" in body["error"]


@pytest.mark.parametrize("param", ["token", "api_key"])
def test_query_credentials_accepted(sphinx_server, param):
    pcm, _ = pcm16("speech/s06_short_16k.flac")
    url = f"{sphinx_server.url}/waves/v1/stt/live?model=pulse&language=en&{param}={sphinx_server.api_key}"
    res = run(stream_pulse(url, pcm[: 16000 * 2], api_key="", headers={}, speed=8))
    assert res.finals and res.finals[-1]["is_last"] is True
    assert res.close_code == 1000


def test_query_credential_wrong_is_401(sphinx_server):
    status, body, _ = run(_status(f"{sphinx_server.url}/waves/v1/stt/live?model=pulse&token=nope"))
    assert (status, body) == (401, {"error": "unauthorized"})


def test_unknown_params_and_fault_param_are_ignored(sphinx_server):
    url = pulse_url(sphinx_server) + "&punctuation=true&vl_fault=latency:0"
    res = run(stream_pulse(url, silence(0.5), api_key=sphinx_server.api_key, speed=8))
    assert res.close_code == 1000


# --------------------------------------------------------------------------- transcripts


def test_partials_then_finals_then_is_last(sphinx_server):
    pcm, _ = pcm16("speech/s03_meeting_16k.flac")
    url = pulse_url(sphinx_server) + "&language=en"
    res = run(stream_pulse(url, pcm, api_key=sphinx_server.api_key, speed=3))
    transcriptions = [m for m in res.messages if m["type"] == "transcription"]
    assert transcriptions[-1]["is_last"] is True and transcriptions[-1]["is_final"] is True
    assert sum(m["is_last"] for m in transcriptions) == 1
    assert len(res.interims) >= 5
    assert len([f for f in res.finals if f["transcript"]]) >= 3  # three sentences, 1.2 s pauses
    # every interim precedes a final covering it; live sends both text fields
    assert all(m["transcript"] == m["transcription"] for m in transcriptions)
    assert res.interims[0]["is_final"] is False and res.messages.index(res.interims[0]) < res.messages.index(
        res.finals[0]
    )
    sids = {m["session_id"] for m in res.messages}
    assert len(sids) == 1
    assert all(f["language"] == "en" and f["languages"] == ["en"] for f in res.finals)
    assert res.close_code == 1000


def test_interims_keep_coming_while_speaking(sphinx_server):
    """At real time, while in speech, no run of more than a few chunks passes without an interim."""
    pcm, _ = pcm16("speech/s05_asr_16k.flac")
    pcm = pcm[: 16000 * 2 * 5]  # the first 5 s: one long sentence
    res = run(stream_pulse(pulse_url(sphinx_server), pcm, api_key=sphinx_server.api_key, speed=1.0))
    times = [t for m, t in zip(res.messages, res.times, strict=True) if m.get("type") == "transcription"]
    gaps = np.diff(times[:-1])
    assert len(times) > 15
    assert gaps.max() < 4 * 0.128 + 0.3  # "at least one interim per few chunks"


def test_legacy_path_defaults_and_alias(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")
    for path in ("/waves/v1/pulse/get_text", "/api/v1/pulse/get_text"):
        res = run(stream_pulse(f"{sphinx_server.url}{path}", pcm, api_key=sphinx_server.api_key, speed=8))
        worded = [f for f in res.finals if f["transcript"]]
        assert worded, path
        assert "words" in worded[0] and worded[0]["words"]  # word_timestamps defaults to true on get_text
        assert "transcription" not in worded[0]  # only live duplicates the field
        assert res.finals[-1]["is_last"]


def test_word_sentence_timestamps_full_transcript(sphinx_server):
    pcm, _ = pcm16("speech/s04_support_16k.flac")
    url = pulse_url(sphinx_server) + "&word_timestamps=true&sentence_timestamps=true&full_transcript=true"
    res = run(stream_pulse(url, pcm, api_key=sphinx_server.api_key, speed=4))
    worded = [f for f in res.finals if f["transcript"]]
    assert len(worded) >= 2
    for f in worded:
        starts = [w["start"] for w in f["words"]]
        assert starts == sorted(starts) and all(w["end"] >= w["start"] for w in f["words"])
        assert f["utterances"] and f["utterances"][0]["start"] <= f["utterances"][-1]["end"]
        assert 0 <= f["words"][0]["start"] <= 12.7
    assert res.finals[-1]["full_transcript"] == " ".join(f["transcript"] for f in worded)


def test_finalize_gives_final_and_stays_open(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")

    async def go():
        async with websockets.connect(
            pulse_url(sphinx_server) + "&itn_normalize=true",
            additional_headers={"Authorization": f"Bearer {sphinx_server.api_key}"},
        ) as ws:
            for i in range(0, 16000 * 2 * 2, 4096):  # 2 s, mid-sentence
                await ws.send(pcm[i : i + 4096])
            await ws.send(json.dumps({"type": "finalize"}))
            msgs = []
            async for raw in ws:
                msgs.append(json.loads(raw))
                if msgs[-1].get("is_final"):
                    break
            await ws.send(json.dumps({"type": "finalize"}))  # nothing buffered: still one (empty) final
            async for raw in ws:
                msgs.append(json.loads(raw))
                if msgs[-1].get("is_final"):
                    break
            await ws.send(json.dumps({"type": "close_stream"}))
            async for raw in ws:
                msgs.append(json.loads(raw))
            return msgs, ws.close_code

    msgs, code = run(go())
    finals = [m for m in msgs if m.get("is_final")]
    assert finals[0]["from_finalize"] is True and finals[0]["is_last"] is False and finals[0]["transcript"]
    assert finals[1]["from_finalize"] is True and finals[1]["transcript"] == ""
    assert finals[-1]["is_last"] is True and finals[-1]["from_finalize"] is False
    assert code == 1000


def test_legacy_end_message(sphinx_server):
    res = run(stream_pulse(pulse_url(sphinx_server), silence(0.5), api_key=sphinx_server.api_key, control="end"))
    assert res.finals[-1]["is_last"] is True and res.close_code == 1000


def test_vad_events_with_timestamps(sphinx_server):
    pcm, _ = pcm16("speech/s06_short_16k.flac")  # Yes. / No. / Maybe later. with 1 s pauses
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&vad_events=true", pcm + silence(1.0), api_key=sphinx_server.api_key, speed=4
        )
    )
    started = [m["timestamp"] for m in res.of("speech_started")]
    ended = [m["timestamp"] for m in res.of("speech_ended")]
    assert len(started) == 3 and len(ended) == 3
    for (s, e), (ref_s, ref_e) in zip(
        zip(started, ended, strict=True), [(0.3, 0.65), (1.65, 2.0), (3.0, 3.78)], strict=True
    ):
        assert abs(s - ref_s) < 0.35 and abs(e - ref_e) < 0.5 and s < e
    # the alias: vad=true
    res2 = run(
        stream_pulse(pulse_url(sphinx_server) + "&vad=true", pcm[: 16000 * 2], api_key=sphinx_server.api_key, speed=8)
    )
    assert res2.of("speech_started")


def test_no_vad_events_by_default(sphinx_server):
    pcm, _ = pcm16("speech/s06_short_16k.flac")
    res = run(stream_pulse(pulse_url(sphinx_server), pcm, api_key=sphinx_server.api_key, speed=8))
    assert not res.of("speech_started") and not res.of("speech_ended")


def test_digital_silence_gives_no_words(sphinx_server):
    res = run(
        stream_pulse(pulse_url(sphinx_server) + "&vad_events=true", silence(3.0), api_key=sphinx_server.api_key,
                     speed=4)
    )
    assert all(m["transcript"] == "" for m in res.messages if m["type"] == "transcription")
    assert not res.of("speech_started")
    assert res.finals[-1]["is_last"] is True


def test_max_words_forces_finals(sphinx_server):
    pcm, _ = pcm16("speech/s05_asr_16k.flac")
    url = pulse_url(sphinx_server) + "&max_words=4&finalize_on_words=false"
    # real time: at 4x the engine decodes in batches and the cut lands later than the 4th word
    res = run(stream_pulse(url, pcm[: 16000 * 2 * 8], api_key=sphinx_server.api_key, speed=1))
    worded = [f for f in res.finals if f["transcript"]]
    # the cut decodes the whole buffer, which can hold a few more words than the partial that triggered it
    # (sphinx partials lag its final search); without max_words this audio gives one final of ~20 words
    assert len(worded) >= 3 and max(len(f["transcript"].split()) for f in worded) <= 8


def _continuous_speech() -> bytes:
    """s05's three sentences joined by 0.1 s gaps: ~38 words that silence-based endpointing never splits."""
    entry = next(
        e
        for e in json.loads((DATA / "manifest.json").read_text())["files"]
        if e["id"] == "s05_asr" and e["samplerate"] == 16000
    )
    audio, rate = sf.read(str(DATA / entry["path"]), dtype="int16")
    parts = [audio[int(x["start"] * rate) : int(x["end"] * rate)] for x in entry["sentences"]]
    gap = np.zeros(int(0.1 * rate), dtype=np.int16)
    return np.concatenate([np.concatenate([p, gap]) for p in parts]).tobytes() + silence(1.0)


def test_finalize_on_words_limits_final_length(sphinx_server):
    pcm = _continuous_speech()
    on = run(stream_pulse(pulse_url(sphinx_server), pcm, api_key=sphinx_server.api_key, speed=4))
    off = run(
        stream_pulse(pulse_url(sphinx_server) + "&finalize_on_words=false", pcm, api_key=sphinx_server.api_key, speed=4)
    )
    words_on = [len(f["transcript"].split()) for f in on.finals if f["transcript"]]
    words_off = [len(f["transcript"].split()) for f in off.finals if f["transcript"]]
    # the word-count cut waits for a pause between words (up to 3 s), so finals run a little past 10 words
    assert max(words_on) <= 20 < max(words_off)
    assert len(words_on) > len(words_off)


def test_format_switches(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&capitalize=false&punctuate=false", pcm, api_key=sphinx_server.api_key, speed=8
        )
    )
    text = res.text
    assert text and text == text.lower() and not any(c in text for c in ".,?!")


# --------------------------------------------------------------------------- encodings and rates


def _clip(rate: int) -> Clip:
    audio, sr = sf.read(str(DATA / "speech/s01_fox_24k.flac"), dtype="float32")
    import soxr

    return Clip(soxr.resample(audio, sr, rate).astype(np.float32), samplerate=rate)


@pytest.mark.parametrize(
    ("encoding", "rate"),
    [
        ("linear16", 8000),
        ("linear16", 22050),
        ("linear16", 24000),
        ("linear16", 44100),
        ("linear16", 48000),
        ("linear32", 16000),
        ("alaw", 8000),
        ("mulaw", 8000),
        ("mulaw", 16000),
        ("opus", 16000),
        ("opus", 48000),
        ("opus", 44100),
        ("ogg_opus", 16000),
        ("ogg_opus", 24000),
    ],
)
def test_every_encoding_is_decoded(sphinx_server, encoding, rate):
    opus_rate = rate if rate in (8000, 12000, 16000, 24000, 48000) else 48000
    clip = _clip(opus_rate if encoding.endswith("opus") else rate)
    if encoding == "opus":
        frames: list[bytes] = encode_opus_packets(clip)  # one packet per frame
    else:
        data = (
            encode(clip, encoding="ogg_opus") if encoding == "ogg_opus" else encode_pcm(clip.samples, encoding=encoding)
        )
        frames = [data[i : i + 4096] for i in range(0, len(data), 4096)]

    async def go():
        async with websockets.connect(
            pulse_url(sphinx_server) + f"&encoding={encoding}&sample_rate={rate}&vad_events=true",
            additional_headers={"Authorization": f"Bearer {sphinx_server.api_key}"},
        ) as ws:
            for f in frames:
                await ws.send(f)
            await ws.send(json.dumps({"type": "close_stream"}))
            return await drain(ws), ws.close_code

    msgs, code = run(go())
    assert code == 1000
    starts = [m["timestamp"] for m in msgs if m["type"] == "speech_started"]
    assert starts and abs(starts[0] - 0.3) < 0.4  # decoded at the right speed: onset where it is
    finals = [m for m in msgs if m.get("is_final")]
    assert any(f["transcript"] for f in finals)
    assert all(m["type"] != "error" for m in msgs)


def test_odd_sized_chunks_are_carried_over(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")
    res = run(stream_pulse(pulse_url(sphinx_server), pcm, api_key=sphinx_server.api_key, chunk=4095, speed=8))
    assert res.text and not res.of("error")


# --------------------------------------------------------------------------- bad input and limits


def test_malformed_text_frame_gets_error_then_next_connection_works(sphinx_server):
    async def go():
        async with websockets.connect(
            pulse_url(sphinx_server), additional_headers={"Authorization": f"Bearer {sphinx_server.api_key}"}
        ) as ws:
            await ws.send("aGVsbG8gd29ybGQ=")  # base64 text instead of binary audio
            msgs = await drain(ws)
            return msgs, ws.close_code

    msgs, code = run(go())
    assert msgs[0]["type"] == "error" and msgs[0]["status"] == "error" and "binary" in msgs[0]["message"]
    assert code == 1003
    res = run(stream_pulse(pulse_url(sphinx_server), silence(0.3), api_key=sphinx_server.api_key))
    assert res.close_code == 1000


def test_unknown_json_type_gets_error(sphinx_server):
    async def go():
        async with websockets.connect(
            pulse_url(sphinx_server), additional_headers={"Authorization": f"Bearer {sphinx_server.api_key}"}
        ) as ws:
            await ws.send(json.dumps({"type": "input.audio", "audio": "AAAA"}))
            return await drain(ws), ws.close_code

    msgs, code = run(go())
    assert msgs[0]["type"] == "error" and "unsupported message type" in msgs[0]["message"]
    assert code == 1003


def test_invalid_ogg_audio_gets_error(sphinx_server):
    async def go():
        async with websockets.connect(
            pulse_url(sphinx_server) + "&encoding=ogg_opus",
            additional_headers={"Authorization": f"Bearer {sphinx_server.api_key}"},
        ) as ws:
            await ws.send(b"RIFF" + bytes(4092))  # a WAV header, not Ogg
            return await drain(ws), ws.close_code

    msgs, code = run(go())
    assert msgs[0]["type"] == "error" and "OggS" in msgs[0]["message"]
    assert code == 1003


def test_limits_frame_size_rate_and_session_length():
    """The emulator's own limits close with their own codes (1009, 4001, 4002), never 1008.

    1008 is documented as "concurrency limit reached" only:
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    with emulator.serve(
        engine="sphinx",
        announce=False,
        limits=emulator.Limits(max_frame_bytes=8192, max_messages_per_second=20, max_session_seconds=1.5),
    ) as server:
        hdrs = {"Authorization": f"Bearer {server.api_key}"}

        async def one(frames: list[bytes], pause: float = 0.0):
            async with websockets.connect(pulse_url(server), additional_headers=hdrs) as ws:
                try:
                    for f in frames:
                        await ws.send(f)
                        if pause:
                            await asyncio.sleep(pause)
                except websockets.ConnectionClosed:
                    pass
                msgs = await drain(ws)
                return msgs, ws.close_code

        msgs, code = run(one([bytes(16384)]))
        assert code == 1009 and msgs[0]["type"] == "error" and "8192-byte limit" in msgs[0]["message"]
        msgs, code = run(one([bytes(320)] * 40))
        errors = [m for m in msgs if m["type"] == "error"]  # interims for the chunks before the flood may come first
        assert code == 4001 and len(errors) == 1 and "messages per second" in errors[0]["message"]
        assert "message rate" in str(pulse.explain_close(code))
        msgs, code = run(one([bytes(3200)] * 40, pause=0.1))
        assert code == 4002 and "maximum session duration" in msgs[-1]["message"]
        assert "session length" in str(pulse.explain_close(code))


def test_idle_timeout_closes_4003():
    """The idle timeout (off by default) closes with 4003 after the error frame, not the documented 1008.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    with emulator.serve(engine="sphinx", announce=False, limits=emulator.Limits(idle_timeout=0.4),
                        recognizer_options={"processes": 0, "warm": 1}) as server:
        async def go():
            async with websockets.connect(pulse_url(server),
                                          additional_headers={"Authorization": f"Bearer {server.api_key}"}) as ws:
                await ws.send(bytes(3200))
                return await drain(ws), ws.close_code

        msgs, code = run(go())
        assert code == 4003 and msgs[-1]["type"] == "error" and "idle" in msgs[-1]["message"]
        assert "idle" in str(pulse.explain_close(code))


def test_concurrency_limit_closes_1008():
    with emulator.serve(engine="sphinx", announce=False, concurrency_limit=1) as server:
        hdrs = {"Authorization": f"Bearer {server.api_key}"}

        async def go():
            async with websockets.connect(pulse_url(server), additional_headers=hdrs) as first:
                await first.send(bytes(4096))
                await asyncio.sleep(0.3)
                async with websockets.connect(pulse_url(server), additional_headers=hdrs) as second:
                    msgs = await drain(second)
                    code2 = second.close_code
                await first.send(json.dumps({"type": "close_stream"}))
                async for _ in first:
                    pass
                return msgs, code2, first.close_code

        msgs, code2, code1 = run(go())
        assert code2 == 1008 and msgs == []
        assert code1 == 1000
        # the slot is free again
        res = run(stream_pulse(pulse_url(server), silence(0.2), api_key=server.api_key))
        assert res.close_code == 1000


def test_two_sessions_do_not_block_each_other(sphinx_server):
    pcm, _ = pcm16("speech/s02_weather_16k.flac")

    async def go():
        return await asyncio.gather(
            *(stream_pulse(pulse_url(sphinx_server), pcm, api_key=sphinx_server.api_key, speed=2) for _ in range(3))
        )

    results = run(go())
    assert all(r.close_code == 1000 and r.text for r in results)
    assert len({r.messages[0]["session_id"] for r in results}) == 3


# --------------------------------------------------------------------------- issue 15: current vendor facts

_DOCS = "https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern"


def test_full_transcript_on_every_transcription_event(sphinx_server):
    """``full_transcript=true``: every transcription event carries the finals so far, interims included.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    pcm, _ = pcm16("speech/s06_short_16k.flac")  # Yes. / No. / Maybe later.
    res = run(stream_pulse(pulse_url(sphinx_server) + "&full_transcript=true", pcm + silence(0.5),
                           api_key=sphinx_server.api_key, speed=4))
    done: list[str] = []
    transcriptions = [m for m in res.messages if m["type"] == "transcription"]
    assert len(res.interims) > 5
    for m in transcriptions:
        if m["is_final"] and m["transcript"]:
            done.append(m["transcript"])
        assert m["full_transcript"] == " ".join(done), m
    assert len(done) >= 2


def test_aggregator_finals_carry_the_detected_language(sphinx_server):
    """``language=north_indic``: finals carry the detected code (the recognizer is English: ``en``).

    https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format
    """
    pcm, _ = pcm16("speech/s01_fox_16k.flac")
    for language in ("north_indic", "multi-south-indic"):
        res = run(stream_pulse(pulse_url(sphinx_server) + f"&language={language}", pcm, api_key=sphinx_server.api_key,
                               speed=8))
        assert res.finals and all(f["language"] == "en" and f["languages"] == ["en"] for f in res.finals)


def test_one_response_for_every_chunk_sent(sphinx_server):
    """Every audio chunk gets a transcription message, in speech and in silence (the hypothesis repeats).

    https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format
    ("For every chunk sent on the WebSocket, the server responds with a JSON message").
    """
    pcm, _ = pcm16("speech/s06_short_16k.flac")
    for audio, speed in ((silence(1.0) + pcm + silence(1.0), 1.0), (pcm, 4.0), (silence(2.0), 4.0)):
        chunks = -(-len(audio) // 4096)
        res = run(stream_pulse(pulse_url(sphinx_server), audio, api_key=sphinx_server.api_key, speed=speed))
        before_last = [m for m in res.messages if m["type"] == "transcription" and not m["is_last"]]
        assert len(before_last) >= chunks, (len(before_last), chunks, speed)
    assert all(m["transcript"] == "" for m in res.interims)  # silence: the empty hypothesis, repeated


def test_language_is_required_on_live_only(sphinx_server):
    """Live without ``language`` gets 400 before the upgrade; the legacy path still takes none.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    (``required: [model, language]``).
    """
    hdr = {"Authorization": f"Bearer {sphinx_server.api_key}"}
    status, body, _ = run(_status(f"{sphinx_server.url}/waves/v1/stt/live?model=pulse", hdr))
    assert status == 400 and body["error"].startswith("Missing required query param: language")
    status, body, _ = run(_status(f"{sphinx_server.url}/waves/v1/stt/live?model=pulse&language=multi-eu", hdr))
    assert status == 400 and body["details"] == [{"param": "language"}]
    res = run(stream_pulse(f"{sphinx_server.url}/waves/v1/pulse/get_text", silence(0.3), api_key=sphinx_server.api_key))
    assert res.close_code == 1000 and res.finals[-1]["language"] == "en"


# --------------------------------------------------------------------------- regions


@pytest.fixture(scope="module")
def region_servers():
    options = {"processes": 0, "warm": 1}
    with emulator.serve(engine="sphinx", announce=False, route_options={"pulse": {"region": "us"}},
                        recognizer_options=options) as us, \
            emulator.serve(engine="sphinx", announce=False, route_options={"pulse": {"region": "india_pinned"}},
                           recognizer_options=options) as india:
        yield {"us": us, "india": india}


async def _first_frames(url: str, key: str) -> tuple[list, int | None, str]:
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        msgs = await drain(ws)
        return msgs, ws.close_code, ws.close_reason


def test_south_indic_on_the_us_host_gets_language_not_enabled(region_servers):
    """South Indic languages on the US host: the ``LANGUAGE_NOT_ENABLED_IN_REGION`` frame, then a close.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-29-pulse-stt-south-indic-languages.mdx
    """
    us = region_servers["us"]
    msgs, code, _ = run(_first_frames(us.url_for("pulse") + "&language=multi-south-indic", us.api_key))
    assert msgs == [{"type": "error", "error_code": "LANGUAGE_NOT_ENABLED_IN_REGION",
                     "message": "Language 'multi-south-indic' has not been enabled in this region. "
                                "Please contact support to request access."}]
    assert code == pulse.CLOSE_REGION and "region" in str(pulse.explain_close(code))
    (event,) = pulse.parse(msgs[0])
    assert event.fix and "india" in event.fix  # type: ignore[union-attr]


def test_east_asian_on_the_india_host_closes_without_a_frame(region_servers):
    """East Asian languages on the India host close the connection without a transcription frame.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-16-pulse-stt-asian-languages-us-region.mdx
    """
    india = region_servers["india"]
    msgs, code, reason = run(_first_frames(india.url_for("pulse") + "&language=ja", india.api_key))
    assert msgs == [] and code == pulse.CLOSE_REGION and "region" in reason


def test_each_host_serves_its_own_languages(region_servers):
    """Japanese on the US host and Tamil on the India host stream normally (finals carry the code).

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    for name, language in (("us", "ja"), ("india", "ta")):
        server = region_servers[name]
        res = run(stream_pulse(server.url_for("pulse") + f"&language={language}", silence(0.3),
                               api_key=server.api_key))
        assert res.close_code == 1000 and res.finals[-1]["language"] == language


def test_bad_route_option_fails_at_start():
    with pytest.raises(emulator.ServerStartError, match="region"):
        emulator.serve(engine="sphinx", announce=False, route_options={"pulse": {"region": "mars"}})
    with pytest.raises(emulator.ServerStartError, match="nope"):
        emulator.serve(engine="sphinx", announce=False, route_options={"nope": {}})


# --------------------------------------------------------------------------- simulated features (scripted text)


class _ScriptedStream:
    """Says ``text`` for whatever audio it gets (a final on flush), so the text transforms can be checked."""

    def __init__(self, samplerate: int, text: str, word_times: bool) -> None:
        self.samplerate, self.text, self.word_times = samplerate, text, word_times
        self.audio_time = 0.0
        self.talking = False

    def accept(self, pcm, *, now):
        from voicelab.emulator.recognizers import RecognizedPartial, SpeechStart

        self.audio_time += len(pcm) / self.samplerate
        if self.talking:
            return []
        self.talking = True
        return [SpeechStart(t=0.0), RecognizedPartial(text=self.text.split()[0], audio_end=self.audio_time)]

    def flush(self, *, now):
        from voicelab.emulator.recognizers import RecognizedFinal, WordTime

        if not self.talking:
            return []
        self.talking = False
        words = tuple(WordTime(word=w, start=0.3 * i, end=0.3 * i + 0.25, confidence=0.9)
                      for i, w in enumerate(self.text.split())) if self.word_times else ()
        return [RecognizedFinal(text=self.text, start=0.0, end=self.audio_time, words=words)]

    def close(self):
        pass


class _ScriptedRecognizer:
    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text

    def open(self, *, samplerate: int, word_times: bool = False, **_: object) -> _ScriptedStream:
        return _ScriptedStream(samplerate, self.text, word_times)


async def _finalize_once(url: str, key: str) -> dict:
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        for _ in range(3):
            await ws.send(bytes(4096))
        await ws.send(json.dumps({"type": "finalize"}))
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("is_final"):
                return msg
    raise AssertionError("no final")


@pytest.fixture(scope="module")
def scripted_server():
    text = "My number is five five five one two three four. Mail me at jo@example.com."
    with emulator.serve(recognizer=_ScriptedRecognizer(text), announce=False) as server:
        yield server


def test_itn_normalize_writes_spoken_digits_as_numerals(scripted_server):
    """``itn_normalize=true``: "five five five one two three four" is written ``5551234`` in finals.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    url = scripted_server.url_for("pulse")
    final = run(_finalize_once(url + "&itn_normalize=true&word_timestamps=true", scripted_server.api_key))
    assert final["transcript"] == "My number is 5551234. Mail me at jo@example.com."
    number = [w for w in final["words"] if w["word"] == "5551234."]
    assert number and number[0]["start"] == 0.9 and number[0]["end"] == 2.95  # the seven spoken words' span
    plain = run(_finalize_once(url, scripted_server.api_key))
    assert "five five five" in plain["transcript"]


def test_redaction_replaces_numbers_and_emails_with_placeholders(scripted_server):
    """``redact_pii=true``: placeholders ``[ENTITYTYPE_N]`` in the transcript, listed in ``redacted_entities``,
    lower case in ``words``; only for ``en``/``hi``.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/speech-to-text/features/redaction.mdx
    """
    url = scripted_server.url_for("pulse")
    final = run(_finalize_once(url + "&redact_pii=true&word_timestamps=true", scripted_server.api_key))
    assert final["transcript"] == "My number is [PHONENUMBER_1]. Mail me at [EMAIL_1]."
    assert final["redacted_entities"] == ["[PHONENUMBER_1]", "[EMAIL_1]"]
    assert "[phonenumber_1]." in [w["word"] for w in final["words"]]
    german = run(_finalize_once(url.replace("language=en", "language=de") + "&redact_pii=true",
                                scripted_server.api_key))
    assert german["redacted_entities"] == [] and "five" in german["transcript"]
