r"""A scripted, deterministic brain for the emulated voice agent (no LLM, no randomness).

`Brain.respond` turns a final user transcript into a `Plan`: `Say` (text for TTS) or
`CallTool` (a ``tool.call`` the server sends; the reply continues with
`Brain.tool_result` once the client's ``tool.result`` arrives). Rules are tried in order;
the first that matches wins. With no match the agent repeats what it heard::

    brain = Brain.from_session(session, rules=[
        Rule(pattern=r"weather in (?P<location>[\w .'-]+)", tool="get_weather",
             then="It is {temp_c} degrees in {location}."),
    ])
    plan = brain.respond("What's the weather in Tokyo?")   # CallTool("get_weather", {"location": "Tokyo"})
    brain.tool_result(plan.call_id, '{"temp_c": 22}')       # Say("It is 22 degrees in Tokyo.")

Tools must be declared by the session (``session.tools``): a rule naming an undeclared tool makes
the agent *say* that it cannot call it instead of emitting ``tool.call``, as the real agent can
only call declared tools. An extracted argument is renamed to the tool's only parameter when the
names differ (``location`` → ``city``), and missing required parameters are asked for.
"""

from __future__ import annotations

import json
import logging
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from voicelab.providers.assemblyai_agent.emulator.errors import AgentOptionError, BrainError

__all__ = [
    "DEFAULT_RULES",
    "Brain",
    "CallTool",
    "Plan",
    "Rule",
    "Say",
]

logger = logging.getLogger("voicelab.providers.assemblyai_agent.emulator")


@dataclass(frozen=True)
class Say:
    """Speak `text` (the whole reply)."""

    text: str


@dataclass(frozen=True)
class CallTool:
    """Call a declared tool, then continue with `Brain.tool_result`.

    Attributes:
        call_id: Deterministic id (``call_0001`` …) for ``tool.call`` / ``tool.result``.
        name: The tool's name.
        arguments: The ``tool.call`` ``arguments`` object.
        then: Template for the follow-up reply (see `Rule.then`).
        filler: What an ``interactive`` tool's reply says while the tool runs; ``None`` for ``hold`` tools.
        execution_mode: ``"interactive"`` or ``"hold"``, from the tool's declaration.
        timeout_seconds: The declaration's ``timeout_seconds`` (default 120).
    """

    call_id: str
    name: str
    arguments: dict[str, Any]
    then: str
    filler: str | None = "One moment, let me check."
    execution_mode: str = "interactive"
    timeout_seconds: float = 120.0


Plan: TypeAlias = Say | CallTool


@dataclass(frozen=True)
class Rule:
    """One scripted behaviour: when the utterance matches, say something or call a tool.

    Exactly one of `pattern` and `keywords` selects utterances; exactly one of `say` and `tool` is
    the action. Templates use `str.format` fields: ``{text}`` (the utterance), the pattern's named
    groups, and in `then` also the tool's arguments, ``{result}`` (the raw result string) and, when
    the result is a JSON object, its top-level keys (``{temp_c}``).

    Attributes:
        pattern: A regular expression searched case-insensitively in the utterance.
        keywords: Words that must all occur in the utterance (case-insensitive, whole words).
        say: Reply template.
        tool: Name of a tool to call.
        arguments: Argument templates; ``None`` passes the pattern's named groups as arguments.
        then: Template for the reply after the tool result.
    """

    pattern: str | None = None
    keywords: tuple[str, ...] = ()
    say: str | None = None
    tool: str | None = None
    arguments: Mapping[str, str] | None = None
    then: str = "The {tool} tool returned {result}."
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.pattern is None) == (not self.keywords):
            raise AgentOptionError(
                f"Rule(pattern={self.pattern!r}, keywords={self.keywords!r}) needs exactly one of pattern or keywords"
            )
        if (self.say is None) == (self.tool is None):
            raise AgentOptionError(
                f"Rule(say={self.say!r}, tool={self.tool!r}) needs exactly one of say (a reply) or tool (a name)"
            )
        text = self.pattern if self.pattern is not None else r"\b" + r"\b.*\b".join(map(re.escape, self.keywords))
        try:
            regex = re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise AgentOptionError(f"Rule pattern {self.pattern!r} is not a valid regular expression: {exc}") from exc
        object.__setattr__(self, "_regex", regex)

    def match(self, text: str) -> dict[str, str] | None:
        """Named groups (stripped, trailing punctuation removed) if the rule matches `text`, else ``None``."""
        if self.keywords:
            low = text.lower()
            if not all(re.search(rf"\b{re.escape(k.lower())}\b", low) for k in self.keywords):
                return None
            return {}
        assert self._regex is not None
        m = self._regex.search(text)
        if m is None:
            return None
        return {k: v.strip().rstrip("?.!,;:").strip() for k, v in m.groupdict().items() if v is not None}


#: Rules used when `Brain` gets ``rules=None``: a weather tool and a greeting reply.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        pattern=r"weather (?:like )?in (?P<location>[A-Za-z][\w .'-]*)",
        tool="get_weather",
        then="Here is the weather in {location}: {result}.",
    ),
    Rule(pattern=r"^\W*(?:hello|hi|hey)\b", say="Hello! I am the voicelab test agent. Ask me anything."),
)


#: ``reply.create`` instructions that dictate the words: ``Say: …``, ``Tell the user …``.
_SAY = re.compile(r"^(?:please\s+)?(?:say|tell (?:them|the user|the customer|the caller))\b[\s:,]*(.+)$", re.IGNORECASE)


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def _render(template: str, values: Mapping[str, Any]) -> str | None:
    try:
        return string.Formatter().vformat(template, (), _SafeDict(values))
    except (KeyError, IndexError, AttributeError, ValueError):
        return None


def _compact(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {_compact(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_compact(v) for v in value)
    return str(value)


class Brain:
    """Decides what the emulated agent says; one instance per session (it numbers tool calls).

    Args:
        rules: Rules tried in order; ``None`` uses `DEFAULT_RULES`, ``[]`` only echoes.
        tools: The session's declared tools (``session.tools``, flat schema).
        instructions: The session's ``system_prompt`` (kept for reference; the brain is scripted).
        greeting: The session's ``greeting``, spoken word for word by `greet`.
    """

    def __init__(
        self,
        *,
        rules: Sequence[Rule] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        instructions: str | None = None,
        greeting: str | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = DEFAULT_RULES if rules is None else tuple(rules)
        for r in self.rules:
            if not isinstance(r, Rule):
                raise AgentOptionError(
                    f"rules contains {r!r}; pass voicelab.providers.assemblyai_agent.emulator.Rule objects")
        self.tools: dict[str, Mapping[str, Any]] = {}
        self.set_tools(tools or ())
        self.instructions = instructions
        self.greeting = greeting
        self._calls = 0
        self._pending: dict[str, tuple[CallTool, dict[str, Any]]] = {}

    @classmethod
    def from_session(cls, session: Mapping[str, Any], *, rules: Sequence[Rule] | None = None) -> Brain:
        """Build a brain from an applied ``session.update`` body (tools, system_prompt, greeting)."""
        return cls(
            rules=rules,
            tools=session.get("tools"),
            instructions=session.get("system_prompt"),
            greeting=session.get("greeting"),
        )

    def set_tools(self, tools: Sequence[Mapping[str, Any]]) -> None:
        """Replace the declared tools (a mid-session ``tools`` update replaces the whole list)."""
        declared: dict[str, Mapping[str, Any]] = {}
        for t in tools:
            name = t.get("name") if isinstance(t, Mapping) else None
            if not isinstance(name, str) or not name:
                raise AgentOptionError(f"tool {t!r} has no name; declare tools as {{'name': ..., 'parameters': ...}}")
            declared[name] = t
        self.tools = declared

    def greet(self) -> Say | None:
        """The greeting to speak at session start, or ``None`` when none is configured."""
        return Say(self.greeting) if self.greeting else None

    @property
    def pending_calls(self) -> tuple[str, ...]:
        """``call_id`` s of tool calls still waiting for a result, oldest first."""
        return tuple(self._pending)

    def respond(self, user_text: str) -> Plan:
        """Decide the reply to a final user transcript.

        Args:
            user_text: The ``transcript.user`` text.

        Returns:
            `Say` or `CallTool`.
        """
        text = " ".join(user_text.split())
        for rule in self.rules:
            groups = rule.match(text)
            if groups is None:
                continue
            values: dict[str, Any] = {"text": text, **groups}
            if rule.say is not None:
                said = _render(rule.say, values)
                if said is not None:
                    return Say(said)
                continue
            assert rule.tool is not None
            return self._call(rule, values, groups)
        return self.default_answer(text)

    def default_answer(self, text: str) -> Say:
        """The reply when no rule matches: what was heard, plus one sentence."""
        if not text:
            return Say("I did not catch that. Could you say it again?")
        return Say(f'You said: "{text}". I am a scripted test agent.')

    def _call(self, rule: Rule, values: dict[str, Any], groups: dict[str, str]) -> Plan:
        name = rule.tool
        assert name is not None
        decl = self.tools.get(name)
        if decl is None:
            logger.info("rule wants tool %r, which this session did not declare; saying so", name)
            return Say(f"I would use the {name} tool for that, but this session did not declare it.")
        if rule.arguments is None:
            args: dict[str, Any] = dict(groups)
        else:
            args = {}
            for key, tmpl in rule.arguments.items():
                rendered = _render(tmpl, values)
                if rendered is None:
                    raise AgentOptionError(
                        f"Rule argument {key}={tmpl!r} uses a field the pattern does not capture; "
                        f"available: {sorted(values)}"
                    )
                args[key] = rendered
        params = decl.get("parameters")
        props = params.get("properties", {}) if isinstance(params, Mapping) else {}
        required = [r for r in (params.get("required", []) if isinstance(params, Mapping) else []) if r in props]
        if isinstance(props, Mapping) and len(props) == 1 and len(args) == 1:
            (only,) = props
            args = {only: next(iter(args.values()))}
        missing = [r for r in required if r not in args]
        if missing:
            return Say(f"To use {name} I need the {' and '.join(missing)}. Could you tell me?")
        self._calls += 1
        mode = str(decl.get("execution_mode", "interactive"))
        call = CallTool(
            call_id=f"call_{self._calls:04d}",
            name=name,
            arguments=args,
            then=rule.then,
            filler=None if mode == "hold" else "One moment, let me check.",
            execution_mode=mode,
            timeout_seconds=float(decl.get("timeout_seconds", 120)),
        )
        self._pending[call.call_id] = (call, {**values, **args, "tool": name})
        return call

    def tool_result(self, call_id: str, result_json: str) -> Say:
        """Continue after a ``tool.result``: the follow-up reply, built from the result.

        Args:
            call_id: The ``call_id`` of the `CallTool`.
            result_json: The ``tool.result`` ``result`` string (JSON; plain text is used as is).

        Returns:
            `Say` with the rule's `then` template filled in (or a generic sentence if it cannot be).

        Raises:
            BrainError: `call_id` is not pending (never issued, already answered or discarded).
        """
        entry = self._pending.pop(call_id, None)
        if entry is None:
            raise BrainError(
                f"call_id={call_id!r} is not a pending tool call (pending: {list(self._pending)}); "
                "send tool.result once per tool.call, with its call_id"
            )
        call, values = entry
        try:
            parsed: Any = json.loads(result_json)
        except (TypeError, ValueError):
            parsed = result_json
        fields = dict(values)
        fields["result"] = _compact(parsed)
        if isinstance(parsed, Mapping):
            fields.update({str(k): v for k, v in parsed.items() if str(k).isidentifier()})
        said = _render(call.then, fields)
        if said is None:
            said = f"The {call.name} tool returned {_compact(parsed)}."
        return Say(said)

    def tool_timeout(self, call_id: str) -> Say:
        """The reply when a tool's ``timeout_seconds`` passes without a result (the call is dropped)."""
        call = self._pending.pop(call_id, None)
        name = call[0].name if call else "the"
        return Say(f"Sorry, the {name} tool did not answer in time.")

    def discard_pending(self) -> list[str]:
        """Forget every pending tool call (an interrupted ``reply.done`` discards pending results).

        Returns:
            The discarded ``call_id`` s.
        """
        dropped = list(self._pending)
        self._pending.clear()
        return dropped

    def plan_instruction(self, instructions: str | None) -> Plan:
        """The reply to ``reply.create`` outside a hold: a tool call when the instructions ask for one.

        Instructions matching a rule that calls a *declared* tool give that `CallTool` (an LLM agent
        may call a tool from one-shot instructions [INF]); anything else is `respond_to_instruction`.

        Args:
            instructions: The ``reply.create`` ``instructions``, if any.
        """
        text = " ".join((instructions or "").split())
        for rule in () if _SAY.match(text) else self.rules:
            if rule.tool is None or rule.tool not in self.tools:
                continue
            groups = rule.match(text)
            if groups is not None:
                return self._call(rule, {"text": text, **groups}, groups)
        return self.respond_to_instruction(instructions)

    def respond_to_instruction(self, instructions: str | None) -> Say:
        """A one-shot reply for ``reply.create``.

        ``Say "X"`` / ``Tell the user X`` speaks X; any other instruction is acknowledged as a status
        update; no instruction gives a prompt for the user.

        Args:
            instructions: The ``reply.create`` ``instructions``, if any.
        """
        if not instructions or not instructions.strip():
            return Say("Is there anything else I can help you with?")
        text = " ".join(instructions.split())
        m = _SAY.match(text)
        if m:
            said = m.group(1).strip().strip("\"'“”").strip()
            return Say(said[0].upper() + said[1:] if said else "Okay.")
        return Say(f"Just a quick update: {text.rstrip('.')}.")
