"""The emulated voice agent's pure parts: espeak-ng speech, the scripted brain, the echo check."""

from __future__ import annotations

import ctypes
import json
import shutil

import numpy as np
import pytest

from voicelab.audio.g711 import alaw_to_int16, mulaw_to_int16
from voicelab.providers.assemblyai_agent.emulator import (
    AgentOptionError,
    Brain,
    BrainError,
    CallTool,
    EspeakSynthesizer,
    Rule,
    Say,
    SyntheticSynthesizer,
    chunk_speech,
    detect_echo,
    espeak_voice,
    get_synthesizer,
    spoken_text,
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)

SENTENCE = "The weather in Tokyo is sunny and warm today."
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get weather for a city. Call when the user asks about weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def espeak() -> EspeakSynthesizer:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakSynthesizer()


# ----------------------------------------------------------------------------- speech


@needs_espeak
def test_espeak_speech_is_24k_plausible_and_audible(espeak):
    speech = espeak.synthesize(SENTENCE, voice="ivy")
    n_words = len(SENTENCE.split())
    assert speech.samplerate == 24000
    assert speech.pcm.dtype == np.int16 and speech.pcm.ndim == 1
    assert 0.2 * n_words <= speech.duration <= 0.8 * n_words
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(speech.to_float() ** 2)))
    assert rms_dbfs > -35
    assert speech.engine.startswith("espeak-ng") and "en-us+f3" in speech.engine
    assert [w.word for w in speech.words] == SENTENCE.split()
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and speech.words[-1].end <= speech.duration + 1e-9


@needs_espeak
def test_espeak_cache_returns_same_object_and_voices_differ(espeak):
    a = espeak.synthesize("Cache me.", voice="james")
    assert espeak.synthesize("Cache me.", voice="james") is a
    b = espeak.synthesize("Cache me.", voice="ivy")
    assert b is not a and not np.array_equal(a.pcm[: len(b.pcm)], b.pcm[: len(a.pcm)])


def test_voice_map_is_deterministic_with_default():
    assert espeak_voice("ivy") == espeak_voice("IVY ") == "en-us+f3"
    assert espeak_voice("james") == "en-us+m3"
    assert espeak_voice(None) == espeak_voice("no-such-voice") == "en-us+f3"


@needs_espeak
def test_chunks_are_50ms_and_cover_every_sample(espeak):
    speech = espeak.synthesize(SENTENCE)
    chunks = chunk_speech(speech)
    assert all(len(c) == 2400 for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 2400
    assert b"".join(chunks) == speech.to_bytes()
    assert len(b"".join(chunks)) == 2 * len(speech.pcm)


@needs_espeak
def test_telephony_encoding_is_8k_g711(espeak):
    speech = espeak.synthesize("Hello from the phone line.")
    chunks = chunk_speech(speech, encoding="audio/pcmu")
    assert all(len(c) == 400 for c in chunks[:-1])
    data = b"".join(chunks)
    assert abs(len(data) - len(speech.pcm) / 3) <= 2
    decoded = mulaw_to_int16(data).astype(np.float32) / 32768
    assert np.sqrt(np.mean(decoded**2)) > 0.01
    alaw = b"".join(chunk_speech(speech, encoding="audio/pcma"))
    assert len(alaw) == len(data) and alaw != data
    assert np.abs(alaw_to_int16(alaw).astype(np.int32) - mulaw_to_int16(data)).mean() < 200  # the same audio
    with pytest.raises(AgentOptionError, match="audio/pcm"):
        chunk_speech(speech, encoding="linear16")


@needs_espeak
def test_spoken_text_at_half_duration_is_a_word_prefix(espeak):
    speech = espeak.synthesize(SENTENCE)
    half = spoken_text(speech, speech.duration / 2)
    words = SENTENCE.split()
    got = half.split()
    assert 0 < len(got) < len(words)
    assert got == words[: len(got)]
    assert spoken_text(speech, 0.0) == ""
    assert spoken_text(speech, speech.duration) == SENTENCE


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


def _espeak_word_starts(text: str, voice: str) -> list[tuple[int, float]]:
    """(character index, start seconds) of each word event from libespeak-ng's synchronous API."""
    try:
        lib = ctypes.CDLL("libespeak-ng.so.1")
    except OSError:
        pytest.skip("libespeak-ng.so.1 is not loadable; cannot read espeak-ng's own word events")
    rate = lib.espeak_Initialize(2, 500, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
    events: list[tuple[int, float]] = []
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))

    def on_synth(wav, n, evs):
        i = 0
        while evs[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            if evs[i].type == 1:  # espeakEVENT_WORD
                events.append((evs[i].text_position - 1, evs[i].sample / rate))
            i += 1
        return 0

    cb = callback_type(on_synth)
    lib.espeak_SetSynthCallback(cb)
    lib.espeak_SetVoiceByName(voice.encode())
    lib.espeak_SetParameter(1, 175, 0)  # espeakRATE
    raw = text.encode()
    lib.espeak_Synth(ctypes.c_char_p(raw), len(raw) + 1, 0, 1, 0, 1, None, None)  # POS_CHARACTER, UTF-8
    lib.espeak_Synchronize()
    return events


@needs_espeak
def test_estimated_word_starts_against_espeak_word_events(espeak):
    """Measures the timing estimate's error against espeak-ng's own word boundaries (ASCII text)."""
    text = "You said: what is the weather in Paris. I am a scripted test agent, nothing more."
    speech = espeak.synthesize(text, voice="ivy")
    truth = _espeak_word_starts(text, espeak_voice("ivy"))
    first: dict[int, float] = {}
    for pos, t in truth:
        for k, w in enumerate(speech.words):
            if w.char_start <= pos < w.char_end:
                first.setdefault(k, t)
    assert len(first) >= len(speech.words) - 2
    errors = np.array([speech.words[k].start - t for k, t in first.items()])
    print(f"word-start error: mean |e| {np.abs(errors).mean():.3f} s, max {np.abs(errors).max():.3f} s")
    assert np.abs(errors).mean() < 0.2
    assert np.abs(errors).max() < 0.45


def test_synthetic_fallback_is_labelled_and_follows_text():
    synth = SyntheticSynthesizer()
    short = synth.synthesize("Hi.")
    long = synth.synthesize("This reply has quite a lot more words in it than the other one.")
    assert long.engine == "synthetic (espeak-ng not installed)"
    assert long.samplerate == 24000 and long.timing == "exact"
    assert np.abs(long.pcm).max() > 1000
    assert long.duration > 3 * short.duration
    assert spoken_text(long, long.words[2].end) == "This reply has"
    assert synth.synthesize("   ").duration == 0.0


def test_get_synthesizer_choice_follows_espeak_presence():
    synth = get_synthesizer()
    if shutil.which("espeak-ng"):
        assert isinstance(synth, EspeakSynthesizer)
    else:
        assert isinstance(synth, SyntheticSynthesizer)
    assert isinstance(get_synthesizer(prefer="synthetic"), SyntheticSynthesizer)
    with pytest.raises(AgentOptionError, match="prefer"):
        get_synthesizer(prefer="festival")


def test_chunk_options_are_validated():
    speech = SyntheticSynthesizer().synthesize("one two")
    with pytest.raises(AgentOptionError, match="chunk_seconds"):
        chunk_speech(speech, chunk_seconds=0)
    chunks = chunk_speech(speech, chunk_seconds=0.02)
    assert len(chunks[0]) == 960


# ----------------------------------------------------------------------------- brain


def test_default_answer_repeats_the_user():
    plan = Brain(rules=[]).respond("  tell me   something  interesting ")
    assert isinstance(plan, Say)
    assert '"tell me something interesting"' in plan.text


def test_rule_extracts_tool_arguments_and_result_is_used():
    brain = Brain(
        rules=[Rule(pattern=r"weather in (?P<location>\w+)", tool="get_weather", then="{temp_c} degrees in {city}.")],
        tools=[WEATHER_TOOL],
    )
    plan = brain.respond("What's the weather in Tokyo today?")
    assert isinstance(plan, CallTool)
    assert plan.name == "get_weather"
    assert plan.arguments == {"city": "Tokyo"}  # renamed to the tool's only parameter
    assert plan.filler and plan.execution_mode == "interactive"
    assert brain.pending_calls == (plan.call_id,)
    follow = brain.tool_result(plan.call_id, json.dumps({"temp_c": 22, "sky": "sunny"}))
    assert follow == Say("22 degrees in Tokyo.")
    assert brain.pending_calls == ()
    with pytest.raises(BrainError, match=plan.call_id):
        brain.tool_result(plan.call_id, "{}")


def test_default_weather_rule_and_generic_result_sentence():
    brain = Brain(tools=[{**WEATHER_TOOL, "execution_mode": "hold"}])
    plan = brain.respond("what is the weather like in New York?")
    assert isinstance(plan, CallTool) and plan.arguments == {"city": "New York"}
    assert plan.filler is None and plan.execution_mode == "hold"
    said = brain.tool_result(plan.call_id, '{"temp_c": 18, "sky": "cloudy"}')
    assert "New York" in said.text and "18" in said.text and "cloudy" in said.text


def test_undeclared_tool_is_not_called():
    rule = Rule(keywords=("book", "table"), tool="book_table")
    brain = Brain(rules=[rule], tools=[WEATHER_TOOL])
    plan = brain.respond("Please book a table for two")
    assert isinstance(plan, Say)
    assert "book_table" in plan.text and "did not declare" in plan.text
    assert brain.pending_calls == ()
    assert isinstance(Brain(rules=[rule]).respond("book a table"), Say)


def test_missing_required_argument_is_asked_for():
    tool = {**WEATHER_TOOL, "parameters": {**WEATHER_TOOL["parameters"], "properties": {"city": {}, "unit": {}}}}
    brain = Brain(rules=[Rule(keywords=("weather",), tool="get_weather")], tools=[tool])
    plan = brain.respond("how is the weather")
    assert isinstance(plan, Say) and "city" in plan.text


def test_say_rule_template_and_rule_validation():
    brain = Brain(rules=[Rule(pattern=r"my name is (?P<name>\w+)", say="Nice to meet you, {name}.")])
    assert brain.respond("Hi, my name is Ada.") == Say("Nice to meet you, Ada.")
    with pytest.raises(AgentOptionError, match="exactly one of pattern"):
        Rule(say="x")
    with pytest.raises(AgentOptionError, match="regular expression"):
        Rule(pattern="(", say="x")


def test_brain_is_deterministic():
    def run() -> list[object]:
        brain = Brain(tools=[WEATHER_TOOL], greeting="Hi, how can I help?")
        out: list[object] = [brain.greet()]
        for text in ["hello", "weather in Oslo", "something else", "weather in Lima"]:
            out.append(brain.respond(text))
        return out

    first, second = run(), run()
    assert first == second
    assert first[0] == Say("Hi, how can I help?")
    calls = [p.call_id for p in first if isinstance(p, CallTool)]
    assert calls == ["call_0001", "call_0002"]


def test_from_session_greeting_instructions_and_discard():
    session = {"system_prompt": "Be brief.", "greeting": "Hello there.", "tools": [WEATHER_TOOL]}
    brain = Brain.from_session(session)
    assert brain.greet() == Say("Hello there.") and brain.instructions == "Be brief."
    assert Brain().greet() is None
    assert brain.respond_to_instruction('Say "Still working on it."') == Say("Still working on it.")
    upd = brain.respond_to_instruction("Let the customer know we're still processing.")
    assert "still processing" in upd.text
    plan = brain.respond("weather in Rome")
    assert isinstance(plan, CallTool)
    assert brain.discard_pending() == [plan.call_id]
    with pytest.raises(BrainError):
        brain.tool_result(plan.call_id, "{}")


# ----------------------------------------------------------------------------- echo


def _float(speech) -> np.ndarray:
    return speech.to_float()


@needs_espeak
def test_delayed_attenuated_agent_speech_is_echo(espeak):
    agent = _float(espeak.synthesize("I can help you with the weather and your calendar.", voice="ivy"))
    delay = round(0.120 * 24000)
    gain = 10 ** (-10 / 20)
    mic = np.concatenate([np.zeros(delay, np.float32), agent * gain])[: len(agent)]
    rng = np.random.default_rng(0)
    mic = mic + rng.normal(0, 1e-3, len(mic)).astype(np.float32)
    check = detect_echo(agent, mic)
    assert check.is_echo
    assert check.score > 0.8
    assert abs(check.lag_seconds - 0.120) < 0.002


@needs_espeak
def test_unrelated_speech_is_not_echo(espeak):
    agent = _float(espeak.synthesize("I can help you with the weather and your calendar.", voice="ivy"))
    user = _float(espeak.synthesize("Actually I wanted to ask about my order number.", voice="james"))
    check = detect_echo(agent, user)
    assert not check.is_echo
    assert check.score < 0.35


def test_echo_of_a_later_window_uses_offset_and_silence_is_not_echo():
    synth = SyntheticSynthesizer()
    agent = _float(synth.synthesize("one two three four five six seven"))
    start = round(1.0 * 24000)
    window = agent[start - round(0.2 * 24000) : start - round(0.2 * 24000) + 12000] * 0.3
    check = detect_echo(agent, window, captured_offset_seconds=1.0)
    assert check.is_echo and abs(check.lag_seconds - 0.2) < 0.002
    assert not detect_echo(agent, np.zeros(12000, np.float32)).is_echo
    with pytest.raises(AgentOptionError, match="1-D"):
        detect_echo(agent, np.zeros((2, 100)))
