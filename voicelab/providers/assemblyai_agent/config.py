"""The AssemblyAI Voice Agent ``session.update`` body: build, validate, merge.

Sources: the session-configuration page
https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-configuration
and AssemblyAI's skill reference (fields, defaults, voices, mutability)
https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md

Validation raises `SessionConfigError` naming the field path (``session.output.volume``), the
bad value and the allowed values, with the ``session.error`` code a server would send. The codes
follow the error table of AssemblyAI's skill reference [VND]: a bad voice or a field of the wrong
JSON type is ``invalid_value``; a well-typed value that fails validation (out of range, not one of
the choices, inconsistent with another field) is ``invalid_config``; an unknown field is a schema
failure, ``invalid_format`` [INF: the table files "validation failure" under both].

Every published ``session.update`` example validates, including the ``"type": "audio"`` that the
tool-calling page and the agents API reference put in ``input`` and ``output``
(https://www.assemblyai.com/docs/voice-agents/voice-agent-api/tools/client-side-tools,
https://www.assemblyai.com/docs/api-reference/voice-agent-api/create-agent).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from voicelab.protocols.errors import SessionConfigError

__all__ = [
    "AUDIO_ENCODINGS",
    "DEFAULT_VOICE",
    "DOCUMENTED_VOICES",
    "ENCODING_RATES",
    "IMMUTABLE_FIELDS",
    "MAX_GREETING_CHARS",
    "MAX_INSTRUCTIONS_CHARS",
    "MAX_SYSTEM_PROMPT_CHARS",
    "MEDIA_TYPES",
    "REMOVED_VOICES",
    "TOOL_FIELDS",
    "changed_immutable_fields",
    "check_text_length",
    "make_session",
    "merge_session",
    "validate_session",
]

#: Wire encoding → (voicelab encoding, sample rate) [DOC]:
#: https://www.assemblyai.com/docs/voice-agents/voice-agent-api/audio-format
ENCODING_RATES: dict[str, tuple[str, int]] = {
    "audio/pcm": ("linear16", 24000),
    "audio/pcmu": ("mulaw", 8000),
    "audio/pcma": ("alaw", 8000),
}
AUDIO_ENCODINGS: tuple[str, ...] = tuple(ENCODING_RATES)
DEFAULT_VOICE = "ivy"
DOCUMENTED_VOICES: tuple[str, ...] = tuple(
    "ivy james tyler winter bella david kyle helen martha river emma victor eleanor arjun dmitri pierre "
    "giulia luca lucia mateo diego".split()
)
REMOVED_VOICES: frozenset[str] = frozenset(
    "sam mia jack sophie oliver ethan mei lukas lena mina joon ren hana".split()
)
#: Fields that cannot change after ``session.ready`` [DOC: the events reference; VND: the skill reference].
IMMUTABLE_FIELDS: tuple[str, ...] = ("agent_id", "greeting", "output.voice", "output.format")

_TOP = ("agent_id", "system_prompt", "greeting", "input", "output", "tools")
_INPUT = (
    "type",
    "format",
    "keyterms",
    "turn_detection",
    "transcription_prompt",
    "voice_focus",
    "voice_focus_threshold",
    "continuous_partials",
)
_TURN = ("vad_threshold", "min_silence", "max_silence", "interrupt_response", "type", "interruption_delay")
_OUTPUT = ("type", "voice", "format", "volume")
#: The only ``input.type`` / ``output.type`` the docs show [DOC].
MEDIA_TYPES: tuple[str, ...] = ("audio",)
_TOOL = ("type", "name", "description", "parameters", "execution_mode", "timeout_seconds")
#: The fields of a ``session.tools`` entry [DOC].
TOOL_FIELDS: tuple[str, ...] = _TOOL
MAX_KEYTERMS = 100
#: Longest ``greeting``, in characters. It is spoken word for word (4,000 characters are about four
#: minutes of speech at 175 words per minute, ~11 MB of 24 kHz PCM). AssemblyAI documents no limit [UNK];
#: voicelab's validation and the emulator answer a longer greeting with ``session.error``
#: ``invalid_value`` [INF], so a pasted document cannot stall the agent's speech engine.
MAX_GREETING_CHARS = 4_000
#: Longest ``system_prompt`` (the agent's instructions), in characters; ``invalid_value`` beyond [INF].
MAX_SYSTEM_PROMPT_CHARS = 100_000
#: Longest ``reply.create`` ``instructions``, in characters (spoken when they dictate the words) [INF].
MAX_INSTRUCTIONS_CHARS = MAX_GREETING_CHARS


def _fail(
    path: str,
    value: object,
    allowed: Iterable[object] | str,
    *,
    hint: str | None = None,
    code: str = "invalid_config",
) -> NoReturn:
    raise SessionConfigError(param=path, value=value, allowed=allowed, hint=hint, code=code)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_number(path: str, value: object, lo: float, hi: float | None, allowed: str) -> None:
    """A number in [lo, hi]: another JSON type is ``invalid_value``, out of range ``invalid_config``."""
    if not _is_number(value):
        _fail(path, value, allowed, code="invalid_value")
    assert isinstance(value, int | float)
    if value < lo or (hi is not None and value > hi):
        _fail(path, value, allowed)


def _check_choice(path: str, value: object, choices: Sequence[str]) -> None:
    """One of `choices`: a non-string is ``invalid_value``, an unknown string ``invalid_config``."""
    if not isinstance(value, str):
        _fail(path, value, choices, code="invalid_value")
    if value not in choices:
        _fail(path, value, choices)


def _check_keys(path: str, obj: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in obj:
        if key not in allowed:
            hint = None
            if path == "session" and key == "llm":
                hint = "a custom LLM is only allowed on stored agents (POST /v1/agents), then pass agent_id"
            if path == "session" and key == "turn_detection":
                hint = "turn_detection moved under session.input"
            if path == "session.output" and key == "voice_id":
                hint = "use output.voice as a string"
            _fail(f"{path}.{key}", obj[key], allowed, hint=hint, code="invalid_format")


def _check_format(path: str, fmt: object) -> None:
    if not isinstance(fmt, Mapping):
        _fail(path, fmt, "an object such as {'encoding': 'audio/pcm'}", code="invalid_value")
    _check_keys(path, fmt, ("encoding", "sample_rate"))
    encoding = fmt.get("encoding", "audio/pcm")
    _check_choice(f"{path}.encoding", encoding, AUDIO_ENCODINGS)
    rate = fmt.get("sample_rate")
    if rate is not None:
        implied = ENCODING_RATES[encoding][1]
        if not _is_number(rate):
            _fail(f"{path}.sample_rate", rate, (implied,), code="invalid_value")
        if rate != implied:
            _fail(f"{path}.sample_rate", rate, (implied,), hint=f"{encoding} implies {implied} Hz")


def _check_tools(tools: object) -> None:
    if not isinstance(tools, list):
        _fail("session.tools", tools, "a list of tool objects", code="invalid_value")
    for i, tool in enumerate(tools):
        path = f"session.tools[{i}]"
        if not isinstance(tool, Mapping):
            _fail(path, tool, "an object with type, name, description, parameters", code="invalid_value")
        if "function" in tool:
            _fail(
                f"{path}.function",
                "<object>",
                _TOOL,
                code="invalid_format",
                hint="the schema is flat: put name, description and parameters on the tool itself",
            )
        _check_keys(path, tool, _TOOL)
        _check_choice(f"{path}.type", tool.get("type", "function"), ("function",))
        name = tool.get("name")
        if not isinstance(name, str):
            _fail(f"{path}.name", name, "a non-empty string", code="invalid_value")
        if not name:
            _fail(f"{path}.name", name, "a non-empty string")
        if "description" in tool and not isinstance(tool["description"], str):
            _fail(f"{path}.description", tool["description"], "a string", code="invalid_value")
        if "parameters" in tool and not isinstance(tool["parameters"], Mapping):
            _fail(f"{path}.parameters", tool["parameters"], "a JSON-schema object", code="invalid_value")
        _check_choice(f"{path}.execution_mode", tool.get("execution_mode", "interactive"), ("interactive", "hold"))
        _check_number(
            f"{path}.timeout_seconds", tool.get("timeout_seconds", 120), 1, 300, "a number of seconds from 1 to 300"
        )


def check_text_length(path: str, value: object, limit: int) -> str:
    """A string of at most ``limit`` characters; anything else is ``invalid_value``.

    Args:
        path: The field, for the message (``session.greeting``).
        value: The field's value.
        limit: Most characters allowed (`MAX_GREETING_CHARS`, `MAX_SYSTEM_PROMPT_CHARS`, `MAX_INSTRUCTIONS_CHARS`).

    Returns:
        ``value``.

    Raises:
        SessionConfigError: Not a string, or longer than ``limit`` (code ``invalid_value``; the message
            gives the length, never the text).
    """
    if not isinstance(value, str):
        _fail(path, value, "a string", code="invalid_value")
    if len(value) > limit:
        _fail(path, f"<{len(value):,} characters>", f"a string of at most {limit:,} characters", code="invalid_value",
              hint="shorten it (the limit is voicelab's; the vendor documents none)")
    return value


def validate_session(
    session: Mapping[str, Any],
    *,
    first: bool = True,
    voices: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Validate a ``session.update`` body.

    Args:
        session: The ``session`` object.
        first: Whether this is the first update of the connection (``agent_id`` is only allowed then).
        voices: Accepted voice names; ``None`` accepts any non-empty name not in `REMOVED_VOICES`.

    Returns:
        A deep copy of the session, unchanged.

    Raises:
        SessionConfigError: A field is invalid; ``code`` is the server's ``session.error`` code.
    """
    if not isinstance(session, Mapping):
        _fail("session", session, "an object", code="invalid_format")
    _check_keys("session", session, _TOP)
    if "agent_id" in session:
        if len(session) != 1:
            others = sorted(k for k in session if k != "agent_id")
            _fail(
                "session.agent_id",
                session["agent_id"],
                "agent_id alone",
                hint=f"agent_id binds a stored agent and cannot be combined with {others}",
            )
        if not first:
            _fail(
                "session.agent_id",
                session["agent_id"],
                "only in the first session.update",
                code="immutable_field",
            )
        if not isinstance(session["agent_id"], str):
            _fail("session.agent_id", session["agent_id"], "a non-empty string", code="invalid_value")
        if not session["agent_id"]:
            _fail("session.agent_id", session["agent_id"], "a non-empty string")
    for key, limit in (("system_prompt", MAX_SYSTEM_PROMPT_CHARS), ("greeting", MAX_GREETING_CHARS)):
        if key in session:
            check_text_length(f"session.{key}", session[key], limit)
    inp = session.get("input")
    if inp is not None:
        if not isinstance(inp, Mapping):
            _fail("session.input", inp, "an object", code="invalid_value")
        _check_keys("session.input", inp, _INPUT)
        if "type" in inp:
            _check_choice("session.input.type", inp["type"], MEDIA_TYPES)
        if "format" in inp:
            _check_format("session.input.format", inp["format"])
        if "keyterms" in inp:
            terms = inp["keyterms"]
            if not isinstance(terms, list) or not all(isinstance(t, str) and t for t in terms):
                _fail("session.input.keyterms", terms, "a list of non-empty strings", code="invalid_value")
            elif len(terms) > MAX_KEYTERMS:
                _fail("session.input.keyterms", f"<{len(terms)} terms>", f"at most {MAX_KEYTERMS} terms")
        if "voice_focus" in inp:
            _check_choice("session.input.voice_focus", inp["voice_focus"], ("near-field", "far-field"))
        td = inp.get("turn_detection")
        if td is not None:
            if not isinstance(td, Mapping):
                _fail("session.input.turn_detection", td, "an object", code="invalid_value")
            _check_keys("session.input.turn_detection", td, _TURN)
            _check_number(
                "session.input.turn_detection.vad_threshold", td.get("vad_threshold", 0.5), 0, 1, "a number from 0 to 1"
            )
            for key in ("min_silence", "max_silence"):
                if key in td:
                    _check_number(f"session.input.turn_detection.{key}", td[key], 0, None, "milliseconds >= 0")
            lo, hi = td.get("min_silence", 1000), td.get("max_silence", 3000)
            if _is_number(lo) and _is_number(hi) and lo > hi:
                _fail("session.input.turn_detection.min_silence", lo, f"at most max_silence ({hi})")
            if "interrupt_response" in td and not isinstance(td["interrupt_response"], bool):
                _fail(
                    "session.input.turn_detection.interrupt_response",
                    td["interrupt_response"],
                    (True, False),
                    code="invalid_value",
                )
            if "type" in td:
                _check_choice("session.input.turn_detection.type", td["type"], ("server_vad",))
    out = session.get("output")
    if out is not None:
        if not isinstance(out, Mapping):
            _fail("session.output", out, "an object", code="invalid_value")
        _check_keys("session.output", out, _OUTPUT)
        if "type" in out:
            _check_choice("session.output.type", out["type"], MEDIA_TYPES)
        if "voice" in out:
            voice = out["voice"]
            if isinstance(voice, Mapping):
                _fail(
                    "session.output.voice",
                    "<object>",
                    "a voice name string",
                    code="invalid_value",
                    hint="voice.voice_id objects belong to the REST agents API",
                )
            if not isinstance(voice, str) or not voice:
                _fail("session.output.voice", voice, "a voice name", code="invalid_value")
            elif voice in REMOVED_VOICES or (voices is not None and voice not in voices):
                _fail(
                    "session.output.voice",
                    voice,
                    voices or DOCUMENTED_VOICES,
                    code="invalid_value",
                    hint="check GET /v1/voices for the current catalog",
                )
        if "format" in out:
            _check_format("session.output.format", out["format"])
        if "volume" in out:
            _check_number("session.output.volume", out["volume"], 0, 100, "a number from 0 to 100")
    if "tools" in session:
        _check_tools(session["tools"])
    return copy.deepcopy(dict(session))


def make_session(
    *,
    system_prompt: str | None = None,
    greeting: str | None = None,
    voice: str | None = None,
    input_encoding: str | None = None,
    output_encoding: str | None = None,
    keyterms: Sequence[str] | None = None,
    vad_threshold: float | None = None,
    min_silence: float | None = None,
    max_silence: float | None = None,
    interrupt_response: bool | None = None,
    volume: float | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    agent_id: str | None = None,
) -> dict[str, Any]:
    """Build and validate a ``session`` object from keyword arguments; ``None`` fields are omitted.

    Silences are in **seconds** here (voicelab style) and sent as milliseconds on the wire.

    Args:
        system_prompt: The agent's instructions.
        greeting: Spoken word for word at the start (immutable after ready).
        voice: Output voice name (immutable after ready).
        input_encoding: ``audio/pcm`` (24 kHz PCM16), ``audio/pcmu`` or ``audio/pcma``.
        output_encoding: As ``input_encoding`` (immutable after ready).
        keyterms: Up to 100 terms to boost.
        vad_threshold: 0-1.
        min_silence: Seconds of silence before a turn may end.
        max_silence: Seconds of silence after which a turn ends.
        interrupt_response: False disables barge-in.
        volume: Output volume 0-100.
        tools: Flat tool definitions.
        agent_id: A stored agent (must be the only field).

    Returns:
        The validated ``session`` dict.
    """
    session: dict[str, Any] = {}
    if agent_id is not None:
        session["agent_id"] = agent_id
    if system_prompt is not None:
        session["system_prompt"] = system_prompt
    if greeting is not None:
        session["greeting"] = greeting
    inp: dict[str, Any] = {}
    if input_encoding is not None:
        inp["format"] = {"encoding": input_encoding}
    if keyterms is not None:
        inp["keyterms"] = list(keyterms)
    td: dict[str, Any] = {}
    if vad_threshold is not None:
        td["vad_threshold"] = vad_threshold
    if min_silence is not None:
        td["min_silence"] = round(min_silence * 1000)
    if max_silence is not None:
        td["max_silence"] = round(max_silence * 1000)
    if interrupt_response is not None:
        td["interrupt_response"] = interrupt_response
    if td:
        inp["turn_detection"] = td
    if inp:
        session["input"] = inp
    out: dict[str, Any] = {}
    if voice is not None:
        out["voice"] = voice
    if output_encoding is not None:
        out["format"] = {"encoding": output_encoding}
    if volume is not None:
        out["volume"] = volume
    if out:
        session["output"] = out
    if tools is not None:
        session["tools"] = [dict(t) for t in tools]
    return validate_session(session)


def _get(obj: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def changed_immutable_fields(current: Mapping[str, Any], update: Mapping[str, Any]) -> list[str]:
    """List the immutable fields (greeting, output voice/format, agent_id) an update would change.

    Args:
        current: The applied session.
        update: The requested mid-session update.

    Returns:
        Dotted field names, e.g. ``["greeting", "output.voice"]``.
    """
    changed = []
    for name in IMMUTABLE_FIELDS:
        new = _get(update, name)
        if new is not None and new != _get(current, name):
            changed.append(name)
    return changed


def merge_session(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Apply an update: nested objects merge, ``tools`` (and other lists) are replaced.

    Args:
        current: The applied session.
        update: The update.

    Returns:
        A new merged session.
    """
    merged = copy.deepcopy(dict(current))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_session(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
