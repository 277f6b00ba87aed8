"""Property tests: every parser that reads untrusted input raises nothing but voicelab's own errors.

Parsers: Pulse and Voice Agent messages on both halves (client ``parse``, server
``classify_client_frame`` / ``parse_client_event``), query and handshake parsing (``decode_query``,
``accept_upgrade``), raw-spec parsing, ``sniff_bytes``, base64 and the RIFF/WAVE header reader. The
example count comes from the hypothesis profile (tests/hardening/conftest.py: ``ci`` 2000, ``long``
100000, chosen by ``HYPOTHESIS_PROFILE``). ``Recording.load`` is part B's (voicelab/recording).
"""

from __future__ import annotations

import json
import string
import struct
from dataclasses import fields
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from voicelab.audio import codecs
from voicelab.audio.findings import Finding
from voicelab.audio.formats import ENCODINGS, RawFormat
from voicelab.audio.riff import find_riff, parse_wav_header
from voicelab.audio.sniff import sniff_bytes
from voicelab.errors import VoicelabError
from voicelab.protocols.events import Event
from voicelab.providers.assemblyai_agent import handshake as agent_handshake
from voicelab.providers.assemblyai_agent import messages as agent_messages
from voicelab.providers.assemblyai_agent import server as agent_server
from voicelab.providers.assemblyai_agent.tokens import TokenIssuer
from voicelab.providers.pulse import handshake as pulse_handshake
from voicelab.providers.pulse import messages as pulse_messages
from voicelab.providers.pulse.params import PulseParams, decode_query

pytestmark = pytest.mark.timeout(120)


REFUSED = object()  # what voicelab_errors_only returns when the parser refused the input with a VoicelabError


def voicelab_errors_only(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a VoicelabError is an answer (``REFUSED``), any other exception fails the property."""
    try:
        return fn(*args, **kwargs)
    except VoicelabError as exc:
        assert str(exc), f"{type(exc).__name__} with an empty message"
        return REFUSED


def answered(out: Any, *types: type) -> bool:
    """True when a parser refused cleanly or returned one of ``types``."""
    return out is REFUSED or isinstance(out, types)


def events_or_refused(out: Any) -> bool:
    """True when a parser refused cleanly or returned a list of voicelab events."""
    return out is REFUSED or (isinstance(out, list) and all(isinstance(ev, Event) for ev in out))


# ------------------------------------------------------------------------------------------ strategies
KEYS = ["type", "status", "transcript", "transcription", "is_final", "is_last", "words", "utterances", "error",
        "error_code", "message", "timestamp", "session_id", "full_transcript", "language", "languages", "code",
        "param", "audio", "reply_id", "item_id", "call_id", "args", "result", "resume_token", "session",
        "instructions", "from_finalize", "redacted_entities", "start", "end", "word", "confidence", "speaker",
        "text", "interrupted", "name", "flag", "audio_duration_seconds", "session_duration_seconds", "data"]
TYPES = ["transcription", "error", "speech_started", "speech_ended", "finalize", "close_stream", "end",
         "input.audio", "input.speech.started", "input.speech.stopped", "reply.audio", "reply.create", "reply.done",
         "reply.started", "session.end", "session.ended", "session.error", "session.ready", "session.resume",
         "session.update", "session.updated", "tool.call", "tool.result", "transcript.agent", "transcript.user",
         "transcript.user.delta"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**31), 2**31), st.sampled_from([2**70, -(2**70), 1e308, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), st.sampled_from(TYPES),
)
# Two levels, not st.recursive: generation dominated the run time, and the parsers look two levels deep
# (a message's fields, and the objects in its word/utterance lists).
flat_objects = st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4)
json_values = st.one_of(scalars, st.lists(scalars, max_size=3), flat_objects, st.lists(flat_objects, max_size=3))
fields_ = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
messages = st.one_of(
    st.builds(lambda kind, rest: {**rest, "type": kind}, st.sampled_from(TYPES), fields_),
    fields_,
)
frames = st.one_of(
    messages.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    messages.map(lambda m: json.dumps(m).encode()),
)


# ------------------------------------------------------------------------------------ Pulse, both halves
@given(frames)
@example('{"type": "transcription", "words": [{"word": 1, "start": "x"}]}')
@example('{"status": "error", "error_code": []}')
def test_pulse_client_parse(frame):
    assert events_or_refused(voicelab_errors_only(pulse_messages.parse, frame))


@given(messages)
@example({"is_final": True, "redacted_entities": 1})  # once a TypeError (found by this test)
@example({"is_final": True, "languages": "en", "redacted_entities": "xy"})
def test_pulse_client_parse_of_decoded_dicts(msg):
    assert events_or_refused(voicelab_errors_only(pulse_messages.parse, msg))


@given(frames)
@example('{"type": "close_stream", "is_last": "x"}')
@example('{"flag": "END"}')
def test_pulse_server_classify_client_frame(frame):
    assert answered(voicelab_errors_only(pulse_messages.classify_client_frame, frame), pulse_messages.ClientFrame)


# ------------------------------------------------------------------------------- Voice Agent, both halves
@given(frames, st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma"]))
@example('{"type": "reply.audio", "data": "!!"}', "audio/pcm")
def test_agent_client_parse(frame, encoding):
    assert events_or_refused(voicelab_errors_only(agent_messages.parse, frame, output_encoding=encoding))


@given(frames)
@example('{"type": "session.update", "session": {"greeting": 5}}')
@example('{"type": "input.audio", "audio": "AAA"}')
@example('{"type": "tool.result", "call_id": [], "result": {}}')
def test_agent_server_parse_client_event(frame):
    assert answered(voicelab_errors_only(agent_server.parse_client_event, frame), agent_server.ClientEvent)


# ------------------------------------------------------------------------------- queries and handshakes
PULSE_KEYS = sorted({f.name for f in fields(PulseParams)} - {"extra"}) + ["token", "api_key", "foo"]
query_values = st.one_of(st.text(max_size=12), st.sampled_from(["true", "false", "16000", "en", "linear16", "0.5",
                                                                "-1", "1e400", "nan", "pulse", ""]))
queries = st.dictionaries(st.sampled_from(PULSE_KEYS), query_values, max_size=8)


@given(queries, st.sampled_from(["live", "legacy"]))
def test_pulse_decode_query(query, endpoint):
    out = voicelab_errors_only(decode_query, query, endpoint=endpoint)
    assert out is REFUSED or (isinstance(out[0], PulseParams) and isinstance(out[1], dict))


header_values = st.one_of(st.text(max_size=30), st.sampled_from(["Bearer k", "Token k", "Bearer", "Bearer  ", "k",
                                                                 "Bearer wat_abc", ""]))
headers = st.dictionaries(st.sampled_from(["Authorization", "authorization", "X-Api-Key", "Host", "x"]), header_values,
                          max_size=3)
paths = st.one_of(st.sampled_from(["/waves/v1/stt/live", "/api/v1/pulse/get_text", "/v1/ws", "/", "",
                                   "/waves/v1/stt/live/", "/v1/ws?token=x"]), st.text(max_size=30))
raw_queries = st.one_of(queries.map(lambda q: "&".join(f"{k}={v}" for k, v in q.items())), st.text(max_size=60))


@given(paths, raw_queries, headers)
def test_pulse_accept_upgrade(path, query, hdrs):
    out = voicelab_errors_only(pulse_handshake.accept_upgrade, path=path, query=query, headers=hdrs, api_keys={"k"},
                               now=0.0)
    assert answered(out, pulse_handshake.PulseSessionConfig, pulse_handshake.HandshakeRejection)


@given(paths, raw_queries, headers, st.booleans())
def test_agent_accept_upgrade(path, query, hdrs, with_issuer):
    out = voicelab_errors_only(agent_handshake.accept_upgrade, path=path, query=query, headers=hdrs, now=0.0,
                               api_keys={"k"}, issuer=TokenIssuer() if with_issuer else None)
    assert answered(out, agent_handshake.AuthOk, agent_handshake.AuthFailure, agent_handshake.HandshakeRejection)


# --------------------------------------------------------------------------------------- audio parsers
spec_parts = st.one_of(st.sampled_from([*ENCODINGS, "16000", "1", "0", "-1", "16k", "", " ", "pcm_s16le"]),
                       st.text(max_size=10))


@given(st.one_of(st.text(max_size=40), st.lists(spec_parts, min_size=1, max_size=4).map(":".join)))
@example("linear16:" + "9" * 5000)
def test_raw_spec_parse(text):
    assert answered(voicelab_errors_only(RawFormat.parse, text), RawFormat)


raw_formats = st.builds(RawFormat, encoding=st.sampled_from([e for e in ENCODINGS if e != "opus"]),
                        samplerate=st.sampled_from([8000, 16000, 44100]), channels=st.integers(1, 2))
byte_inputs = st.one_of(
    st.binary(max_size=4096),
    st.binary(max_size=400).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:]),
    st.binary(max_size=400).map(lambda b: b"OggS" + b),
    st.text(max_size=200).map(str.encode),
)


@given(byte_inputs, raw_formats)
def test_sniff_bytes(data, fmt):
    out = voicelab_errors_only(sniff_bytes, data, fmt, where="the data")
    assert out is REFUSED or (isinstance(out, list) and all(isinstance(f, Finding) for f in out))


b64_text = st.one_of(st.text(max_size=100), st.text(alphabet=string.ascii_letters + string.digits + "+/=-_ \n",
                                                    max_size=100))


@given(st.one_of(b64_text, b64_text.map(lambda t: t.encode("utf-8")), st.binary(max_size=100)))
def test_b64decode(text):
    assert answered(voicelab_errors_only(codecs.b64decode, text), bytes)


def _wav_like(tag: int, channels: int, rate: int, bits: int, sizes: tuple[int, int], tail: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * max(channels, 1) * bits // 8 & 0xFFFFFFFF,
                      max(channels, 1) * bits // 8 & 0xFFFF, bits)
    return (b"RIFF" + struct.pack("<I", sizes[0]) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", sizes[1]) + tail)


u16, u32 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
wav_bytes = st.one_of(
    st.builds(_wav_like, u16, u16, u32, u16, st.tuples(u32, u32), st.binary(max_size=64)),
    st.binary(max_size=300).map(lambda b: b"RIFF" + b[:4] + b"WAVE" + b[4:]),
    st.binary(max_size=300),
)


@given(wav_bytes, st.integers(0, 16))
def test_wav_header_parsing(data, offset):
    hdr = parse_wav_header(data, offset=offset)
    if hdr is not None:  # its derived facts must be computable too
        hdr.block_align, hdr.declared_frames, hdr.truncated  # noqa: B018
    found = find_riff(data)
    assert found is None or isinstance(found, int)


@given(st.builds(_wav_like, st.sampled_from([1, 3, 6, 7, 0xFFFE, 0, 2]), st.integers(0, 3),
                 st.sampled_from([0, 1, 8000, 16000, 0xFFFFFFFF]), st.sampled_from([0, 8, 16, 24, 32, 7]),
                 st.tuples(u32, u32), st.binary(max_size=256)))
def test_load_of_wav_like_bytes(data):
    from voicelab.audio.clip import Clip
    from voicelab.audio.io import load

    out = voicelab_errors_only(load, data)
    assert out is REFUSED or (isinstance(out, Clip) and out.samplerate > 0)


def test_the_helper_fails_on_a_foreign_exception():
    with pytest.raises(ZeroDivisionError):
        voicelab_errors_only(lambda: 1 / 0)
    assert voicelab_errors_only(lambda: np.float32(1.0)) == 1.0
    assert voicelab_errors_only(RawFormat.parse, "linear16:16k:1") is REFUSED
