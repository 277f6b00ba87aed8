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
#: The live endpoint requires ``language`` (the AsyncAPI spec); the tests below that are not about it send "en".
EN = PulseParams(language="en")


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
    req = pulse.build_connect(api_key=KEY, params=EN)
    assert req.headers.reveal()["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(req)
    assert KEY not in str(req.url)
    assert req.headers["Authorization"] == "Bearer ***"


@pytest.mark.parametrize("auth", ["token", "api_key"])
def test_query_auth_is_redacted_in_str_and_repr(auth: str) -> None:
    req = pulse.build_connect(api_key=KEY, auth=auth, params=EN)  # type: ignore[arg-type]
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
    req = pulse.build_connect(api_key=KEY, auth=auth, params=EN)  # type: ignore[arg-type]
    config = accept(req.url.reveal(), req.headers.reveal())
    assert isinstance(config, PulseSessionConfig) and config.auth_method == auth


def test_per_path_defaults() -> None:
    live = accept(pulse.build_connect(api_key=KEY, params=EN).url.reveal(), {"Authorization": f"Bearer {KEY}"})
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
    a = pulse.accept_upgrade(path="/waves/v1/stt/live", query="model=pulse&language=en&vad=true", headers=headers)
    b = pulse.accept_upgrade(
        path="/waves/v1/stt/live", query="model=pulse&language=en&vad=true&vad_events=false", headers=headers
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
        path="/waves/v1/stt/live", query="model=pulse&language=en&" + query, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert isinstance(rej, HandshakeRejection)
    assert rej.status == 400 and param in rej.body["error"]


def test_unknown_params_are_ignored_not_rejected() -> None:
    cfg = pulse.accept_upgrade(
        path="/waves/v1/stt/live?model=pulse&language=en&punctuation=false",
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


# ---------------------------------------------------------------- issue 15: current vendor facts (Pulse)

_DOCS = "https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern"
LIVE_SPEC = f"{_DOCS}/apis/waves/asyncapi/stt-live-ws.yaml"


def test_every_transcription_event_carries_full_transcript() -> None:
    """With ``full_transcript=true`` every transcription event, interims too, carries the cumulative text.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    ("When ``true``, every transcription event also carries a cumulative ``full_transcript``").
    """
    cfg = _config(full_transcript=True, language="en")
    interim = pulse.build_transcription(config=cfg, session_id="s", transcript="and then", is_final=False,
                                        full_transcript="Hello there.")
    final = pulse.build_transcription(config=cfg, session_id="s", transcript="And then.", is_final=True,
                                      full_transcript="Hello there. And then.")
    assert interim["full_transcript"] == "Hello there." and final["full_transcript"] == "Hello there. And then."
    (partial,) = pulse.parse(encode_json(interim))
    assert isinstance(partial, Partial) and partial.full_transcript == "Hello there."
    assert "full_transcript" in partial.to_dict()
    off = pulse.build_transcription(config=_config(language="en"), session_id="s", transcript="x", is_final=False,
                                    full_transcript="y")
    assert "full_transcript" not in off and pulse.parse(off)[0].full_transcript is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("language", "heard", "reported"), [
    ("north_indic", "hi", "hi"), ("north_indic", "en", "en"), ("multi-asian", "ja", "ja"),
    ("multi-south-indic", "ta", "ta"), ("multi-asian", "hi", "zh"), ("en", "hi", "en"), (None, "en", "en"),
])
def test_aggregator_finals_carry_the_detected_language(language: str | None, heard: str, reported: str) -> None:
    """An aggregator's finals report the detected code, never the aggregator's name; a pinned code is itself.

    https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format
    ("set to the specified language, or the detected language if ``language`` is set to a regional
    aggregator"); the aggregators' sets:
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/speech-to-text/features/language-detection.mdx
    """
    assert pulse.detected_language(language, heard=heard) == reported
    assert set(pulse.AGGREGATORS) >= {"north_indic", "multi-asian", "multi-south-indic"}


def test_aggregator_final_message_names_a_code() -> None:
    """A final built for ``language=north_indic`` carries ``language``/``languages`` codes, not ``north_indic``.

    https://docs.smallest.ai/models/documentation/speech-to-text-pulse/realtime-web-socket/response-format
    """
    msg = pulse.build_transcription(config=_config(language="north_indic"), session_id="s", transcript="namaste",
                                    is_final=True)
    assert msg["language"] == "en" and msg["languages"] == ["en"]
    interim = pulse.build_transcription(config=_config(language="north_indic"), session_id="s", transcript="n",
                                        is_final=False)
    assert "language" not in interim  # "Only returned when is_final=true"


def test_india_pinned_host_next_to_default_and_us() -> None:
    """``api.india.smallest.ai`` (Mumbai) and ``api.us.smallest.ai`` (Oregon) are the region-pinned hosts.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    (generated from the vendor's OpenAPI spec); the default host is ``api.smallest.ai`` (the AsyncAPI spec).
    """
    from voicelab.providers import get_provider

    assert pulse.HOSTS == {"india": "api.smallest.ai", "us": "api.us.smallest.ai",
                           "india_pinned": "api.india.smallest.ai"}
    url = pulse.build_url(params=EN, region="india_pinned")
    assert url == "wss://api.india.smallest.ai/waves/v1/stt/live?model=pulse&language=en"
    assert get_provider("pulse").hosts["india_pinned"] == "wss://api.india.smallest.ai"


@pytest.mark.parametrize(("region", "language", "fix"), [
    ("india_pinned", "ja", "region='us'"), ("india", "multi-asian", "region='us'"), ("us", "ta", "region='india'"),
])
def test_region_rules_hold_on_every_host_of_the_region(region: str, language: str, fix: str) -> None:
    """East Asian languages are US-only, South Indic India-only, whichever host of the region is used.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-16-pulse-stt-asian-languages-us-region.mdx,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/changelog-entries/pulse-stt/2026-06-29-pulse-stt-south-indic-languages.mdx
    """
    from voicelab.providers.pulse.handshake import explain_region

    with pytest.raises(ParameterError, match=fix):
        pulse.build_connect(api_key=KEY, params=PulseParams(language=language), region=region)
    exp = explain_region({"language": language}, region)
    assert exp is not None and fix in exp.fix
    cfg = pulse.accept_upgrade(path="/waves/v1/stt/live", query=f"model=pulse&language={language}",
                               headers={"Authorization": f"Bearer {KEY}"}, region=region)
    assert isinstance(cfg, PulseSessionConfig) and cfg.region_violation is not None


# ---------------------------------------------------------------- access tokens

TOKENS_DOC = ("https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/"
              "SmallestAI.IAuthClient.CreateAccessToken.g.cs")


def test_access_token_request_is_a_post_with_ttl_seconds_body() -> None:
    """``POST /waves/v1/auth/token``, Bearer API key, JSON ``{"ttl_seconds": 300}``; ttl 30-900.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    """
    req = pulse.build_token_request(api_key=KEY)
    assert req.method == "POST" and req.url.reveal() == "https://api.smallest.ai/waves/v1/auth/token"
    assert req.headers.reveal() == {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    assert req.body is not None and json.loads(req.body) == {"ttl_seconds": 300}
    assert KEY not in repr(req)
    us = pulse.build_token_request(api_key=KEY, ttl_seconds=30, region="us")
    assert us.url.reveal().startswith("https://api.us.smallest.ai/") and json.loads(us.body or b"") == {
        "ttl_seconds": 30}
    assert json.loads(pulse.build_token_request(api_key=KEY, ttl_seconds=None).body or b"") == {}
    for bad in (29, 901, 60.5, True):
        with pytest.raises(ParameterError, match="ttl_seconds"):
            pulse.build_token_request(api_key=KEY, ttl_seconds=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="only an API key"):
        pulse.build_token_request(api_key="wat_abc")


def test_access_token_response_fields() -> None:
    """The answer: ``access_token`` (``wat_…``), ``token_type`` ``Bearer``, ``expires_in``, ``expires_at``.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.Models.AccessTokenResponse.g.cs
    """
    token = pulse.parse_token_response(
        '{"access_token":"wat_abc","token_type":"Bearer","expires_in":300,"expires_at":"2026-11-30T12:05:00Z"}')
    assert (token.access_token, token.token_type, token.expires_in) == ("wat_abc", "Bearer", 300)
    assert "wat_abc" not in repr(token)
    with pytest.raises(MessageError):
        pulse.parse_token_response('{"token_type":"Bearer"}')


def test_token_endpoint_server_half_answers_as_documented() -> None:
    """200 with a ``wat_`` token; 400 for ttl outside 30-900; 401 without a key; 403 for a token minting.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.AuthClient.CreateAccessToken.g.cs
    """
    from datetime import UTC, datetime

    issuer = pulse.AccessTokenIssuer(api_keys=[KEY])
    wall = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    hdr = {"Authorization": f"Bearer {KEY}"}

    def ask(headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        return pulse.handle_token_request(issuer=issuer, headers=headers, body=body, now=10.0, wall_now=wall)

    status, body = ask(hdr, b'{"ttl_seconds": 60}')
    assert status == 200 and body["access_token"].startswith("wat_") and body["token_type"] == "Bearer"
    assert body["expires_in"] == 60 and body["expires_at"] == "2026-11-30T12:01:00Z"
    assert ask(hdr, b"")[1]["expires_in"] == 300  # "Defaults to 300 when omitted"
    status, err = ask(hdr, b'{"ttl_seconds": 901}')
    assert status == 400 and err["errors"][0]["path"] == ["ttl_seconds"]
    assert ask(hdr, b"not json")[0] == 400
    assert ask({}, b"{}") == (401, {"message": "Unauthorized: No tokens provided"})
    assert ask({"Authorization": "Bearer sk_wrong"}, b"{}") == (401, {"error": "unauthorized"})
    assert ask({"Authorization": f"Bearer {body['access_token']}"}, b"{}")[0] == 403
    assert issuer.check(body["access_token"], now=69.9) == "valid"
    assert issuer.check(body["access_token"], now=70.0) == "expired"
    assert issuer.check("wat_never", now=0.0) == "unknown"


def test_access_tokens_work_on_live_only_as_bearer_or_api_key() -> None:
    """Tokens go in ``Authorization: Bearer`` or ``api_key``, on ``WSS /waves/v1/stt/live`` only; reusable.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    ("Treat any route not listed as unavailable to tokens"; ``/waves/v1/pulse/get_text`` returns 403).
    """
    from datetime import UTC, datetime

    issuer = pulse.AccessTokenIssuer(api_keys=[KEY])
    token = issuer.mint(ttl_seconds=60, now=0.0, wall_now=datetime.now(UTC)).access_token

    def up(path: str, query: str = "model=pulse&language=en", headers: dict[str, str] | None = None,
           now: float = 1.0) -> PulseSessionConfig | HandshakeRejection:
        return pulse.accept_upgrade(path=path, query=query, headers=headers or {}, api_keys=[KEY], tokens=issuer,
                                    now=now)

    for _ in range(2):  # "works any number of times until it expires"
        cfg = up("/waves/v1/stt/live", headers={"Authorization": f"Bearer {token}"})
        assert isinstance(cfg, PulseSessionConfig) and cfg.access_token and cfg.auth_method == "bearer"
    cfg = up("/waves/v1/stt/live", query=f"model=pulse&language=en&api_key={token}")
    assert isinstance(cfg, PulseSessionConfig) and cfg.auth_method == "api_key"
    legacy = up("/waves/v1/pulse/get_text", query="", headers={"Authorization": f"Bearer {token}"})
    assert isinstance(legacy, HandshakeRejection) and legacy.status == 403
    in_token = up("/waves/v1/stt/live", query=f"model=pulse&language=en&token={token}")
    assert isinstance(in_token, HandshakeRejection) and in_token.status == 401
    expired = up("/waves/v1/stt/live", headers={"Authorization": f"Bearer {token}"}, now=60.0)
    assert isinstance(expired, HandshakeRejection) and expired.status == 401
    unknown = up("/waves/v1/stt/live", headers={"Authorization": "Bearer wat_unknown"})
    assert isinstance(unknown, HandshakeRejection) and unknown.status == 401
    assert "/waves/v1/stt/live" in pulse.explain_http_status(403).fix


def test_client_sends_tokens_only_where_they_work() -> None:
    """The client refuses what the service would refuse: a token on the legacy path or in ``?token=``.

    https://github.com/tryAGI/SmallestAI/blob/main/src/libs/SmallestAI/Generated/SmallestAI.IAuthClient.CreateAccessToken.g.cs
    """
    from voicelab.providers import DriverOptions, get_provider

    req = pulse.build_connect(api_key="wat_x", params=EN, auth="api_key")
    assert "api_key=wat_x" in req.url.reveal()
    with pytest.raises(ParameterError, match="stt/live only"):
        pulse.build_connect(api_key="wat_x", params=EN, endpoint="legacy")
    with pytest.raises(ParameterError, match="Bearer"):
        pulse.build_connect(api_key="wat_x", params=EN, auth="token")
    spec = get_provider("pulse")
    assert spec.token is not None and spec.token.path == "/waves/v1/auth/token" and spec.token.ttl_seconds == 300
    minted = spec.token.build_request(api_key=KEY, base_url="http://127.0.0.1:9", region=None, ttl_seconds=300)
    assert minted.url.reveal() == "http://127.0.0.1:9/waves/v1/auth/token" and minted.body == b'{"ttl_seconds":300}'
    assert spec.token.parse_response(b'{"access_token":"wat_1","token_type":"Bearer","expires_in":300,'
                                     b'"expires_at":"x"}') == "wat_1"
    assert spec.make_driver(DriverOptions(use_token=True)).use_token
    with pytest.raises(ParameterError):
        spec.make_driver(DriverOptions(use_token=True, endpoint="legacy"))
    with pytest.raises(ParameterError):
        spec.make_driver(DriverOptions(use_token=True, auth="token"))


# ---------------------------------------------------------------- language per path


def test_language_is_required_on_live_and_optional_on_legacy() -> None:
    """``required: [model, language]`` on ``/waves/v1/stt/live``; the legacy path has no explicit default.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/api-references/pulse-stt-ws.mdx
    """
    hdr = {"Authorization": f"Bearer {KEY}"}
    rej = pulse.accept_upgrade(path="/waves/v1/stt/live", query="model=pulse", headers=hdr, request_id="r")
    assert isinstance(rej, HandshakeRejection) and rej.status == 400
    assert rej.body["error"].startswith("Missing required query param: language") and rej.body["request_id"] == "r"
    assert rej.body["details"] == [{"param": "language"}]
    legacy = pulse.accept_upgrade(path="/waves/v1/pulse/get_text", headers=hdr)
    assert isinstance(legacy, PulseSessionConfig) and legacy.language is None
    with pytest.raises(ParameterError, match="required on /waves/v1/stt/live"):
        pulse.build_connect(api_key=KEY)
    assert pulse.build_connect(api_key=KEY, endpoint="legacy")  # the legacy path keeps it optional
    from voicelab.providers import DriverOptions, get_provider

    spec = get_provider("pulse")
    assert spec.make_driver(DriverOptions()).params["language"] == "en"  # voicelab's default
    assert spec.url("ws://h:1") == "ws://h:1/waves/v1/stt/live?model=pulse&language=en"


@pytest.mark.parametrize("language", ["multi-eu", "multi"])
def test_prerecorded_only_languages_are_refused_on_live(language: str) -> None:
    """``multi-eu`` is pre-recorded only; live's enum lists 21 codes and three streaming aggregators.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/speech-to-text/features/language-detection.mdx,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    hdr = {"Authorization": f"Bearer {KEY}"}
    rej = pulse.accept_upgrade(path="/waves/v1/stt/live", query=f"model=pulse&language={language}", headers=hdr)
    assert isinstance(rej, HandshakeRejection) and rej.status == 400 and rej.body["details"] == [
        {"param": "language"}]
    with pytest.raises(ParameterError, match="pre-recorded"):
        pulse.build_connect(api_key=KEY, params=PulseParams(language=language))
    legacy = pulse.accept_upgrade(path="/waves/v1/pulse/get_text", query=f"language={language}", headers=hdr)
    assert isinstance(legacy, PulseSessionConfig) and legacy.language == language
    assert len(pulse.LIVE_LANGUAGES) == 24


# ---------------------------------------------------------------- close codes


def test_1008_means_only_the_documented_concurrency_limit() -> None:
    """Close 1008 is "concurrency limit reached"; the emulator's own limits have their own explained codes.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    ("WebSocket close ``1008``: concurrency limit reached").
    """
    from voicelab.emulator.config import LIMIT_CLOSE_CODES
    from voicelab.providers import assemblyai_agent

    for code in (4001, 4002, 4003):  # both providers explain the emulator's own limit codes the same way
        assert pulse.explain_close(code) == assemblyai_agent.explain_close(code)
    codes = [*LIMIT_CLOSE_CODES.values(), pulse.CLOSE_REGION, pulse.CLOSE_INVALID_FRAME]
    assert len(set(codes)) == len(codes) and 1008 not in codes and pulse.CLOSE_CONCURRENCY == 1008
    words = {1009: "too big", 4001: "message rate", 4002: "session length", 4003: "idle",
             pulse.CLOSE_REGION: "region", pulse.CLOSE_INVALID_FRAME: "binary frames"}
    for code, word in words.items():
        exp = pulse.explain_close(code)
        assert word in str(exp) and "concurren" not in str(exp), code
    assert "concurrent" in str(pulse.explain_close(1008))


# ---------------------------------------------------------------- simulated features


def test_itn_turns_spoken_digits_into_numerals() -> None:
    """ITN: "``five five five one two three``" becomes digits (the spec's example); single words stay.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    (``itn_normalize``).
    """
    from voicelab.providers.pulse.textform import TextForm

    spans = TextForm(itn=True).apply("call five five five one two three four, then one more".split())
    assert " ".join(s.text for s in spans) == "call 5551234, then one more"
    assert (spans[1].first, spans[1].last) == (1, 7)
    assert [s.text for s in TextForm().apply("five five".split())] == ["five", "five"]


def test_redaction_placeholders_are_numbered_per_type() -> None:
    """PII phone numbers → ``[PHONENUMBER_N]``, PCI account numbers → ``[ACCOUNTNUMBER_N]``, from 1 per type.

    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/speech-to-text/features/redaction.mdx,
    https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
    """
    from voicelab.providers.pulse.textform import TextForm

    form = TextForm(pii=True, pci=True)
    text = "Call 555-1234 or five five five one two three four. Card 4111 1111 1111 1111, mail jo@x.io."
    spans = form.apply(text.split())
    out = " ".join(s.text for s in spans)
    assert out == "Call [PHONENUMBER_1] or [PHONENUMBER_2]. Card [ACCOUNTNUMBER_1], mail [EMAIL_1]."
    assert [s.entity for s in spans if s.entity] == ["[PHONENUMBER_1]", "[PHONENUMBER_2]", "[ACCOUNTNUMBER_1]",
                                                      "[EMAIL_1]"]
    preview = form.apply(["5551234"], commit=False)
    assert preview[0].entity == "[PHONENUMBER_3]" and form.apply(["5551234"])[0].entity == "[PHONENUMBER_3]"
    assert " ".join(s.text for s in TextForm(pci=True).apply(text.split())).startswith("Call 555-1234 or five")
