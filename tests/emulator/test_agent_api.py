"""The Voice Agent's REST APIs beside the socket, on a real emulator: stored agents and the Sessions API.

Clients are written the way AssemblyAI's docs write them: plain HTTP with the key in ``Authorization``
(raw or ``Bearer``) and JSON bodies; a plain ``websockets`` client that binds a stored agent with
``session.update {"agent_id": …}``. Also the first-update error codes and the published payloads (issue 15,
items 10 and 11), end to end.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import voicelab.emulator as emulator
from tests.emulator.test_agent_server import collapse, connect, run, types

FIXTURES = Path(__file__).resolve().parents[1] / "protocols" / "fixtures" / "assemblyai_agent"
HOLD_WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "execution_mode": "hold",
}


@pytest.fixture(scope="module")
def server():
    with emulator.serve(engine="sphinx", announce=False) as running:
        yield running


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def http(
    server: Any, method: str, path: str, body: Any = None, *, auth: str | None = "raw", url: str | None = None
) -> tuple[int, Any]:
    """One REST call as the docs' cURL examples make it; returns the status and the decoded body (``None``: none)."""
    headers = {"Content-Type": "application/json"}
    if auth == "raw":
        headers["Authorization"] = server.api_key
    elif auth == "bearer":
        headers["Authorization"] = f"Bearer {server.api_key}"
    elif auth is not None:
        headers["Authorization"] = auth
    data = None if body is None else json.dumps(body).encode()
    target = url or "http" + server.url.removeprefix("ws") + path
    req = urllib.request.Request(target, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    return status, (json.loads(raw) if raw else None)


# --------------------------------------------------------------------------- stored agents (item 10)


def test_agents_api_create_get_list_over_http(server):
    """``POST /v1/agents`` 201 with the full record and a generated ``id``; ``GET /v1/agents`` a lightweight array,
    newest first; ``GET /v1/agents/{id}`` the record; the key raw or with ``Bearer``; 401 ``{"detail": …}`` otherwise.

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/create-agent;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/list-agents
    """
    status, first = http(server, "POST", "/v1/agents", fixture("create_agent_guide.json")["body"])
    assert status == 201 and first["id"] and first["voice"] == {"voice_id": "ivy"}
    assert first["greeting"] == "Hi, how can I help?" and first["created_at"].endswith("Z")
    status, second = http(server, "POST", "/v1/agents", fixture("create_agent_skill.json")["body"], auth="bearer")
    assert status == 201 and second["name"] == "Support Bot"
    status, listed = http(server, "GET", "/v1/agents")
    mine = [a for a in listed if a["id"] in (first["id"], second["id"])]
    assert status == 200 and [a["id"] for a in mine] == [second["id"], first["id"]]
    assert set(mine[0]) == {"id", "name", "deleted_at", "created_at", "updated_at"}
    assert http(server, "GET", f"/v1/agents/{first['id']}") == (200, first)
    assert http(server, "GET", "/v1/agents", auth=None) == (401, {"detail": "Missing authorization header"})
    assert http(server, "GET", "/v1/agents", auth="wrong-key") == (401, {"detail": "Unauthorized"})
    status, problem = http(server, "POST", "/v1/agents", {"name": "x", "system_prompt": "y"})
    assert status == 422 and problem["detail"][0]["loc"] == ["body", "voice"]
    assert http(server, "GET", "/v1/agents/no-such-agent")[0] == 404
    assert http(server, "PATCH", f"/v1/agents/{first['id']}", {})[0] == 405
    assert http(server, "DELETE", f"/v1/agents/{second['id']}") == (204, None)
    assert http(server, "GET", f"/v1/agents/{second['id']}")[0] == 404


def test_session_update_agent_id_runs_the_stored_agents_greeting_prompt_and_tools(server):
    """``session.update {"agent_id": …}``: the stored greeting is spoken and the stored tools are callable; the
    Sessions API then lists the session with its ``agent_id``, its config and a timeline artifact, and DELETE
    soft-deletes it.

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md;
    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-history;
    https://www.assemblyai.com/docs/api-reference/voice-agent-api/get-session
    """
    body = {
        "name": "Weather desk",
        "system_prompt": "You report the weather.",
        "greeting": "Weather desk, hello.",
        "voice": {"voice_id": "james"},
        "tools": [HOLD_WEATHER],
    }
    status, agent_record = http(server, "POST", "/v1/agents", body)
    assert status == 201
    binding = fixture("stored_agent_binding.json")["message"]
    binding["session"]["agent_id"] = agent_record["id"]

    async def main() -> str:
        agent = await connect(server, first=binding)
        ready = agent.events[await agent.wait_for("session.ready")]
        greeted = await agent.wait_for("reply.done", timeout=20)
        assert [e for e in agent.events if e["type"] == "session.error"] == []
        assert agent.of("transcript.agent")[0]["text"] == "Weather desk, hello."
        await agent.send({"type": "reply.create", "instructions": "Check the weather in Paris."})
        call_at = await agent.wait_for("tool.call", start=greeted, timeout=20)
        call = agent.events[call_at]
        await agent.send({"type": "tool.result", "call_id": call["call_id"], "result": json.dumps({"temp_c": 22})})
        done = await agent.wait_for("reply.done", start=call_at, timeout=20)
        assert collapse(types(agent.events[greeted + 1 : done + 1])) == [
            "tool.call",  # a hold tool, as stored: no reply.started until its result
            "reply.started",
            "reply.audio",
            "transcript.agent",
            "reply.done",
        ]
        await agent.send({"type": "session.end"})
        await agent.wait_for("session.ended")
        await agent.wait_closed()
        return str(ready["session_id"])

    session_id = run(main())
    status, page = http(server, "GET", f"/v1/sessions?agent_id={agent_record['id']}")
    assert status == 200 and [s["id"] for s in page["sessions"]] == [session_id]
    listed = page["sessions"][0]
    assert listed["status"] == "completed" and listed["public_close_reason"] == "client_end"
    assert listed["agent_id"] == agent_record["id"] and listed["duration_seconds"] > 0
    assert page["has_more"] is False and page["response_metadata"] == {"next_cursor": None}
    status, full = http(server, "GET", f"/v1/sessions/{session_id}", auth="bearer")
    assert status == 200 and full["config"]["greeting"] == "Weather desk, hello."
    assert full["config"]["output"]["voice"] == "james" and full["ended_at"].endswith("Z")
    (artifact,) = full["artifacts"]
    assert artifact["type"] == "timeline" and artifact["content_type"] == "application/json"
    status, timeline = http(server, "GET", "", auth=None, url=artifact["url"])  # pre-signed: no credentials
    assert status == 200 and timeline["session_id"] == session_id
    assert [t["trigger"] for t in timeline["turns"]] == ["greeting", "reply_create", "tool_result"]
    assert timeline["turns"][0]["agent_text"] == "Weather desk, hello."
    assert timeline["turns"][1]["tool_calls"][0]["name"] == "get_weather"
    assert timeline["turns"][2]["agent_text"] == "Here is the weather in Paris: temp c 22."
    assert timeline["ended"]["public_reason"] == "client_end"
    assert http(server, "DELETE", f"/v1/sessions/{session_id}") == (204, None)
    assert http(server, "GET", f"/v1/sessions/{session_id}")[0] == 404
    assert http(server, "GET", "/v1/sessions", auth=None)[0] == 401


# --------------------------------------------------------------------------- first-update error codes (item 11)


@pytest.mark.parametrize(
    ("session", "code"),
    [
        ({"greeting": "Hi there.", "output": {"voice": "sam"}}, "invalid_value"),  # a voice removed in June 2026
        ({"greeting": "Hi there.", "output": {"volume": "loud"}}, "invalid_value"),  # a field of the wrong type
        ({"greeting": "Hi there.", "output": {"volume": 150}}, "invalid_config"),  # a validation error
    ],
)
def test_first_update_errors_use_the_documented_codes(server, session, code):
    """A bad voice or field type on the first ``session.update`` is ``invalid_value``, a validation error
    ``invalid_config`` (not always ``invalid_format``); the socket stays open and the session runs on defaults.

    https://github.com/AssemblyAI/assemblyai-skill/blob/main/skills/assemblyai/references/voice-agents.md
    """

    async def main() -> None:
        agent = await connect(server, session)
        await agent.wait_for("session.ready")
        error = agent.of("session.error")[0]
        assert error["code"] == code and error["param"].startswith("session.output.")
        await agent.send({"type": "reply.create", "instructions": "Say: defaults."})  # still open, no greeting
        await agent.wait_for("reply.done", timeout=20)
        assert [t["text"] for t in agent.of("transcript.agent")] == ["Defaults."]
        await agent.stop()

    run(main())


def test_tool_calling_page_example_is_accepted_with_its_greeting(server):
    """The tool-calling page's ``session.update`` (``"output": {"type": "audio", "voice": "ivy"}``) gets no error:
    its greeting is spoken, so its configuration applied.

    https://www.assemblyai.com/docs/voice-agents/voice-agent-api/tools/client-side-tools
    """

    async def main() -> None:
        agent = await connect(server, first=fixture("client_side_tools.json")["message"])
        await agent.wait_for("reply.done", timeout=20)
        await agent.stop()
        assert not agent.of("session.error")
        assert agent.of("transcript.agent")[0]["text"] == "Hi! Ask me about the weather."

    run(main())
