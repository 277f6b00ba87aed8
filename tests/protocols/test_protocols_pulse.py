"""Smallest Pulse protocol: client half ↔ server half round trips, validation, docs examples."""

from __future__ import annotations

import json

import pytest

from voicelab.errors import VoicelabError
from voicelab.protocols import (
    Error,
    Final,
    HandshakeRejection,
    MessageError,
    ParameterError,
    Partial,
    SpeechStarted,
    SpeechStopped,
    TurnEnd,
    Unrecognized,
    Utterance,
    Word,
)
from voicelab.protocols.wire import encode_json
from voicelab.providers import pulse
from voicelab.providers.pulse import PulseParams, PulseSessionConfig

KEY = "sk_test_secret_123"


def accept(url: str, headers: dict[str, str] | None = None) -> PulseSessionConfig | HandshakeRejection:
    """Feed a client URL into the server half."""
    path, _, query = url.partition("?")
    return pulse.accept_upgrade(
        path="/" + path.split("/", 3)[3], query=query, headers=headers, api_keys=[KEY]
    )


# ---------------------------------------------------------------- URLs and auth


def test_live_url_has_model_first_and_vendor_host() -> None:
    url = pulse.build_url(params=PulseParams(language="en"))
    assert url == "wss://api.smallest.ai/waves/v1/stt/live?model=pulse&language=en"


def test_legacy_url_never_sends_model() -> None:
    url = pulse.build_url(params=PulseParams(language="en"), endpoint="legacy")
    assert url == "wss://api.smallest.ai/waves/v1/pulse/get_text?language=en"


def test_us_region_host() -> None:
    assert pulse.build_url(region="us").startswith("wss://api.us.smallest.ai/waves/v1/stt/live")


def test_booleans_are_true_false_strings() -> None:
    query = PulseParams(word_timestamps=True, diarize=False, vad_events=True).to_query()
    assert query["word_timestamps"] == "true"
    assert query["diarize"] == "false"
    assert query["vad_events"] == "true"


def test_every_documented_parameter_is_encoded() -> None:
    params = PulseParams(
        language="hi",
        sample_rate=8000,
        encoding="mulaw",
        word_timestamps=True,
        diarize=True,
        sentence_timestamps=True,
        full_transcript=True,
        endpointing=False,
        eou_timeout_ms=480,
        finalize_on_words=False,
        max_words=20,
        vad_events=True,
        vad=True,
        format=True,
        punctuate=False,
        capitalize=False,
        itn_normalize=True,
        redact_pii=True,
        redact_pci=True,
        keywords="Blackwell:1,Jensen Huang:2",
        external_session_id="call-42.a_b",
        numerals="auto",
        vad_threshold=0.4,
        vad_min_speech_ms=200,
        emotion_detection=False,
        gender_detection=False,
    )
    query = params.to_query()
    assert set(query) == {
        "model",
        "language",
        "sample_rate",
        "encoding",
        "word_timestamps",
        "diarize",
        "sentence_timestamps",
        "full_transcript",
        "endpointing",
        "eou_timeout_ms",
        "finalize_on_words",
        "max_words",
        "vad_events",
        "vad",
        "format",
        "punctuate",
        "capitalize",
        "itn_normalize",
        "redact_pii",
        "redact_pci",
        "keywords",
        "external_session_id",
        "numerals",
        "vad_threshold",
        "vad_min_speech_ms",
        "emotion_detection",
        "gender_detection",
    }
    assert query["keywords"] == "Blackwell:1,Jensen Huang:2"
    assert query["eou_timeout_ms"] == "480"


def test_bearer_header_is_default_and_redacted() -> None:
    req = pulse.build_connect(api_key=KEY)
    assert req.headers.reveal()["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(req)
    assert KEY not in str(req.url)
    assert req.headers["Authorization"] == "Bearer ***"


@pytest.mark.parametrize("auth", ["token", "api_key"])
def test_query_auth_is_redacted_in_str_and_repr(auth: str) -> None:
    req = pulse.build_connect(api_key=KEY, auth=auth)  # type: ignore[arg-type]
    assert f"{auth}={KEY}" in req.url.reveal()
    assert KEY not in str(req.url) and KEY not in repr(req.url) and KEY not in repr(req)
    assert f"{auth}=***" in str(req.url)
    assert "Authorization" not in req.headers


def test_https_base_url_is_refused_with_fix() -> None:
    with pytest.raises(ParameterError) as info:
        pulse.build_url(base_url="https://api.smallest.ai")
    assert info.value.param == "base_url"
    assert "wss://" in str(info.value)


def test_region_mismatch_is_refused_by_client() -> None:
    with pytest.raises(ParameterError, match="region='us'"):
        pulse.build_connect(api_key=KEY, params=PulseParams(language="ja"), region="india")


# ---------------------------------------------------------------- parameter validation


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"sample_rate": 11025}, "sample_rate"),
        ({"encoding": "mp3"}, "encoding"),
        ({"encoding": "float32"}, "encoding"),
        ({"language": "klingon"}, "language"),
        ({"eou_timeout_ms": 99}, "eou_timeout_ms"),
        ({"eou_timeout_ms": 10_001}, "eou_timeout_ms"),
        ({"max_words": 0}, "max_words"),
        ({"word_timestamps": "true"}, "word_timestamps"),
        ({"keywords": '["I:20,smiling:26"]'}, "keywords"),
        ({"keywords": ""}, "keywords"),
        ({"external_session_id": "has space"}, "external_session_id"),
        ({"external_session_id": "x" * 129}, "external_session_id"),
        ({"numerals": "yes"}, "numerals"),
        ({"vad_threshold": 1.5}, "vad_threshold"),
        ({"model": "whisper"}, "model"),
    ],
)
def test_bad_parameter_names_param_value_and_allowed(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(ParameterError) as info:
        PulseParams(**kwargs)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, VoicelabError)
    assert err.param == param
    assert param in str(err) and "use" in str(err)
    assert repr(next(iter(kwargs.values())))[:20] in str(err)


def test_sample_rate_error_lists_allowed_rates() -> None:
    with pytest.raises(ParameterError) as info:
        PulseParams(sample_rate=44000)
    assert "8000" in info.value.allowed and "48000" in info.value.allowed


def test_pulse_pro_refused_with_documented_message() -> None:
    with pytest.raises(ParameterError, match="Pulse Pro has no streaming transport"):
        PulseParams(model="pulse-pro")


def test_encoding_aliases_are_normalised() -> None:
    assert PulseParams(encoding="pcm_s16le").encoding == "linear16"
    assert PulseParams(encoding="ulaw").encoding == "mulaw"


def test_keywords_from_pairs() -> None:
    assert PulseParams(keywords=[("Blackwell", 1), "Jensen"]).keywords == "Blackwell:1,Jensen"  # type: ignore[arg-type]


# ---------------------------------------------------------------- handshake (server half)


def test_client_url_round_trips_into_server_config() -> None:
    params = PulseParams(
        language="en", sample_rate=8000, encoding="alaw", vad_events=True, eou_timeout_ms=480
    )
    req = pulse.build_connect(api_key=KEY, params=params)
    config = accept(req.url.reveal(), req.headers.reveal())
    assert isinstance(config, PulseSessionConfig)
    assert (config.endpoint, config.language, config.sample_rate, config.encoding) == (
        "live",
        "en",
        8000,
        "alaw",
    )
    assert config.vad_events is True and config.eou_timeout_ms == 480
    assert config.auth_method == "bearer"


@pytest.mark.parametrize("auth", ["token", "api_key"])
def test_server_accepts_query_credentials(auth: str) -> None:
    req = pulse.build_connect(api_key=KEY, auth=auth)  # type: ignore[arg-type]
    config = accept(req.url.reveal(), req.headers.reveal())
    assert isinstance(config, PulseSessionConfig) and config.auth_method == auth


def test_per_path_defaults() -> None:
    live = accept(pulse.build_connect(api_key=KEY).url.reveal(), {"Authorization": f"Bearer {KEY}"})
    legacy = accept(
        pulse.build_connect(api_key=KEY, endpoint="legacy").url.reveal(), {"Authorization": f"Bearer {KEY}"}
    )
    assert isinstance(live, PulseSessionConfig) and isinstance(legacy, PulseSessionConfig)
    assert live.word_timestamps is False and legacy.word_timestamps is True
    for cfg in (live, legacy):
        assert (cfg.sample_rate, cfg.encoding, cfg.endpointing, cfg.eou_timeout_ms) == (
            16000,
            "linear16",
            True,
            800,
        )
        assert (cfg.format, cfg.punctuate, cfg.capitalize, cfg.itn_normalize) == (True, True, True, False)
        assert cfg.finalize_on_words is True and cfg.full_transcript is False and cfg.vad_events is False


def test_vad_alias_and_vad_events_wins() -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    a = pulse.accept_upgrade(path="/waves/v1/stt/live", query="model=pulse&vad=true", headers=headers)
    b = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query="model=pulse&vad=true&vad_events=false", headers=headers
    )
    assert isinstance(a, PulseSessionConfig) and a.vad_events is True
    assert isinstance(b, PulseSessionConfig) and b.vad_events is False


def test_no_credentials_gets_no_tokens_body() -> None:
    rej = pulse.accept_upgrade(path="/waves/v1/stt/live", query="model=pulse", headers={})
    assert isinstance(rej, HandshakeRejection)
    assert rej.status == 401 and rej.body == {"message": "Unauthorized: No tokens provided"}


@pytest.mark.parametrize("header", [f"Token {KEY}", f"Key {KEY}", "Bearer wrong"])
def test_bad_credentials_get_unauthorized_body(header: str) -> None:
    rej = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query="model=pulse", headers={"authorization": header}, api_keys=[KEY]
    )
    assert isinstance(rej, HandshakeRejection)
    assert rej.status == 401 and json.loads(rej.body_json) == {"error": "unauthorized"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Missing required query param: model. Supported values: pulse | pulse-pro."),
        ("model=nova", "Missing required query param: model. Supported values: pulse | pulse-pro."),
        (
            "model=pulse-pro",
            "Pulse Pro has no streaming transport. Use POST /waves/v1/stt/?model=pulse-pro instead.",
        ),
    ],
)
def test_model_rejections_before_upgrade(query: str, message: str) -> None:
    rej = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query=query, headers={"Authorization": f"Bearer {KEY}"}, request_id="r1"
    )
    assert isinstance(rej, HandshakeRejection)
    assert rej.status == 400 and rej.body == {"error": message, "request_id": "r1"}
    assert rej.headers["x-request-id"] == "r1"


def test_legacy_path_needs_no_model() -> None:
    cfg = pulse.accept_upgrade(path="/waves/v1/pulse/get_text", headers={"Authorization": f"Bearer {KEY}"})
    assert isinstance(cfg, PulseSessionConfig) and cfg.endpoint == "legacy" and not cfg.both_transcript_fields


@pytest.mark.parametrize(
    ("query", "param"), [("encoding=mp3", "encoding"), ("sample_rate=11025", "sample_rate")]
)
def test_bad_encoding_or_rate_is_400(query: str, param: str) -> None:
    rej = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query="model=pulse&" + query, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert isinstance(rej, HandshakeRejection)
    assert rej.status == 400 and param in rej.body["error"]


def test_unknown_params_are_ignored_not_rejected() -> None:
    cfg = pulse.accept_upgrade(
        path="/waves/v1/stt/live?model=pulse&punctuation=false",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert isinstance(cfg, PulseSessionConfig)
    assert cfg.ignored == {"punctuation": "false"} and cfg.punctuate is True


def test_region_violations_flagged_on_config() -> None:
    hdr = {"Authorization": f"Bearer {KEY}"}
    asia = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query="model=pulse&language=ja", headers=hdr, region="india"
    )
    south = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query="model=pulse&language=ta", headers=hdr, region="us"
    )
    assert isinstance(asia, PulseSessionConfig) and asia.region_violation == "close_without_frame"
    assert isinstance(south, PulseSessionConfig) and south.region_violation == "language_not_enabled"


def test_unknown_path_is_404() -> None:
    rej = pulse.accept_upgrade(path="/waves/v1/nope", headers={"Authorization": f"Bearer {KEY}"})
    assert isinstance(rej, HandshakeRejection) and rej.status == 404


# ---------------------------------------------------------------- client frames (server half)


def test_control_messages_round_trip() -> None:
    fin = pulse.classify_client_frame(pulse.finalize_message())
    close = pulse.classify_client_frame(pulse.close_stream_message())
    end = pulse.classify_client_frame(pulse.end_message())
    assert isinstance(fin, pulse.ControlFrame) and fin.control == "finalize" and not fin.ends_stream
    assert isinstance(close, pulse.ControlFrame) and close.control == "close_stream" and close.ends_stream
    assert isinstance(end, pulse.ControlFrame) and end.ends_stream
    assert json.loads(pulse.finalize_message()) == {"type": "finalize"}
    assert json.loads(pulse.close_stream_message()) == {"type": "close_stream"}


def test_binary_is_audio() -> None:
    frame = pulse.classify_client_frame(b"\x00\x01" * 2048)
    assert isinstance(frame, pulse.AudioFrame) and len(frame.data) == 4096


def test_close_stream_is_last_field_is_ignored() -> None:
    frame = pulse.classify_client_frame('{"type":"close_stream","is_last":false}')
    assert isinstance(frame, pulse.ControlFrame) and frame.control == "close_stream"


@pytest.mark.parametrize("text", ["AAECAw==", '{"audio":"AAEC"}', '{"type":"start"}'])
def test_invalid_text_gets_error_frame(text: str) -> None:
    frame = pulse.classify_client_frame(text)
    assert isinstance(frame, pulse.InvalidFrame)
    assert frame.error["type"] == "error" and frame.error["status"] == "error" and frame.error["message"]
    events = pulse.parse(encode_json(frame.error))
    assert isinstance(events[0], Error) and events[0].fatal


# ---------------------------------------------------------------- server messages → client events


def _config(**kwargs: object) -> PulseSessionConfig:
    return PulseSessionConfig.resolve(PulseParams(**kwargs), endpoint="live")  # type: ignore[arg-type]


def test_interim_round_trip_carries_both_fields() -> None:
    msg = pulse.build_transcription(config=_config(), session_id="s1", transcript="Hi, how", is_final=False)
    assert msg["transcript"] == msg["transcription"] == "Hi, how"
    (event,) = pulse.parse(encode_json(msg))
    assert isinstance(event, Partial) and event.text == "Hi, how" and event.session_id == "s1"
    assert event.raw == msg and event.provider == "pulse"


def test_legacy_endpoint_sends_only_transcript() -> None:
    cfg = PulseSessionConfig.resolve(PulseParams(model=None), endpoint="legacy")
    msg = pulse.build_transcription(config=cfg, session_id="s1", transcript="x", is_final=False)
    assert "transcription" not in msg and msg["words"] == []


def test_final_with_options_round_trip() -> None:
    cfg = _config(
        word_timestamps=True,
        diarize=True,
        sentence_timestamps=True,
        itn_normalize=True,
        full_transcript=True,
        redact_pii=True,
        language="en",
    )
    words = [Word(word="Hello,", start=0.0, end=0.42, confidence=0.98, speaker=0, speaker_confidence=0.95)]
    msg = pulse.build_transcription(
        config=cfg,
        session_id="s1",
        transcript="Hello,",
        is_final=True,
        from_finalize=True,
        words=words,
        utterances=[Utterance(text="Hello,", start=0.0, end=0.42, speaker=0)],
        full_transcript="Hello,",
        redacted_entities=[],
    )
    events = pulse.parse(encode_json(msg))
    final, turn = events
    assert isinstance(final, Final) and isinstance(turn, TurnEnd) and turn.reason == "finalize"
    assert final.from_finalize and not final.is_last
    assert final.words == tuple(words)
    assert final.utterances[0].speaker == 0 and final.full_transcript == "Hello,"
    assert final.language == "en" and final.languages == ("en",)


def test_from_finalize_only_with_itn() -> None:
    msg = pulse.build_transcription(
        config=_config(), session_id="s", transcript="a", is_final=True, from_finalize=True
    )
    assert "from_finalize" not in msg


def test_words_absent_without_word_timestamps_and_no_speaker_without_diarize() -> None:
    w = [Word(word="a", start=0.0, end=0.1, confidence=0.9, speaker=1)]
    plain = pulse.build_transcription(
        config=_config(), session_id="s", transcript="a", is_final=True, words=w
    )
    timed = pulse.build_transcription(
        config=_config(word_timestamps=True), session_id="s", transcript="a", is_final=True, words=w
    )
    assert "words" not in plain
    assert "speaker" not in timed["words"][0] and timed["words"][0]["start"] == 0.0


def test_last_final_round_trip_and_close_code() -> None:
    msg = pulse.build_transcription(
        config=_config(), session_id="s", transcript="Goodbye!", is_final=True, is_last=True
    )
    final, turn = pulse.parse(msg)
    assert isinstance(final, Final) and final.is_last and isinstance(turn, TurnEnd) and turn.reason == "last"
    assert pulse.CLOSE_AFTER_LAST == 1000 and pulse.closed(code=pulse.CLOSE_AFTER_LAST).clean


def test_speech_events_round_trip() -> None:
    started = pulse.parse(pulse.build_speech_event(started=True, session_id="s", timestamp=1.84))
    ended = pulse.parse(pulse.build_speech_event(started=False, session_id="s", timestamp=4.52))
    assert isinstance(started[0], SpeechStarted) and started[0].audio_time == 1.84
    assert isinstance(ended[0], SpeechStopped) and ended[0].audio_time == 4.52


def test_region_error_round_trip_has_fix() -> None:
    (event,) = pulse.parse(pulse.build_region_error(language="multi-south-indic"))
    assert isinstance(event, Error) and event.code == "LANGUAGE_NOT_ENABLED_IN_REGION"
    assert "multi-south-indic" in event.message and event.fix and "api.smallest.ai" in event.fix


# ---------------------------------------------------------------- documented examples (the response-format page)

DOC_INTERIM = (
    '{"type":"transcription","status":"success","session_id":"4b5ae9cb-1234-5678-9abc-def012345678",'
    '"transcript":"Hi, how are you","transcription":"Hi, how are you","is_final":false,"is_last":false}'
)
DOC_FINAL = (
    '{"type":"transcription","status":"success","session_id":"x","transcript":"Hello, how are you?",'
    '"is_final":true,"is_last":false,"from_finalize":true,"language":"en","languages":["en"],'
    '"words":[{"word":"Hello,","start":0.0,"end":0.42,"confidence":0.98,"speaker":0,"speaker_confidence":0.95}],'
    '"utterances":[{"text":"Hello, how are you?","start":0.0,"end":1.3,"speaker":0}],"redacted_entities":[]}'
)
DOC_LAST = (
    '{"type":"transcription","status":"success","session_id":"x","transcript":"Goodbye!",'
    '"is_final":true,"is_last":true,"language":"en","languages":["en"]}'
)


def test_doc_interim_example() -> None:
    (event,) = pulse.parse(DOC_INTERIM)
    assert isinstance(event, Partial) and event.text == "Hi, how are you"


def test_doc_final_example() -> None:
    final = pulse.parse(DOC_FINAL)[0]
    assert isinstance(final, Final) and final.from_finalize and final.text == "Hello, how are you?"
    assert final.words[0] == Word(
        word="Hello,", start=0.0, end=0.42, confidence=0.98, speaker=0, speaker_confidence=0.95
    )
    assert final.utterances[0].end == 1.3


def test_doc_last_example() -> None:
    final = pulse.parse(DOC_LAST)[0]
    assert isinstance(final, Final) and final.is_last and final.text == "Goodbye!"


def test_doc_vad_examples() -> None:
    a = pulse.parse('{"type":"speech_started","session_id":"a1b2c3d4","timestamp":1.84}')[0]
    b = pulse.parse('{"type":"speech_ended","session_id":"a1b2c3d4","timestamp":4.52}')[0]
    assert isinstance(a, SpeechStarted) and a.audio_time == 1.84
    assert isinstance(b, SpeechStopped) and b.audio_time == 4.52


def test_missing_type_is_transcription_and_transcription_field_is_read() -> None:
    (event,) = pulse.parse('{"session_id":"s","transcription":"older shape","is_final":false}')
    assert isinstance(event, Partial) and event.text == "older shape"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type":"error","status":"error","message":"boom"}', None),
        ('{"status":"error","error":{"message":"bad","code":"E1"}}', "E1"),
        (
            '{"type":"error","error_code":"LANGUAGE_NOT_ENABLED_IN_REGION",'
            '"message":"Language \'multi-south-indic\' '
            'has not been enabled in this region. Please contact support to request access."}',
            "LANGUAGE_NOT_ENABLED_IN_REGION",
        ),
        ('{"message":"Rate limit exceeded","error":"Too many concurrent connections"}', None),
        ('{"message":"socket timeout"}', None),
    ],
)
def test_error_detection_variants(text: str, code: str | None) -> None:
    (event,) = pulse.parse(text)
    assert isinstance(event, Error) and event.code == code and event.message


def test_unknown_type_kept_as_unrecognized() -> None:
    (event,) = pulse.parse('{"type":"heartbeat"}')
    assert isinstance(event, Unrecognized) and event.type == "heartbeat"


def test_non_json_and_binary_raise_message_error() -> None:
    with pytest.raises(MessageError):
        pulse.parse("not json")
    with pytest.raises(MessageError, match="binary"):
        pulse.parse(b"\x00\xff\x10")


# ---------------------------------------------------------------- explanations


def test_http_401_explains_bearer_fix() -> None:
    exp = pulse.explain_http_status(401)
    assert "Authorization: Bearer <key>" in exp.fix and "not Token/Key" in exp.fix


@pytest.mark.parametrize("status", [400, 403, 429, 500])
def test_http_status_explanations(status: int) -> None:
    exp = pulse.explain_http_status(status)
    assert exp.code == status and exp.fix and exp.cause
    err = pulse.handshake_error(status=status, body="{}")
    assert isinstance(err, Error) and err.fatal and err.code == str(status) and err.fix == exp.fix


def test_429_backoff_and_400_pulse_pro_fixes() -> None:
    assert "500 ms" in pulse.explain_http_status(429).fix and "30 s" in pulse.explain_http_status(429).fix
    assert "model=pulse" in pulse.explain_http_status(400).fix


@pytest.mark.parametrize(
    ("code", "word"), [(1000, "is_last"), (1006, "backoff"), (1008, "concurrent"), (1011, "backoff")]
)
def test_close_code_explanations(code: int, word: str) -> None:
    event = pulse.closed(code=code, reason="r")
    assert event.code == code and event.explanation and word in event.explanation
    assert event.clean == (code == 1000)


def test_concurrency_close_code_is_1008() -> None:
    assert pulse.CLOSE_CONCURRENCY == 1008
