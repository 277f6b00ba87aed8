"""AssemblyAI Voice Agent protocol: round trips, session schema, errors, tokens with an injected clock."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from voicelab.protocols import (
    AgentReplyAudio,
    AgentReplyDone,
    AgentReplyStarted,
    AgentTranscript,
    Error,
    Final,
    MessageError,
    ParameterError,
    Partial,
    SessionConfigError,
    SessionEnded,
    SessionReady,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TokenError,
    ToolCall,
    TurnEnd,
)
from voicelab.protocols.wire import HandshakeRejection, encode_json
from voicelab.providers import assemblyai_agent as aai

KEY = "aai_secret_key_abc"


def ready_session(**session: object) -> aai.AgentServerSession:
    """A server session that has accepted a first session.update."""
    srv = aai.AgentServerSession(session_id="sess_" + "0" * 32, started_at=100.0)
    step = srv.receive(aai.session_update(session or {"system_prompt": "hi", "greeting": "Hello"}), now=100.0)
    assert step.replies[-1]["type"] == "session.ready"
    return srv


# ---------------------------------------------------------------- URL and auth


def test_us_and_eu_urls() -> None:
    assert aai.build_url() == "wss://agents.assemblyai.com/v1/ws"
    assert aai.build_url(region="eu") == "wss://agents.eu.assemblyai.com/v1/ws"


def test_bearer_header_redacted() -> None:
    req = aai.build_connect(api_key=KEY)
    assert req.headers.reveal() == {"Authorization": f"Bearer {KEY}"}
    assert KEY not in repr(req)


def test_token_in_query_redacted() -> None:
    req = aai.build_connect(token="tok_secret")
    assert req.url.reveal().endswith("/v1/ws?token=tok_secret")
    assert "tok_secret" not in str(req.url) and "tok_secret" not in repr(req) and "token=***" in str(req.url)


def test_exactly_one_credential() -> None:
    with pytest.raises(ParameterError):
        aai.build_connect(api_key=KEY, token="t")
    with pytest.raises(ParameterError):
        aai.build_connect()


# ---------------------------------------------------------------- token endpoint


def test_token_request_shape() -> None:
    req = aai.build_token_request(api_key=KEY, expires_in_seconds=300, max_session_duration_seconds=600)
    assert req.method == "GET"
    assert req.url.reveal() == (
        "https://agents.assemblyai.com/v1/token?expires_in_seconds=300&max_session_duration_seconds=600"
    )
    assert KEY not in repr(req) and req.headers.reveal()["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"expires_in_seconds": 0}, "expires_in_seconds"),
        ({"expires_in_seconds": 601}, "expires_in_seconds"),
        ({"expires_in_seconds": 60, "max_session_duration_seconds": 59}, "max_session_duration_seconds"),
        ({"expires_in_seconds": 60, "max_session_duration_seconds": 10801}, "max_session_duration_seconds"),
    ],
)
def test_token_param_ranges(kwargs: dict[str, int], param: str) -> None:
    with pytest.raises(ParameterError) as info:
        aai.build_token_request(api_key=KEY, **kwargs)  # type: ignore[arg-type]
    assert info.value.param == param and str(next(reversed(kwargs.values()))) in str(info.value)


def test_token_response_doc_example() -> None:
    tok = aai.parse_token_response('{"token":"abc","expires_in_seconds":300}')
    assert tok.token == "abc" and tok.expires_in_seconds == 300 and "abc" not in repr(tok)


def test_token_endpoint_server_round_trip() -> None:
    issuer = aai.TokenIssuer(token_factory=lambda: "tok1")
    req = aai.build_token_request(api_key=KEY, expires_in_seconds=60)
    query = req.url.reveal().split("?", 1)[1]
    status, body = aai.handle_token_request(query=query, headers=req.headers.reveal(), issuer=issuer, now=0.0)
    assert status == 200 and aai.parse_token_response(body).token == "tok1"
    assert aai.handle_token_request(query=query, headers={}, issuer=issuer, now=0.0)[0] == 401
    assert aai.handle_token_request(query="", headers=req.headers.reveal(), issuer=issuer, now=0.0)[0] == 400
    bad = aai.handle_token_request(
        query="expires_in_seconds=900", headers={"Authorization": KEY}, issuer=issuer, now=0
    )
    assert bad[0] == 400 and "expires_in_seconds" in bad[1]["error"]


def test_token_single_use_window_and_max_duration() -> None:
    issuer = aai.TokenIssuer(token_factory=iter(["t1", "t2"]).__next__)
    t1 = issuer.issue(now=1000.0, expires_in_seconds=60)
    assert t1.max_session_duration_seconds == 10800
    grant = issuer.redeem("t1", now=1059.0)
    assert grant.session_deadline == 1059.0 + 10800 and not grant.expired(now=1059.0 + 10799)
    assert grant.expired(now=1059.0 + 10800)
    with pytest.raises(TokenError) as used:
        issuer.redeem("t1", now=1059.5)
    assert used.value.reason == "used"
    issuer.issue(now=0.0, expires_in_seconds=10, max_session_duration_seconds=60)
    with pytest.raises(TokenError) as late:
        issuer.redeem("t2", now=10.5)
    assert late.value.reason == "expired" and late.value.code == "unauthorized"


def test_upgrade_with_token_and_expired_token_first_frame() -> None:
    issuer = aai.TokenIssuer(token_factory=iter(["good", "late"]).__next__)
    issuer.issue(now=0.0, expires_in_seconds=30, max_session_duration_seconds=120)
    issuer.issue(now=0.0, expires_in_seconds=5)
    ok = aai.accept_upgrade(path="/v1/ws?token=good", now=10.0, issuer=issuer)
    assert isinstance(ok, aai.AuthOk) and ok.session_deadline == 130.0
    again = aai.accept_upgrade(path="/v1/ws?token=good", now=11.0, issuer=issuer)
    assert isinstance(again, aai.AuthFailure) and again.close_code == 1008
    late = aai.accept_upgrade(path="/v1/ws", query="token=late", now=6.0, issuer=issuer)
    assert isinstance(late, aai.AuthFailure) and late.error["code"] == "unauthorized"
    (event,) = aai.parse(encode_json(late.error))
    assert isinstance(event, Error) and event.fatal and event.close_code == 1008


def test_upgrade_bad_key_and_no_key_and_path() -> None:
    bad = aai.accept_upgrade(path="/v1/ws", headers={"Authorization": "Bearer nope"}, now=0.0, api_keys=[KEY])
    none = aai.accept_upgrade(path="/v1/ws", now=0.0)
    good = aai.accept_upgrade(
        path="/v1/ws", headers={"authorization": f"Bearer {KEY}"}, now=0.0, api_keys=[KEY]
    )
    assert isinstance(bad, aai.AuthFailure) and bad.error["code"] == "UNAUTHORIZED" and bad.close_code == 1008
    assert isinstance(none, aai.AuthFailure)
    assert isinstance(good, aai.AuthOk) and KEY not in repr(good)
    assert isinstance(aai.accept_upgrade(path="/v2/ws", now=0.0), HandshakeRejection)


# ---------------------------------------------------------------- session.update schema

DOC_SESSION = json.loads(
    '{"type":"session.update","session":{"system_prompt":"You are a concise assistant.",'
    '"greeting":"Hi — how can I help?","input":{"format":{"encoding":"audio/pcm"},'
    '"keyterms":["Acme","OrderPro"],'
    '"turn_detection":{"vad_threshold":0.5,"min_silence":1000,"max_silence":3000,"interrupt_response":true}},'
    '"output":{"voice":"ivy","format":{"encoding":"audio/pcm"},"volume":100},'
    '"tools":[{"type":"function","name":"get_weather","description":"Get weather for a city.",'
    '"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},'
    '"execution_mode":"interactive","timeout_seconds":120}]}}'
)


def test_doc_session_update_validates_and_round_trips() -> None:
    text = aai.session_update(DOC_SESSION["session"])
    event = aai.parse_client_event(text)
    assert isinstance(event, aai.SessionUpdate) and event.session == DOC_SESSION["session"]


def test_make_session_seconds_become_ms() -> None:
    s = aai.make_session(
        greeting="Hi", voice="ivy", min_silence=0.8, max_silence=2.5, output_encoding="audio/pcmu"
    )
    assert s["input"]["turn_detection"] == {"min_silence": 800, "max_silence": 2500}
    assert s["output"] == {"voice": "ivy", "format": {"encoding": "audio/pcmu"}}


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        # validation errors: invalid_config (the skill reference's error table)
        ({"agent_id": "a1", "greeting": "x"}, "session.agent_id", "invalid_config"),
        ({"input": {"format": {"encoding": "audio/wav"}}}, "session.input.format.encoding", "invalid_config"),
        (
            {"input": {"format": {"encoding": "audio/pcm", "sample_rate": 16000}}},
            "session.input.format.sample_rate",
            "invalid_config",
        ),
        ({"input": {"keyterms": ["k"] * 101}}, "session.input.keyterms", "invalid_config"),
        (
            {"input": {"turn_detection": {"vad_threshold": 1.2}}},
            "session.input.turn_detection.vad_threshold",
            "invalid_config",
        ),
        ({"output": {"volume": 101}}, "session.output.volume", "invalid_config"),
        ({"output": {"type": "text"}}, "session.output.type", "invalid_config"),
        (
            {"tools": [{"type": "function", "name": "t", "execution_mode": "later"}]},
            "session.tools[0].execution_mode",
            "invalid_config",
        ),
        (
            {"tools": [{"type": "function", "name": "t", "timeout_seconds": 301}]},
            "session.tools[0].timeout_seconds",
            "invalid_config",
        ),
        # a bad voice or a field of the wrong type: invalid_value
        ({"output": {"voice": "sam"}}, "session.output.voice", "invalid_value"),
        ({"output": {"voice": {"voice_id": "ivy"}}}, "session.output.voice", "invalid_value"),
        ({"output": {"volume": "loud"}}, "session.output.volume", "invalid_value"),
        ({"input": "audio/pcm"}, "session.input", "invalid_value"),
        ({"tools": {"name": "t"}}, "session.tools", "invalid_value"),
        ({"greeting": 5}, "session.greeting", "invalid_value"),
        # unknown fields: invalid_format
        ({"llm": {"model": "x"}}, "session.llm", "invalid_format"),
        ({"turn_detection": {}}, "session.turn_detection", "invalid_format"),
        (
            {"tools": [{"type": "function", "function": {"name": "t"}}]},
            "session.tools[0].function",
            "invalid_format",
        ),
    ],
)
def test_session_validation_errors(session: dict[str, object], param: str, code: str) -> None:
    with pytest.raises(SessionConfigError) as info:
        aai.validate_session(session)
    assert info.value.param == param and info.value.code == code and param in str(info.value)


def test_agent_id_alone_is_fine_only_first() -> None:
    assert aai.validate_session({"agent_id": "a1"}) == {"agent_id": "a1"}
    with pytest.raises(SessionConfigError) as info:
        aai.validate_session({"agent_id": "a1"}, first=False)
    assert info.value.code == "immutable_field"


# ---------------------------------------------------------------- client events → server half


def test_first_message_ordering() -> None:
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0)
    early = srv.receive(aai.input_audio(b"\x00\x00" * 10), now=0.1)
    assert early.event is None and early.close_code is None
    assert early.replies[0]["type"] == "session.error" and early.replies[0]["code"] == "invalid_format"
    step = srv.receive(aai.session_update({"system_prompt": "x"}), now=0.2)
    ready = aai.parse(encode_json(step.replies[0]))[0]
    assert isinstance(ready, SessionReady) and ready.session_id == "sess_1"


def test_bad_first_update_runs_on_defaults() -> None:
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0)
    step = srv.receive('{"type":"session.update","session":{"output":{"voice":{"voice_id":"x"}}}}', now=0.0)
    assert [r["type"] for r in step.replies] == ["session.error", "session.ready"]
    assert step.replies[0]["code"] == "invalid_value" and srv.config == {}


def test_mid_session_update_and_immutable_fields() -> None:
    srv = ready_session(greeting="Hello", output={"voice": "ivy"})
    ok = srv.receive(aai.session_update({"system_prompt": "new"}, first=False), now=101.0)
    assert isinstance(aai.parse(ok.replies[0])[0], SessionUpdated) and srv.config["system_prompt"] == "new"
    for change in (
        {"greeting": "Bye"},
        {"output": {"voice": "james"}},
        {"output": {"format": {"encoding": "audio/pcmu"}}},
    ):
        step = srv.receive(encode_json({"type": "session.update", "session": change}), now=102.0)
        (err,) = aai.parse(step.replies[0])
        assert (
            isinstance(err, Error)
            and err.code == "immutable_field"
            and not err.fatal
            and err.close_code is None
        )


def test_tools_array_replaced_on_update() -> None:
    srv = ready_session(tools=[{"type": "function", "name": "a"}, {"type": "function", "name": "b"}])
    srv.receive(aai.session_update({"tools": [{"type": "function", "name": "c"}]}, first=False), now=101.0)
    assert [t["name"] for t in srv.config["tools"]] == ["c"]


def test_input_audio_round_trip_and_accounting() -> None:
    srv = ready_session()
    pcm = b"\x01\x00" * 1200  # 50 ms at 24 kHz
    step = srv.receive(aai.input_audio(pcm), now=101.0)
    assert isinstance(step.event, aai.InputAudio) and step.event.audio == pcm
    assert srv.audio_seconds == pytest.approx(0.05)


def test_invalid_audio_base64_and_binary_frames() -> None:
    srv = ready_session()
    bad = srv.receive('{"type":"input.audio","audio":"not base64!!"}', now=101.0)
    assert bad.replies[0]["code"] == "invalid_audio"
    binary = srv.receive(b"\x00\x01", now=101.0)
    assert binary.replies[0]["code"] == "invalid_format"
    with pytest.raises(ParameterError):
        aai.input_audio(b"\x00\x01\x02")


def test_pcmu_input_builds_and_counts_8khz() -> None:
    srv = ready_session(input={"format": {"encoding": "audio/pcmu"}})
    srv.receive(aai.input_audio(b"\xff" * 400, encoding="audio/pcmu"), now=101.0)
    assert srv.audio_seconds == pytest.approx(0.05)


def test_tool_result_is_json_string() -> None:
    text = aai.tool_result(call_id="call_abc123", result={"temp_c": 22})
    assert json.loads(text) == {"type": "tool.result", "call_id": "call_abc123", "result": '{"temp_c": 22}'}
    event = aai.parse_client_event(text)
    assert isinstance(event, aai.ToolResult) and json.loads(event.result) == {"temp_c": 22}
    with pytest.raises(MessageError):
        aai.parse_client_event('{"type":"tool.result","call_id":"c","result":{"temp_c":22}}')


def test_doc_client_examples_parse() -> None:
    assert aai.parse_client_event(
        '{"type":"session.resume","session_id":"sess_abc123"}'
    ) == aai.SessionResume(session_id="sess_abc123")
    rc = aai.parse_client_event(
        '{"type":"reply.create","instructions":"Let the customer know we\'re still processing."}'
    )
    assert isinstance(rc, aai.ReplyCreate) and rc.instructions and rc.instructions.startswith("Let")
    assert isinstance(aai.parse_client_event('{"type":"session.end"}'), aai.SessionEnd)
    assert json.loads(aai.reply_create()) == {"type": "reply.create"}
    assert json.loads(aai.session_end()) == {"type": "session.end"}
    assert json.loads(aai.session_resume("sess_abc123"))["session_id"] == "sess_abc123"


def test_unknown_type_is_invalid_format() -> None:
    with pytest.raises(MessageError) as info:
        aai.parse_client_event('{"type":"response.create"}')
    assert getattr(info.value, "code", None) == "invalid_format"


def test_resume_not_found_and_forbidden_close_1008() -> None:
    srv = aai.AgentServerSession(session_id="sess_new", started_at=0.0)
    step = srv.receive(aai.session_resume("sess_old"), now=0.0)
    assert step.close_code == 1008 and step.replies[0]["code"] == "session_not_found"
    srv2 = aai.AgentServerSession(session_id="x", started_at=0.0, resumable=lambda sid: "forbidden")
    assert srv2.receive(aai.session_resume("sess_old"), now=0.0).replies[0]["code"] == "session_forbidden"
    srv3 = aai.AgentServerSession(session_id="x", started_at=0.0, resumable=lambda sid: "ok")
    step3 = srv3.receive(aai.session_resume("sess_old"), now=0.0)
    assert step3.replies[0] == {"type": "session.ready", "session_id": "sess_old"}


def test_session_end_then_ended_and_close_1000() -> None:
    srv = ready_session()
    step = srv.receive(aai.session_end(), now=161.2)
    assert step.close_code == 1000
    (ended,) = aai.parse(step.replies[-1])
    assert isinstance(ended, SessionEnded) and ended.session_duration == pytest.approx(61.2)
    assert ended.audio_duration is None


def test_session_expiry_with_injected_clock() -> None:
    srv = ready_session()
    assert srv.check_expiry(now=150.0, deadline=160.0) is None
    assert srv.check_expiry(now=500.0, deadline=None) is None
    step = srv.check_expiry(now=160.0, deadline=160.0)
    assert step is not None and step.close_code == 1008
    assert [r["type"] for r in step.replies] == ["session.error", "session.ended"]
    assert step.replies[0]["code"] == "session_expired"


def test_new_session_id_format() -> None:
    sid = aai.new_session_id()
    assert sid.startswith("sess_") and len(sid) == 37 and int(sid[5:], 16) >= 0


# ---------------------------------------------------------------- server events → client events


def test_every_server_builder_round_trips() -> None:
    pcm = b"\x10\x00\x20\x00" * 600
    msgs = [
        aai.session_ready(session_id="sess_abc123"),
        aai.session_updated(),
        aai.speech_started(),
        aai.user_transcript_delta(text="What's the weather in"),
        aai.speech_stopped(),
        aai.user_transcript(text="What's the weather in Tokyo?", item_id="item_1"),
        aai.reply_started(reply_id="reply_1"),
        aai.reply_audio(audio=pcm),
        aai.tool_call(call_id="call_1", name="get_weather", arguments={"location": "Tokyo"}),
        aai.agent_transcript(text="It's 22°C.", reply_id="reply_1", item_id="item_2"),
        aai.reply_done(),
        aai.session_error(code="invalid_audio", message="bad", timestamp=0.0, param="audio"),
        aai.session_ended(session_duration_seconds=61.2, audio_duration_seconds=58.0, timestamp=0.0),
    ]
    assert {m["type"] for m in msgs} == set(aai.messages.SERVER_EVENT_TYPES)
    events = [e for m in msgs for e in aai.parse(encode_json(m))]
    kinds = [type(e) for e in events]
    assert kinds == [
        SessionReady,
        SessionUpdated,
        SpeechStarted,
        Partial,
        SpeechStopped,
        Final,
        TurnEnd,
        AgentReplyStarted,
        AgentReplyAudio,
        ToolCall,
        AgentTranscript,
        AgentReplyDone,
        Error,
        SessionEnded,
    ]
    audio = events[8]
    assert isinstance(audio, AgentReplyAudio) and audio.pcm == pcm and audio.sample_rate == 24000
    assert audio.duration == pytest.approx(0.05)
    done = events[11]
    assert isinstance(done, AgentReplyDone) and done.status == "completed" and not done.interrupted
    err = events[12]
    assert isinstance(err, Error) and err.param == "audio" and err.fix and "base64" in err.fix
    assert msgs[11]["timestamp"] == "1970-01-01T00:00:00Z"


def test_pcmu_reply_audio_rate() -> None:
    (audio,) = aai.parse(aai.reply_audio(audio=b"\xff" * 400), output_encoding="audio/pcmu")
    assert isinstance(audio, AgentReplyAudio) and audio.sample_rate == 8000 and audio.encoding == "mulaw"


DOC_SERVER = {
    "session.ready": '{"type":"session.ready","session_id":"sess_abc123"}',
    "transcript.user": '{"type":"transcript.user","text":"What\'s the weather in Tokyo?",'
    '"item_id":"item_abc123"}',
    "reply.audio": '{"type":"reply.audio","data":"EAAgADAAQAAw"}',
    "transcript.agent": '{"type":"transcript.agent","text":"It\'s 22°C and sunny.","reply_id":"reply_abc123",'
    '"item_id":"item_abc123","interrupted":false}',
    "reply.done": '{"type":"reply.done","status":"interrupted"}',
    "tool.call": '{"type":"tool.call","call_id":"call_abc123","name":"get_weather",'
    '"arguments":{"location":"Tokyo"}}',
    "session.error": '{"type":"session.error","code":"invalid_format","message":"Invalid message format",'
    '"timestamp":"2026-01-01T00:00:00Z"}',
    "session.ended": '{"type":"session.ended","session_duration_seconds":61.2,"audio_duration_seconds":58.0,'
    '"timestamp":"2026-01-01T00:00:00Z"}',
}


def test_doc_server_examples() -> None:
    ready = aai.parse(DOC_SERVER["session.ready"])[0]
    assert isinstance(ready, SessionReady) and ready.session_id == "sess_abc123"
    user = aai.parse(DOC_SERVER["transcript.user"])
    assert isinstance(user[0], Final) and user[0].item_id == "item_abc123" and isinstance(user[1], TurnEnd)
    audio = aai.parse(DOC_SERVER["reply.audio"])[0]
    assert isinstance(audio, AgentReplyAudio) and audio.pcm == base64.b64decode("EAAgADAAQAAw")
    agent = aai.parse(DOC_SERVER["transcript.agent"])[0]
    assert isinstance(agent, AgentTranscript) and not agent.interrupted and agent.reply_id == "reply_abc123"
    done = aai.parse(DOC_SERVER["reply.done"])[0]
    assert isinstance(done, AgentReplyDone) and done.interrupted
    call = aai.parse(DOC_SERVER["tool.call"])[0]
    assert (
        isinstance(call, ToolCall) and call.arguments == {"location": "Tokyo"} and call.name == "get_weather"
    )
    err = aai.parse(DOC_SERVER["session.error"])[0]
    assert (
        isinstance(err, Error) and err.code == "invalid_format" and not err.fatal and err.close_code is None
    )
    ended = aai.parse(DOC_SERVER["session.ended"])[0]
    assert isinstance(ended, SessionEnded) and ended.audio_duration == 58.0


def test_field_inconsistencies() -> None:
    old = aai.parse('{"type":"tool.call","call_id":"c","name":"n","args":{"x":1}}')[0]
    assert isinstance(old, ToolCall) and old.arguments == {"x": 1}
    s = aai.parse('{"type":"tool.call","call_id":"c","name":"n","arguments":"{\\"x\\": 2}"}')[0]
    assert isinstance(s, ToolCall) and s.arguments == {"x": 2}
    done = aai.parse('{"type":"reply.done","status":"completed"}')[0]
    assert isinstance(done, AgentReplyDone) and done.status == "completed"
    upper = aai.parse('{"type":"session.error","code":"UNAUTHORIZED","message":"x"}')[0]
    lower = aai.parse('{"type":"session.error","code":"unauthorized","message":"x"}')[0]
    assert isinstance(upper, Error) and isinstance(lower, Error)
    assert upper.close_code == lower.close_code == 1008 and upper.fatal and lower.fatal
    bare = aai.parse('{"type":"error","code":"INTERNAL_ERROR","message":"x"}')[0]
    assert isinstance(bare, Error) and bare.close_code == 1011
    assert isinstance(
        aai.parse('{"type":"session.ready","session_id":"s","resume_token":"r"}')[0], SessionReady
    )


@pytest.mark.parametrize(
    ("code", "close", "fatal"),
    [
        ("UNAUTHORIZED", 1008, True),
        ("FORBIDDEN", 1008, True),
        ("INTERNAL_ERROR", 1011, True),
        ("server_error", 1008, True),
        ("session_not_found", 1008, True),
        ("session_forbidden", 1008, True),
        ("session_expired", 1008, True),
        ("agent_init_failed", 1011, True),
        ("agent_timeout", 1011, True),
        ("invalid_format", None, False),
        ("invalid_audio", None, False),
        ("invalid_value", None, False),
        ("immutable_field", None, False),
        ("invalid_config", None, False),
    ],
)
def test_every_error_code_round_trips_with_close_code(code: str, close: int | None, fatal: bool) -> None:
    msg = aai.session_error(code=code, message="m", timestamp="2026-01-01T00:00:00Z")
    (event,) = aai.parse(encode_json(msg))
    assert (
        isinstance(event, Error) and event.code == code and event.close_code == close and event.fatal is fatal
    )


def test_unknown_error_code_is_refused_by_builder() -> None:
    with pytest.raises(ParameterError):
        aai.session_error(code="nope", message="m", timestamp=0.0)


def test_binary_server_frame_is_message_error() -> None:
    with pytest.raises(MessageError):
        aai.parse(b"\x00")


@pytest.mark.parametrize(
    ("code", "word"),
    [(1000, "session.ended"), (1006, "token"), (1008, "UNAUTHORIZED"), (1011, "INTERNAL_ERROR")],
)
def test_close_explanations(code: int, word: str) -> None:
    event = aai.closed(code=code)
    assert event.explanation and word in event.explanation and event.clean == (code == 1000)


# ---------------------------------------------------------------- published payloads, error codes (issue 15, item 11)

FIXTURES = Path(__file__).parent / "fixtures" / "assemblyai_agent"
SKILL = "https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


PUBLISHED_UPDATES = sorted(
    p.name for p in FIXTURES.glob("*.json") if "message" in _fixture(p.name) and p.name != "stored_agent_binding.json"
)


@pytest.mark.parametrize("name", PUBLISHED_UPDATES)
def test_published_session_update_examples_are_accepted(name: str) -> None:
    """Every session.update the vendor publishes is accepted as sent: no session.error, then session.ready.

    Sources (one fixture each, its URL inside): the events reference
    https://assemblyai.com/docs/voice-agents/voice-agent-api/events-reference, the session configuration page
    https://assemblyai.com/docs/voice-agents/voice-agent-api/session-configuration, the client-side tools page
    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/tools/client-side-tools and the skill reference.
    """
    message = _fixture(name)["message"]
    assert aai.validate_session(message["session"]) == message["session"]
    assert json.loads(aai.session_update(message["session"])) == message  # the client builder accepts it too
    srv = aai.AgentServerSession(session_id="sess_" + "1" * 32, started_at=0.0)
    step = srv.receive(json.dumps(message), now=0.0)
    assert [r["type"] for r in step.replies] == ["session.ready"]
    assert srv.config == message["session"]


def test_tool_calling_page_output_type_audio_keeps_greeting_and_tools() -> None:
    """The tool-calling example's ``"output": {"type": "audio", "voice": "ivy"}`` is accepted with greeting and tools.

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/tools/client-side-tools (also the older
    https://assemblyai.1bitai.ru/docs/voice-agents/voice-agent-api/tool-calling).
    """
    session = _fixture("client_side_tools.json")["message"]["session"]
    assert session["output"] == {"type": "audio", "voice": "ivy"}
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0)
    step = srv.receive(aai.session_update(session), now=0.0)
    assert [r["type"] for r in step.replies] == ["session.ready"]
    assert srv.config["greeting"] == "Hi! Ask me about the weather." and srv.config["tools"][0]["name"] == "get_weather"


def test_hold_tool_from_the_skill_reference_is_accepted() -> None:
    """A ``hold`` tool as the skill reference declares it (``execution_mode: "hold"``, ``timeout_seconds: 60``).

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """
    tool = _fixture("skill_hold_tool.json")["tool"]
    assert aai.validate_session({"tools": [tool]})["tools"] == [tool]


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"output": {"voice": "sam"}}, "session.output.voice"),  # removed June 2026
        ({"output": {"voice": {"voice_id": "ivy"}}}, "session.output.voice"),
    ],
)
def test_bad_voice_on_the_first_update_is_invalid_value(session: dict[str, Any], param: str) -> None:
    """``invalid_value``: "session.update with invalid voice or field type" — on the first update too.

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    (Voice Agent Error Codes). The session then runs on defaults (a third-party client's report).
    """
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0)
    step = srv.receive(json.dumps({"type": "session.update", "session": session}), now=0.0)
    error, ready = step.replies
    assert error["type"] == "session.error" and error["code"] == "invalid_value" and error["param"] == param
    assert ready["type"] == "session.ready" and srv.config == {}


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"output": {"volume": "loud"}}, "session.output.volume"),
        (
            {"input": {"turn_detection": {"interrupt_response": "no"}}},
            "session.input.turn_detection.interrupt_response",
        ),
        ({"system_prompt": ["be brief"]}, "session.system_prompt"),
        ({"tools": [{"type": "function", "name": 7}]}, "session.tools[0].name"),
    ],
)
def test_wrong_field_type_on_the_first_update_is_invalid_value(session: dict[str, Any], param: str) -> None:
    """A field of the wrong JSON type on the first session.update is ``invalid_value``, not ``invalid_format``.

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0)
    step = srv.receive(json.dumps({"type": "session.update", "session": session}), now=0.0)
    assert step.replies[0]["code"] == "invalid_value" and step.replies[0]["param"] == param
    assert step.replies[1]["type"] == "session.ready"


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"output": {"volume": 150}}, "session.output.volume"),
        ({"agent_id": "agent_1", "system_prompt": "x"}, "session.agent_id"),
        (
            {"input": {"turn_detection": {"min_silence": 4000, "max_silence": 3000}}},
            "session.input.turn_detection.min_silence",
        ),
        ({"tools": [{"type": "function", "name": "t", "timeout_seconds": 0}]}, "session.tools[0].timeout_seconds"),
    ],
)
def test_validation_error_on_the_first_update_is_invalid_config(session: dict[str, Any], param: str) -> None:
    """A well-typed value that fails validation is ``invalid_config``: "session.update raised a validation error".

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0)
    step = srv.receive(json.dumps({"type": "session.update", "session": session}), now=0.0)
    assert step.replies[0]["code"] == "invalid_config" and step.replies[0]["param"] == param
    assert step.replies[1]["type"] == "session.ready"


# ---------------------------------------------------------------- stored agents and the Sessions API (item 10)

AGENT_BODY = {
    "name": "Weather desk",
    "system_prompt": "You report the weather.",
    "greeting": "Weather desk, hello.",
    "voice": {"voice_id": "james"},
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "execution_mode": "hold"}],
}


def test_agent_id_gives_the_stored_agents_greeting_prompt_and_tools() -> None:
    """``{"agent_id": …}`` alone: "The agent's stored system_prompt, greeting, tools, input, and output are applied".

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md;
    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/create-agent
    """
    store = aai.AgentStore(new_id=lambda: "7ad24396-b822-4dca-871a-be9cc4781cf9")
    status, record = store.create(AGENT_BODY, now=1000.0)
    assert status == 201
    binding = _fixture("stored_agent_binding.json")["message"]
    binding["session"]["agent_id"] = record["id"]
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0, agents=store.session_config)
    step = srv.receive(json.dumps(binding), now=0.0)
    assert [r["type"] for r in step.replies] == ["session.ready"] and srv.agent_id == record["id"]
    assert srv.config["greeting"] == "Weather desk, hello." and srv.config["system_prompt"] == "You report the weather."
    assert srv.config["output"]["voice"] == "james" and srv.config["tools"][0]["execution_mode"] == "hold"
    assert "id" not in srv.config["tools"][0]  # the stored tool's id is not a session field
    # the stored greeting is as immutable as an inline one; the prompt is mutable
    bad = srv.receive(encode_json({"type": "session.update", "session": {"greeting": "Other"}}), now=1.0)
    assert bad.replies[0]["code"] == "immutable_field"
    ok = srv.receive(aai.session_update({"system_prompt": "Be brief."}, first=False), now=1.0)
    assert ok.replies[0]["type"] == "session.updated" and srv.config["system_prompt"] == "Be brief."


def test_unknown_agent_id_is_invalid_value_then_defaults() -> None:
    """An ``agent_id`` no stored agent has: ``invalid_value`` naming it, then ready on defaults [INF].

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """
    srv = aai.AgentServerSession(session_id="sess_1", started_at=0.0, agents=aai.AgentStore().session_config)
    step = srv.receive(aai.session_update({"agent_id": "nope"}), now=0.0)
    assert step.replies[0]["code"] == "invalid_value" and "nope" in step.replies[0]["message"]
    assert step.replies[1]["type"] == "session.ready" and srv.config == {} and srv.agent_id is None


def test_agents_api_create_get_list_shapes() -> None:
    """``POST`` 201 with the full record and a generated ``id``; ``GET`` the record; the list is a bare array of
    ``{id, name, deleted_at, created_at, updated_at}``, newest first; ``DELETE`` 204 with no body.

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/create-agent;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/list-agents
    """
    ids = iter(["agent-a", "agent-b"])
    store = aai.AgentStore(new_id=lambda: next(ids))
    guide = _fixture("create_agent_guide.json")["body"]
    status, a = store.create(guide, now=1_800_000_000.0)
    assert status == 201 and a["id"] == "agent-a" and a["voice"] == {"voice_id": "ivy"}
    same = ("name", "system_prompt", "greeting")
    assert {k: a[k] for k in same} == {k: guide[k] for k in same}
    assert a["input"]["format"] == {"encoding": "audio/pcm", "sample_rate": 24000} and a["tools"] == []
    assert a["created_at"] == "2027-01-15T08:00:00Z" and a["deleted_at"] is None
    status, b = store.create(_fixture("create_agent_skill.json")["body"], now=1_800_000_001.0)  # voice as a plain name
    assert status == 201 and b["voice"] == {"voice_id": "ivy"}
    status, listed = store.list()
    assert status == 200 and [x["id"] for x in listed] == ["agent-b", "agent-a"]
    assert set(listed[0]) == {"id", "name", "deleted_at", "created_at", "updated_at"}
    assert store.get("agent-a") == (200, a)
    assert store.delete("agent-a", now=1_800_000_002.0) == (204, None)
    assert store.get("agent-a")[0] == 404 and [x["id"] for x in store.list()[1]] == ["agent-b"]
    assert store.session_config("agent-a") is None


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"system_prompt": "x", "voice": "ivy"}, ["body", "name"]),
        ({**AGENT_BODY, "voice": "sam"}, ["body", "voice"]),
        ({**AGENT_BODY, "output": {"volume": 150}}, ["body", "output", "volume"]),
        ({**AGENT_BODY, "tools": [{"name": "t", "timeout_seconds": 900}]}, ["body", "tools", 0, "timeout_seconds"]),
    ],
)
def test_agents_api_rejects_invalid_bodies_with_422(body: dict[str, Any], loc: list[Any]) -> None:
    """Only ``name``, ``system_prompt`` and ``voice`` are required; invalid fields get a 422 naming them [INF shape].

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents
    """
    status, answer = aai.AgentStore().create(body, now=0.0)
    assert status == 422 and answer["detail"][0]["loc"] == loc


def test_rest_auth_takes_the_raw_key_or_bearer_and_answers_401_detail() -> None:
    """"The raw key works directly; a ``Bearer`` prefix is accepted and stripped"; 401 bodies as documented.

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents
    """
    assert aai.check_rest_auth({"Authorization": KEY}, api_keys=[KEY]) is None
    assert aai.check_rest_auth({"authorization": f"Bearer {KEY}"}, api_keys=[KEY]) is None
    assert aai.check_rest_auth({}, api_keys=[KEY]) == (401, {"detail": "Missing authorization header"})
    assert aai.check_rest_auth({"Authorization": "nope"}, api_keys=[KEY]) == (401, {"detail": "Unauthorized"})


def test_sessions_api_list_get_delete_shapes() -> None:
    """List newest first without artifacts (``sessions``, ``has_more``, ``response_metadata.next_cursor``; ``limit``
    1–200; ``status`` and ``agent_id`` filters); a session adds ``config`` and ``artifacts`` (empty until it
    completes); ``duration_seconds``/``ended_at`` are null while active; DELETE soft-deletes with 204.

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-history;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/list-sessions;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/get-session;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/delete-session
    """
    history = aai.SessionHistory()
    history.start("sess_a", agent_id=None, config={"greeting": "Hi"}, now=100.0)
    history.start("sess_b", agent_id="agent-1", config={"agent_id": "agent-1"}, now=200.0)
    history.end("sess_a", how="end", now=142.6)
    status, page = history.list({"limit": "1"}, now=300.0)
    assert status == 200 and page["has_more"] is True and [s["id"] for s in page["sessions"]] == ["sess_b"]
    active = page["sessions"][0]
    assert active["status"] == "created" and active["duration_seconds"] is None and active["ended_at"] is None
    fields = {"id", "agent_id", "status", "public_close_reason", "duration_seconds", "created_at", "ended_at"}
    assert set(active) == fields
    status, rest = history.list({"limit": "1", "cursor": page["response_metadata"]["next_cursor"]}, now=300.0)
    assert [s["id"] for s in rest["sessions"]] == ["sess_a"] and rest["has_more"] is False
    assert rest["response_metadata"]["next_cursor"] is None
    assert [s["id"] for s in history.list({"status": "completed"}, now=300.0)[1]["sessions"]] == ["sess_a"]
    assert [s["id"] for s in history.list({"agent_id": "agent-1"}, now=300.0)[1]["sessions"]] == ["sess_b"]
    assert history.list({"limit": "500"}, now=300.0)[0] == 422
    status, done = history.get("sess_a", now=300.0, base_url="http://127.0.0.1:9")
    assert status == 200 and done["status"] == "completed" and done["public_close_reason"] == "client_end"
    assert done["duration_seconds"] == pytest.approx(42.6) and done["config"] == {"greeting": "Hi"}
    (artifact,) = done["artifacts"]
    assert artifact["type"] == "timeline" and artifact["content_type"] == "application/json"
    assert artifact["url"].startswith("http://127.0.0.1:9/v1/session-artifacts/")
    assert history.get("sess_b", now=300.0, base_url="http://x")[1]["artifacts"] == []
    key = artifact["url"].rsplit("/", 1)[1]
    timeline = history.artifact(key, now=300.0)[1]
    assert timeline["session_id"] == "sess_a" and timeline["ended"]["public_reason"] == "client_end"
    assert history.delete("sess_a", now=300.0) == (204, None)
    assert history.get("sess_a", now=300.0, base_url="http://x")[0] == 404
    assert history.artifact(key, now=300.0)[0] == 404


def test_dropped_session_completes_when_the_resume_window_passes() -> None:
    """A dropped session stays resumable (and billable) for its grace window, then completes [INF reason].

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api ("30-second grace window is billable")
    """
    history = aai.SessionHistory()
    history.start("sess_a", agent_id=None, config={}, now=100.0)
    history.dropped("sess_a", now=110.0, grace_seconds=30.0)
    assert history.get("sess_a", now=120.0, base_url="http://x")[1]["status"] == "created"
    done = history.get("sess_a", now=141.0, base_url="http://x")[1]
    assert done["status"] == "completed" and done["public_close_reason"] == "client_disconnected"
    assert done["duration_seconds"] == pytest.approx(40.0)


def test_timeline_turns_record_triggers_tools_and_suppressed_user_turns() -> None:
    """Timeline turns carry a ``trigger`` (``greeting``, ``user_speech``, ``tool_result``, ``reply_create``) and their
    ``tool_calls``; a user turn that ended during a hold tool is ``suppressed`` [INF field names, third-party].

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-history ("full conversation timeline")
    """
    t = aai.Timeline(session_id="sess_a", started_at=100.0)
    t.user_turn(item_id="item_1", text="weather in Paris", started_at=101.0, ended_at=102.0)
    turn = t.begin("user_speech", now=102.2)
    t.tool_call(turn, call_id="call_0001", name="get_weather", arguments={"city": "Paris"}, now=102.3)
    t.user_turn(item_id="item_2", text="hello?", started_at=103.0, ended_at=104.0)
    t.suppress(now=104.0)
    t.tool_result("call_0001", result='{"temp_c": 22}', now=105.3)
    t.finish(turn)
    follow = t.begin("tool_result", now=105.4)
    t.reply_started(follow, now=105.5)
    t.first_audio(follow, now=105.6)
    t.reply_done(follow, text="It is 22 degrees.", now=107.0)
    out = t.to_json()
    assert out["started_at_unix_ms"] == 100_000 and "config_changes" not in out
    first, suppressed, answer = out["turns"]
    assert first["trigger"] == "user_speech" and first["user_transcript"] == "weather in Paris"
    assert first["tool_calls"][0]["duration_ms"] == 3000 and first["tool_calls"][0]["is_error"] is False
    assert suppressed["status"] == "suppressed" and suppressed["user_transcript"] == "hello?"
    assert answer["trigger"] == "tool_result" and answer["agent_text"] == "It is 22 degrees."
    assert answer["status"] == "completed" and answer["time_to_first_audio_ms"] == 100
