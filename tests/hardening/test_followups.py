"""Issue 13 cases fixed after the corpus: URL query strings, --record onto the input, the agent's auth scheme,
and an error without a code."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import websockets

import voicelab as vl
from tests.conftest import DATA
from voicelab.client.front import StreamSetupError
from voicelab.providers import DriverOptions, get_provider
from voicelab.providers.assemblyai_agent import accept_upgrade
from voicelab.providers.assemblyai_agent.handshake import AuthFailure, AuthOk

SPEECH = DATA / "speech" / "s02_weather_16k.flac"


def test_a_pulse_url_query_is_honoured_and_typed():
    s = vl.stream(np.zeros(8000, np.float32), samplerate=8000, api_key="k", preflight=False, reconnect=False,
                  url="ws://127.0.0.1:9/waves/v1/stt/live?model=pulse&language=hi&sample_rate=8000&encoding=mulaw",
                  open_timeout=0.5)
    with pytest.raises(vl.VoicelabError):
        s.wait(30)  # nothing listens on port 9; what matters is what it tried to send
    url = s.recording.of("connect")[0]["url"]
    assert "language=hi" in url and "sample_rate=8000" in url and "encoding=mulaw" in url, url


@pytest.mark.parametrize(("url", "params", "match"), [
    ("ws://h/waves/v1/stt/live?language=hi", {"language": "en"}, "url says language='hi' but params say"),
    ("ws://h/waves/v1/stt/live?api_key=sk_in_url", None, "no credential in url"),
    ("ws://h/waves/v1/stt/live?sample_rate=lots", None, "sample_rate"),
])
def test_a_pulse_url_query_that_cannot_be_honoured_is_refused(url, params, match):
    with pytest.raises(StreamSetupError, match=match) as info:
        vl.stream(np.zeros(8000, np.float32), samplerate=16000, api_key="k", url=url, params=params)
    assert "sk_in_url" not in str(info.value)


def test_an_agent_url_query_is_refused_with_the_fix():
    with pytest.raises(StreamSetupError, match="takes no settings in the URL.*params="):
        vl.stream(np.zeros(24000, np.float32), samplerate=24000, provider="assemblyai-agent", api_key="k",
                  url="ws://h/v1/ws?voice=ivy")


def test_record_onto_the_input_is_refused_and_the_input_kept(tmp_path):
    src = tmp_path / "in.flac"
    src.write_bytes(SPEECH.read_bytes())
    before = src.read_bytes()
    with pytest.raises(vl.OutputIsInputError):
        vl.stream(src, api_key="k", url="ws://127.0.0.1:9", record=src)
    assert src.read_bytes() == before


@pytest.mark.parametrize(("header", "ok"), [
    ("Bearer sk_good", True), ("bearer sk_good", True), ("sk_good", True),
    ("Token sk_good", False), ("Key sk_good", False), ("Bearer sk_bad", False),
])
def test_the_agent_takes_bearer_and_refuses_other_schemes(header, ok):
    """The Voice Agent docs authenticate with ``Authorization: Bearer <key>``; ``Token`` is refused like Pulse."""
    result = accept_upgrade(path="/v1/ws", query={}, headers={"Authorization": header}, now=0.0,
                            api_keys=["sk_good"])
    assert isinstance(result, AuthOk if ok else AuthFailure), result


def test_the_agent_emulator_refuses_the_token_scheme():
    async def first_message(url: str, key: str) -> dict:
        async with websockets.connect(url, additional_headers={"Authorization": f"Token {key}"}) as ws:
            return json.loads(await ws.recv())

    with vl.serve(engine="sphinx", announce=False) as server:
        msg = asyncio.run(first_message(server.url_for("assemblyai-agent"), server.api_key))
    assert msg["type"] == "session.error" and msg["code"] == "UNAUTHORIZED" and "Bearer" in msg["message"]


def test_an_error_without_a_code_does_not_print_none():
    with vl.serve(engine="sphinx", announce=False) as server:
        s = vl.stream(b"\x00" * (1_100_000), raw="linear16:16000:1", url=server.url, api_key=server.api_key,
                      chunk_bytes=1_100_000, speed=None, preflight=False, reconnect=False)
        with pytest.raises(vl.VoicelabError) as info:
            s.wait(60)
    assert "None" not in str(info.value), info.value
    driver = get_provider("pulse").make_driver(DriverOptions())
    assert driver.explain_close(1009).code == 1009


def test_overlong_reply_create_instructions_are_invalid_value():
    from voicelab.protocols.errors import ClientEventError
    from voicelab.providers.assemblyai_agent import parse_client_event
    from voicelab.providers.assemblyai_agent.config import MAX_INSTRUCTIONS_CHARS

    ok = parse_client_event(json.dumps({"type": "reply.create", "instructions": "x" * MAX_INSTRUCTIONS_CHARS}))
    assert ok.instructions is not None
    with pytest.raises(ClientEventError) as info:
        parse_client_event(json.dumps({"type": "reply.create", "instructions": "x" * (MAX_INSTRUCTIONS_CHARS + 1)}))
    assert info.value.code == "invalid_value" and "x" * 50 not in str(info.value)


def test_unmodelled_url_parameters_are_sent_on_and_unknown_params_are_named():
    """A URL's parameters voicelab does not model (an emulator's vl_fault) go out as they came; params= names typos."""
    with vl.serve(engine="sphinx", announce=False) as server:
        s = vl.stream(np.zeros(16000, np.float32), samplerate=16000, api_key=server.api_key, reconnect=False,
                      url=server.url_for("pulse") + "&vl_fault=reject:500", preflight=False)
        with pytest.raises(vl.VoicelabError, match="500"):
            s.wait(30)
    with pytest.raises(vl.ParameterError, match="langauge.*extra"):
        vl.stream(np.zeros(8000, np.float32), samplerate=16000, api_key="k", url="ws://h", params={"langauge": "hi"})
