"""Events, registry, redaction, error hierarchy and import purity of `voicelab.protocols`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from voicelab.errors import VoicelabError
from voicelab.protocols import (
    AgentReplyAudio,
    Closed,
    Final,
    SecretHeaders,
    SecretURL,
    Word,
    errors,
    redact,
    redact_url,
)
from voicelab.providers import (
    PULSE,
    ProviderError,
    UnknownProviderError,
    assemblyai_agent,
    get_provider,
    pulse,
)


def test_fresh_import_pulls_in_no_io_modules() -> None:
    # threading is not checked: stdlib logging (required by the style guide) imports it.
    code = (
        "import sys, voicelab.protocols, voicelab.providers\n"
        "bad = [m for m in ('asyncio', 'websockets', 'socket') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_protocol_error_derives_from_voicelab_error() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    assert classes and all(issubclass(c, VoicelabError) for c in classes)


def test_registry_known_and_unknown() -> None:
    assert get_provider("pulse") is PULSE
    assert get_provider("AssemblyAI_Agent").name == "assemblyai-agent"
    assert get_provider("assemblyai").name == "assemblyai-agent"  # an alias
    assert get_provider("smallest") is PULSE
    with pytest.raises(UnknownProviderError) as info:
        get_provider("deepgram")
    assert isinstance(info.value, VoicelabError) and isinstance(info.value, KeyError)
    assert (
        "pulse" in str(info.value) and "assemblyai-agent" in str(info.value) and "deepgram" in str(info.value)
    )


def test_registry_parse_dispatches() -> None:
    events = get_provider("pulse").parse('{"type":"transcription","transcript":"x","is_final":true}')
    assert isinstance(events[0], Final)
    closed = get_provider("assemblyai-agent").closed(code=1008)
    assert isinstance(closed, Closed) and closed.provider == "assemblyai-agent"
    assert get_provider("pulse").parse is pulse.parse and get_provider("assemblyai").parse is assemblyai_agent.parse


def test_registry_refuses_a_taken_name_or_alias() -> None:
    from dataclasses import replace

    from voicelab.providers import register

    with pytest.raises(ProviderError, match="already registered"):
        register(replace(PULSE, aliases=()))
    with pytest.raises(ProviderError, match="alias 'smallest'"):
        register(replace(PULSE, name="pulse-copy", aliases=("smallest",)))


def test_event_to_dict_is_json_ready() -> None:
    final = pulse.parse(
        '{"type":"transcription","transcript":"hi","is_final":true,'
        '"words":[{"word":"hi","start":0.1,"end":0.3,"confidence":0.9}]}'
    )[0]
    data = json.loads(json.dumps(final.to_dict()))
    assert data["kind"] == "final" and data["provider"] == "pulse" and data["text"] == "hi"
    assert data["words"][0] == {
        "word": "hi",
        "start": 0.1,
        "end": 0.3,
        "confidence": 0.9,
        "speaker": None,
        "speaker_confidence": None,
    }
    assert data["raw"]["transcript"] == "hi"


def test_audio_event_to_dict_summarises_bytes() -> None:
    event = AgentReplyAudio(
        provider="assemblyai-agent", pcm=b"\x00" * 4800, sample_rate=24000, raw=b"\x01\x02"
    )
    data = json.loads(json.dumps(event.to_dict()))
    assert data["pcm"] == {"length": 4800} and data["duration"] == pytest.approx(0.1)
    assert data["raw"]["length"] == 2


def test_events_are_frozen_and_keyword_only() -> None:
    word = Word(word="a", start=0.0, end=0.1)
    with pytest.raises(AttributeError):
        word.word = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Word("a", 0.0, 0.1)  # type: ignore[misc]


def test_redact_helpers() -> None:
    assert redact("key sk_123 and sk_123", ["sk_123", None, ""]) == "key *** and ***"
    assert redact_url("wss://h/p?a=1&token=abc&api_key=def") == "wss://h/p?a=1&token=***&api_key=***"
    url = SecretURL("wss://h/p?model=pulse&api_key=sk_1")
    assert url.has_secret and url.query == {"model": "pulse", "api_key": "***"} and url.path == "/p"
    assert "sk_1" not in f"{url} {url!r}" and url.reveal().endswith("sk_1")


def test_secret_headers_mask_credentials() -> None:
    headers = SecretHeaders({"Authorization": "Bearer sk_9", "X-Source": "voicelab"})
    assert headers["Authorization"] == "Bearer ***" and headers["X-Source"] == "voicelab"
    assert "sk_9" not in repr(headers) and "sk_9" not in str(dict(headers))
    assert headers.reveal()["Authorization"] == "Bearer sk_9"


def test_token_issuer_repr_has_no_tokens() -> None:
    issuer = assemblyai_agent.TokenIssuer(token_factory=lambda: "secret_tok")
    issued = issuer.issue(now=0.0, expires_in_seconds=10, owner="me")
    assert "secret_tok" not in repr(issuer) and "secret_tok" not in repr(issued)


def test_parameter_error_names_param_value_allowed() -> None:
    err = errors.ParameterError(param="sample_rate", value=11025, allowed=(8000, 16000))
    assert str(err) == "sample_rate=11025 is not allowed; use 8000, 16000"
    assert isinstance(err, ValueError)
