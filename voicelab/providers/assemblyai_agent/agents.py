"""Stored agents of the AssemblyAI Voice Agent API (``/v1/agents``), sans-I/O.

`AgentStore` keeps the agents created over REST and answers each endpoint as ``(status, body)``;
every method takes the current time (seconds since the epoch) and never reads a clock.
`AgentStore.session_config` turns a stored agent into the ``session`` configuration that a
WebSocket session bound with ``session.update {"agent_id": …}`` runs on: "the agent's stored
``system_prompt``, ``greeting``, ``tools``, ``input``, and ``output`` are applied server-side"
[VND] (https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md).

Sources [DOC]:

* endpoints, statuses (``POST`` 201, ``GET`` 200, ``PUT`` 200, ``DELETE`` 204) and auth:
  https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents
* request and response bodies (``voice: {"voice_id": …}``; ``input``/``output`` with
  ``"type": "audio"``; tools with an ``id``):
  https://www.assemblyai.com/docs/api-reference/voice-agent-api/create-agent
* the list: a bare array of ``{id, name, deleted_at, created_at, updated_at}``, newest first:
  https://www.assemblyai.com/docs/api-reference/voice-agent-api/list-agents
* only ``name``, ``system_prompt`` and ``voice`` are required; omitted ``input``/``output`` use
  PCM at 24 kHz: https://www.assemblyai.com/docs/voice-agents/voice-agent-api/create-agent

Choices where the docs are silent ([INF]):

* ``voice`` is accepted as ``{"voice_id": name}`` (the docs) or as a plain name (the skill
  reference [VND]); records always hold the object, and the bound session's ``output.voice`` is it.
* Omitted ``input``/``output`` are recorded as ``{"type": "audio", "format": {"encoding":
  "audio/pcm", "sample_rate": 24000}}``; ``input``, ``output`` and ``tools`` are checked with the
  ``session.update`` validator, and a failure is a ``422`` naming the field.
* Each stored tool gets an ``id`` (``tool_<hex>``). Fields beyond the session tool schema (an
  HTTP tool's ``http`` block) are stored and returned, but a bound session gets only the session
  schema: the emulator runs no HTTP tools, so the client receives ``tool.call`` for them.
* ``llm`` entries are stored without their write-only ``api_key``; unknown top-level fields are
  ignored (FastAPI's default); ``PUT`` replaces each top-level field it sends.
* Records carry ``created_at``/``updated_at``/``deleted_at`` like the list items; ``DELETE`` is a
  soft delete: the agent leaves the list, ``GET`` and ``PUT`` give 404, and it can no longer be bound.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from voicelab.protocols.errors import SessionConfigError
from voicelab.providers.assemblyai_agent.config import TOOL_FIELDS, validate_session
from voicelab.providers.assemblyai_agent.rest import RestReply, iso_time, not_found, validation_error

__all__ = ["AGENTS_PATH", "DEFAULT_MEDIA", "AgentStore"]

#: Where stored agents live (``/v1/agents/{agent_id}`` for one of them).
AGENTS_PATH = "/v1/agents"
#: ``input``/``output`` when the create body omits them ("PCM at 24 kHz") [DOC; the shape INF].
DEFAULT_MEDIA: dict[str, Any] = {"type": "audio", "format": {"encoding": "audio/pcm", "sample_rate": 24000}}
_REQUIRED = ("name", "system_prompt", "voice")
_FIELDS = ("name", "system_prompt", "voice", "greeting", "input", "output", "tools", "llm")


def _loc(param: str) -> list[str | int]:
    """``session.tools[0].name`` → ``["body", "tools", 0, "name"]`` (``output.voice`` → ``voice``)."""
    if param == "session.output.voice":
        return ["body", "voice"]
    loc: list[str | int] = ["body"]
    for part in param.removeprefix("session.").split("."):
        name, _, index = part.partition("[")
        loc.append(name)
        if index:
            loc.append(int(index.rstrip("]")))
    return loc


def _voice_id(voice: object) -> str | None:
    if isinstance(voice, str) and voice:
        return voice
    if isinstance(voice, Mapping) and isinstance(voice.get("voice_id"), str) and voice["voice_id"]:
        return str(voice["voice_id"])
    return None


def _session_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``session`` configuration a stored agent binds (session schema only)."""
    session: dict[str, Any] = {"system_prompt": record["system_prompt"]}
    if record.get("greeting"):
        session["greeting"] = record["greeting"]
    session["input"] = copy.deepcopy(record["input"])
    session["output"] = {**copy.deepcopy(record["output"]), "voice": record["voice"]["voice_id"]}
    session["tools"] = [{k: copy.deepcopy(v) for k, v in t.items() if k in TOOL_FIELDS} for t in record["tools"]]
    return session


class AgentStore:
    """The stored agents of one (emulated) account.

    Args:
        new_id: Makes agent ids (default: a UUID4, as in the docs' example).
    """

    def __init__(self, *, new_id: Callable[[], str] | None = None) -> None:
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
        self._agents: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"AgentStore(agents={len(self._live())})"

    def _live(self) -> list[dict[str, Any]]:
        return [a for a in self._agents.values() if a["deleted_at"] is None]

    def _find(self, agent_id: str) -> dict[str, Any] | None:
        agent = self._agents.get(agent_id)
        return agent if agent is not None and agent["deleted_at"] is None else None

    # ----------------------------------------------------------------- endpoints

    def create(self, body: object, *, now: float) -> RestReply:
        """``POST /v1/agents``: ``201`` with the full record, or ``422`` naming the bad field."""
        problem = self._check(body, partial=False)
        if problem is not None:
            return problem
        assert isinstance(body, Mapping)
        agent_id = self._new_id()
        record: dict[str, Any] = {
            "id": agent_id,
            "greeting": None,
            "input": copy.deepcopy(DEFAULT_MEDIA),
            "output": copy.deepcopy(DEFAULT_MEDIA),
            "tools": [],
            "llm": [],
            "created_at": now,
            "updated_at": now,
            "deleted_at": None,
        }
        self._apply(record, body)
        self._agents[agent_id] = record
        return 201, self._full(record)

    def list(self) -> RestReply:
        """``GET /v1/agents``: ``200`` with lightweight records, newest first."""
        agents = sorted(self._live(), key=lambda a: a["created_at"], reverse=True)
        return 200, [
            {
                "id": a["id"],
                "name": a["name"],
                "deleted_at": iso_time(a["deleted_at"]),
                "created_at": iso_time(a["created_at"]),
                "updated_at": iso_time(a["updated_at"]),
            }
            for a in agents
        ]

    def get(self, agent_id: str) -> RestReply:
        """``GET /v1/agents/{agent_id}``: ``200`` with the full record, or ``404``."""
        agent = self._find(agent_id)
        return (200, self._full(agent)) if agent is not None else not_found("Agent")

    def update(self, agent_id: str, body: object, *, now: float) -> RestReply:
        """``PUT /v1/agents/{agent_id}``: every field optional; ``200`` with the updated record."""
        agent = self._find(agent_id)
        if agent is None:
            return not_found("Agent")
        problem = self._check(body, partial=True, current=agent)
        if problem is not None:
            return problem
        assert isinstance(body, Mapping)
        self._apply(agent, body)
        agent["updated_at"] = now
        return 200, self._full(agent)

    def delete(self, agent_id: str, *, now: float) -> RestReply:
        """``DELETE /v1/agents/{agent_id}``: ``204`` with no body, or ``404``."""
        agent = self._find(agent_id)
        if agent is None:
            return not_found("Agent")
        agent["deleted_at"] = now
        return 204, None

    # ----------------------------------------------------------------- binding

    def session_config(self, agent_id: str) -> dict[str, Any] | None:
        """The ``session`` configuration a session bound to `agent_id` runs on (``None``: unknown)."""
        agent = self._find(agent_id)
        return _session_of(agent) if agent is not None else None

    # ----------------------------------------------------------------- helpers

    def _check(
        self, body: object, *, partial: bool, current: Mapping[str, Any] | None = None
    ) -> RestReply | None:
        if not isinstance(body, Mapping):
            return validation_error(["body"], "Input should be a JSON object", kind="model_type")
        if not partial:
            for name in _REQUIRED:
                if name not in body:
                    return validation_error(["body", name], "Field required", kind="missing")
        if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
            return validation_error(["body", "name"], "name must be a non-empty string")
        if "system_prompt" in body and not isinstance(body["system_prompt"], str):
            return validation_error(["body", "system_prompt"], "system_prompt must be a string")
        if "greeting" in body and body["greeting"] is not None and not isinstance(body["greeting"], str):
            return validation_error(["body", "greeting"], "greeting must be a string or null")
        if "voice" in body and _voice_id(body["voice"]) is None:
            return validation_error(["body", "voice"], 'voice must be {"voice_id": "<name>"}, e.g. {"voice_id": "ivy"}')
        for name, kind in (("input", Mapping), ("output", Mapping), ("tools", list), ("llm", list)):
            if name in body and not isinstance(body[name], kind):
                what = "an object" if kind is Mapping else "a list"
                return validation_error(["body", name], f"{name} must be {what}")
        for i, tool in enumerate(body.get("tools") or ()):
            if not isinstance(tool, Mapping):
                return validation_error(["body", "tools", i], "each tool must be an object")
        merged: dict[str, Any] = {
            "system_prompt": "",
            "input": DEFAULT_MEDIA,
            "output": DEFAULT_MEDIA,
            "voice": {"voice_id": "ivy"},
            "tools": [],
            **(current or {}),
        }
        merged.update({k: body[k] for k in _FIELDS if k in body and k not in ("llm", "name")})
        merged["voice"] = {"voice_id": _voice_id(merged["voice"])}
        try:
            validate_session(_session_of(merged))
        except SessionConfigError as exc:
            return validation_error(_loc(exc.param), str(exc))
        return None

    def _apply(self, record: dict[str, Any], body: Mapping[str, Any]) -> None:
        for name in _FIELDS:
            if name not in body:
                continue
            value = copy.deepcopy(body[name])
            if name == "voice":
                value = {"voice_id": _voice_id(value)}
            elif name == "tools":
                value = [{"id": t.get("id") or f"tool_{secrets.token_hex(8)}", **t} for t in value]
            elif name == "llm":
                value = [{k: v for k, v in e.items() if k != "api_key"} if isinstance(e, Mapping) else e for e in value]
            record[name] = value

    @staticmethod
    def _full(record: Mapping[str, Any]) -> dict[str, Any]:
        full = copy.deepcopy(dict(record))
        for key in ("created_at", "updated_at", "deleted_at"):
            full[key] = iso_time(record[key])
        return full
