"""Every fault, server-wide and per connection (``?vl_fault=``)."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
import websockets
from websockets.exceptions import InvalidStatus

import voicelab.emulator as emulator
from tests.emulator.urls import agent_url, pulse_url, token_url
from voicelab.emulator.faults import Faults, parse_faults

from .conftest import drain, pcm16, run, silence, stream_pulse


def test_parse_faults_round_trip_and_errors():
    f = parse_faults("reject:429;retry_after:2;latency:0.2,jitter:0.05")
    assert f == Faults(reject=429, retry_after=2.0, latency=0.2, jitter=0.05)
    assert parse_faults(f.spec()) == f
    assert parse_faults(["drop_after_chunks:3", "seed=4"]) == Faults(drop_after_chunks=3, seed=4)
    assert Faults(latency=0.1).merged(Faults(latency=0.3, malformed=2)) == Faults(latency=0.3, malformed=2)
    with pytest.raises(emulator.FaultSpecError, match="unknown fault 'explode'"):
        parse_faults("explode:1")
    with pytest.raises(emulator.FaultSpecError, match="reject:418"):
        parse_faults("reject:418")
    with pytest.raises(emulator.FaultSpecError, match="needs a number"):
        parse_faults("latency:soon")
    with pytest.raises(emulator.FaultSpecError, match="no value"):
        parse_faults("latency")


async def _reject(url: str, key: str) -> tuple[int, dict, dict]:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}):
            pass
    r = info.value.response
    return r.status_code, json.loads(r.body), {k.lower(): v for k, v in r.headers.raw_items()}


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500, 503])
def test_reject_fault_per_connection(sphinx_server, status):
    url = pulse_url(sphinx_server) + f"&vl_fault=reject:{status}"
    code, body, headers = run(_reject(url, sphinx_server.api_key))
    assert code == status
    assert body["error"]
    assert headers["content-type"] == "application/json"
    if status in (429, 503):
        assert headers["retry-after"] == "1"
    if status == 429:
        assert body["error"].startswith("Rate limit exceeded")


def test_reject_429_server_wide_with_retry_after():
    with emulator.serve(engine="sphinx", announce=False, faults="reject:429;retry_after:7") as server:
        code, body, headers = run(_reject(pulse_url(server), server.api_key))
        assert (code, headers["retry-after"]) == (429, "7")
        code, _, _ = run(_reject(agent_url(server), server.api_key))
        assert code == 429


def test_bad_fault_query_is_400(sphinx_server):
    code, body, _ = run(_reject(pulse_url(sphinx_server) + "&vl_fault=nope:1", sphinx_server.api_key))
    assert code == 400 and "unknown fault" in body["error"]


def test_drop_after_chunks_gives_1006(sphinx_server):
    pcm, _ = pcm16("speech/s02_weather_16k.flac")
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&vl_fault=drop_after_chunks:5",
            pcm,
            api_key=sphinx_server.api_key,
            speed=8,
            timeout=10,
        )
    )
    assert res.close_code == 1006
    assert not any(m.get("is_last") for m in res.messages)


def test_drop_after_seconds_gives_1006(sphinx_server):
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&vl_fault=drop_after_seconds:0.5",
            silence(3.0),
            api_key=sphinx_server.api_key,
            timeout=10,
        )
    )
    assert res.close_code == 1006


@pytest.mark.parametrize("code", [1008, 1011])
def test_close_after_chunks_with_code(sphinx_server, code):
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + f"&vl_fault=close_after_chunks:3;close_code:{code}",
            silence(2.0),
            api_key=sphinx_server.api_key,
            speed=8,
            timeout=10,
        )
    )
    assert res.close_code == code and res.close_reason == "injected fault"


def test_close_after_seconds_default_1011(sphinx_server):
    t0 = time.monotonic()
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&vl_fault=close_after_seconds:0.6",
            silence(3.0),
            api_key=sphinx_server.api_key,
            timeout=10,
        )
    )
    assert res.close_code == 1011
    assert 0.5 < time.monotonic() - t0 < 3.0


def test_latency_delays_every_message(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")
    base = run(stream_pulse(pulse_url(sphinx_server), pcm, api_key=sphinx_server.api_key, speed=4))
    slow = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&vl_fault=latency:0.6;jitter:0.1", pcm, api_key=sphinx_server.api_key, speed=4
        )
    )
    assert slow.times[0] - base.times[0] > 0.4
    assert slow.times[-1] - base.times[-1] > 0.4
    assert slow.times == sorted(slow.times) and slow.finals[-1]["is_last"]  # order kept


def test_slowdown_falls_behind_real_time(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")  # 4 s
    t0 = time.monotonic()
    res = run(
        stream_pulse(pulse_url(sphinx_server) + "&vl_fault=slowdown:2", pcm, api_key=sphinx_server.api_key, speed=4)
    )
    assert time.monotonic() - t0 > 4.0 * 2 * 0.8  # the engine needed ~2x the audio duration
    assert res.finals[-1]["is_last"]


async def _agent_turn(server, query: str = "") -> tuple[float, str]:
    """Send a spoken clip to the agent route in one burst; seconds from the first chunk to ``transcript.user``."""
    pcm, rate = pcm16("speech/s01_fox_24k.flac")  # 4.0 s, speech to about 3.7 s
    assert rate == 24000
    pcm += bytes(2 * rate)  # 1 s of silence ends the turn
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with websockets.connect(agent_url(server) + query, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {}}))
        while json.loads(await ws.recv())["type"] != "session.ready":
            pass
        t0 = time.monotonic()
        for i in range(0, len(pcm), 2400):  # 50 ms chunks, all at once: the engine sets the pace
            await ws.send(json.dumps({"type": "input.audio", "audio": base64.b64encode(pcm[i : i + 2400]).decode()}))
        async with asyncio.timeout(60):
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == "transcript.user":
                    return time.monotonic() - t0, msg["text"]


def test_slowdown_slows_the_agent_route_too(sphinx_server):
    fast, fast_text = run(_agent_turn(sphinx_server))
    slow, slow_text = run(_agent_turn(sphinx_server, "?vl_fault=slowdown:2"))
    assert fast_text and slow_text
    # The user turn ends after the engine has consumed the speech (about 3.7 s of audio) and its
    # hangover: at half real-time speed that takes more than 7 s; unslowed, about a second.
    assert slow > 2 * 3.5 * 0.9
    assert slow > fast + 3.5


def test_drop_responses(sphinx_server):
    pcm, _ = pcm16("speech/s01_fox_16k.flac")
    res = run(
        stream_pulse(
            pulse_url(sphinx_server) + "&vl_fault=drop_responses:1",
            pcm,
            api_key=sphinx_server.api_key,
            speed=4,
            timeout=15,
        )
    )
    assert res.messages == [] and res.close_code == 1000  # connected, no transcripts at all


def test_drop_responses_is_seeded():
    from voicelab.emulator.faults import FaultState

    a = FaultState(Faults(drop_responses=0.5, seed=3))
    b = FaultState(Faults(drop_responses=0.5, seed=3))
    seq = [a.drop() for _ in range(200)]
    assert seq == [b.drop() for _ in range(200)]
    assert 60 < sum(seq) < 140


def test_malformed_message_once(sphinx_server):
    async def go():
        async with websockets.connect(
            pulse_url(sphinx_server) + "&vl_fault=malformed:1&vad_events=true",
            additional_headers={"Authorization": f"Bearer {sphinx_server.api_key}"},
        ) as ws:
            pcm, _ = pcm16("speech/s01_fox_16k.flac")
            for i in range(0, len(pcm), 4096):
                await ws.send(pcm[i : i + 4096])
            await ws.send(json.dumps({"type": "close_stream"}))
            return await drain(ws)

    raw = run(go())
    bad = [m for m in raw if not isinstance(m, dict)]
    assert len(bad) == 1 and isinstance(bad[0], str)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad[0])
    assert raw.index(bad[0]) == 0 and raw[-1]["is_last"]


def test_token_ttl_expires_agent_tokens_early():
    import urllib.request

    with emulator.serve(engine="sphinx", announce=False, faults="token_ttl:0.3") as server:
        req = urllib.request.Request(
            token_url(server) + "?expires_in_seconds=60", headers={"Authorization": f"Bearer {server.api_key}"}
        )
        token = json.loads(urllib.request.urlopen(req, timeout=10).read())["token"]
        time.sleep(0.5)

        async def go():
            async with websockets.connect(f"{agent_url(server)}?token={token}") as ws:
                return await drain(ws), ws.close_code

        msgs, code = run(go())
        assert msgs[0]["type"] == "session.error" and msgs[0]["code"] == "unauthorized"
        assert code == 1008


def test_faults_do_not_leak_between_connections(sphinx_server):
    async def go():
        a = stream_pulse(
            pulse_url(sphinx_server) + "&vl_fault=drop_after_chunks:2",
            silence(1.0),
            api_key=sphinx_server.api_key,
            timeout=10,
        )
        b = stream_pulse(pulse_url(sphinx_server), silence(1.0), api_key=sphinx_server.api_key, timeout=10)
        return await asyncio.gather(a, b)

    dropped, clean = run(go())
    assert dropped.close_code == 1006 and clean.close_code == 1000
