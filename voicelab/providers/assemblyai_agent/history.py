"""The Voice Agent Sessions API (``/v1/sessions``) and each session's timeline, sans-I/O.

`SessionHistory` records the sessions a server ran and answers the Sessions API as ``(status,
body)``; `Timeline` collects one session's conversation turns as it runs. Every method takes the
current time (seconds since the epoch) and never reads a clock.

Sources [DOC]:

* https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-history: "Every connection
  to a voice agent is recorded as a session"; the list is newest first, without artifacts, filtered
  by ``status`` and ``agent_id``, paged with ``limit`` (1 to 200, default 50) and ``cursor``
  (``response_metadata.next_cursor`` while ``has_more``); a session adds ``config`` and
  ``artifacts``.
* https://www.assemblyai.com/docs/api-reference/voice-agent-api/list-sessions and
  https://www.assemblyai.com/docs/api-reference/voice-agent-api/get-session: ``id``, ``status``
  (e.g. ``completed``), ``agent_id`` (null without a stored agent), ``public_close_reason`` (e.g.
  ``client_end``), ``duration_seconds`` and ``ended_at`` (null while active), ``config``,
  ``created_at``, ``artifacts`` ("Recording, timeline, and metadata … Empty until the session
  completes").
* https://www.assemblyai.com/docs/api-reference/voice-agent-api/delete-session: "Soft-delete a
  session. Returns ``204`` with no body."

Choices where the docs are silent ([INF]; the shapes follow what third-party clients observed live):

* An active (or parked, resumable) session has ``status: "created"``; it completes when it ends:
  ``client_end`` after ``session.end``, ``session_expired`` at ``max_session_duration_seconds``,
  ``client_disconnected`` when a dropped session's resume window passes (its duration includes
  the billable window), ``server_error`` after an error close.
* Artifacts are ``{type, url, content_type}``. The emulator records no audio, so it produces one
  artifact, the ``timeline`` (``application/json``), whose URL needs no credentials (like a
  pre-signed URL) and does not expire; the ``audio`` and ``metadata`` artifacts are not produced.
* The timeline has ``session_id``, ``started_at_unix_ms``, ``turns`` and ``config_changes``
  (omitted when empty) and ``ended``. A turn has ``turn_id``, ``status``, ``trigger``
  (``greeting``, ``user_speech``, ``tool_result``, ``reply_create``) and, where they apply, the
  user's ``item_id``/``user_transcript`` and speech times, ``requested_instructions``, the agent's
  ``agent_text``, reply times, ``time_to_first_audio_ms``, ``interrupted_at_ms`` and
  ``tool_calls``; times are milliseconds since the session started. A user turn that ended during
  a ``hold`` tool has ``status: "suppressed"`` and no reply.
* A cursor is the id of the last session of the previous page; a bad ``limit`` or cursor is a 422.
"""

from __future__ import annotations

import copy
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicelab.providers.assemblyai_agent.rest import RestReply, iso_time, not_found, validation_error

__all__ = [
    "ARTIFACTS_PATH",
    "CLOSE_REASONS",
    "SESSIONS_PATH",
    "SessionHistory",
    "SessionRecord",
    "Timeline",
]

#: Where the Sessions API lives (``/v1/sessions/{session_id}`` for one session).
SESSIONS_PATH = "/v1/sessions"
#: Where the emulator serves artifacts (``{key}``: an unguessable key standing in for a pre-signed URL).
ARTIFACTS_PATH = "/v1/session-artifacts/{key}"
#: ``public_close_reason`` by how the session ended (``client_end`` [DOC]; the others [INF]).
CLOSE_REASONS: dict[str, str] = {
    "end": "client_end",
    "expired": "session_expired",
    "dropped": "client_disconnected",
    "error": "server_error",
}
LIMIT_RANGE = (1, 200)
DEFAULT_LIMIT = 50


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class Timeline:
    """The conversation turns of one session, as the Sessions API's ``timeline`` artifact shows them.

    Args:
        session_id: The session's id.
        started_at: When it started (seconds since the epoch).
    """

    def __init__(self, *, session_id: str, started_at: float) -> None:
        self.session_id = session_id
        self.started_at = started_at
        self.turns: list[dict[str, Any]] = []
        self.config_changes: list[dict[str, Any]] = []
        self.ended: dict[str, Any] | None = None
        self._heard: deque[dict[str, Any]] = deque()  # user turns not yet answered
        self._calls: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"Timeline(session_id={self.session_id!r}, turns={len(self.turns)})"

    def at(self, now: float) -> int:
        """Milliseconds since the session started."""
        return _ms(now - self.started_at)

    def user_turn(self, *, item_id: str, text: str, started_at: float | None, ended_at: float) -> None:
        """A finished user turn; the next ``user_speech`` turn (or `suppress`) takes it."""
        self._heard.append(
            {
                "item_id": item_id,
                "user_transcript": text,
                "user_speech_started_at_ms": self.at(started_at) if started_at is not None else None,
                "user_speech_ended_at_ms": self.at(ended_at),
            }
        )

    def begin(self, trigger: str, *, now: float, instructions: str | None = None) -> dict[str, Any]:
        """Open a turn (``greeting``, ``user_speech``, ``tool_result`` or ``reply_create``) and return it."""
        turn: dict[str, Any] = {"turn_id": f"turn_{len(self.turns) + 1:04d}", "status": "in_progress"}
        turn["trigger"] = trigger
        if trigger == "user_speech" and self._heard:
            turn.update(self._heard.popleft())
        if instructions is not None:
            turn["requested_instructions"] = instructions
        self.turns.append(turn)
        return turn

    def suppress(self, *, now: float) -> None:
        """The user turn that just ended gets no reply (it ended during a ``hold`` tool)."""
        heard = self._heard.pop() if self._heard else {}
        turn = {"turn_id": f"turn_{len(self.turns) + 1:04d}", "status": "suppressed", "trigger": "user_speech"}
        self.turns.append({**turn, **heard})

    def reply_started(self, turn: dict[str, Any], *, now: float) -> None:
        """The turn's reply started (``reply.started``)."""
        turn["agent_reply_started_at_ms"] = self.at(now)

    def first_audio(self, turn: dict[str, Any], *, now: float) -> None:
        """The turn's first ``reply.audio`` went out: time to first audio, from the user's turn end if any."""
        since = turn.get("user_speech_ended_at_ms", turn.get("agent_reply_started_at_ms"))
        if "time_to_first_audio_ms" not in turn and since is not None:
            turn["time_to_first_audio_ms"] = max(0, self.at(now) - since)

    def reply_done(self, turn: dict[str, Any], *, text: str, now: float, interrupted: bool = False) -> None:
        """The turn's reply ended: what the agent said, and whether the user interrupted it."""
        turn["agent_text"] = text
        turn["agent_reply_ended_at_ms"] = self.at(now)
        turn["status"] = "interrupted" if interrupted else "completed"
        if interrupted:
            turn["interrupted_at_ms"] = self.at(now)

    def finish(self, turn: dict[str, Any]) -> None:
        """Close a turn that ended without a reply of its own (a ``hold`` tool's turn)."""
        if turn["status"] == "in_progress":
            turn["status"] = "completed"

    def tool_call(
        self, turn: dict[str, Any], *, call_id: str, name: str, arguments: Mapping[str, Any], now: float
    ) -> None:
        """The turn dispatched a ``tool.call``."""
        call = {"call_id": call_id, "name": name, "arguments": dict(arguments), "dispatched_at_ms": self.at(now)}
        turn.setdefault("tool_calls", []).append(call)
        self._calls[call_id] = call

    def tool_result(self, call_id: str, *, result: str | None, now: float, timed_out: bool = False) -> None:
        """A ``tool.result`` arrived for `call_id` (or its ``timeout_seconds`` passed)."""
        call = self._calls.pop(call_id, None)
        if call is None:
            return
        call["result"] = result
        call["result_received_at_ms"] = None if timed_out else self.at(now)
        call["duration_ms"] = self.at(now) - call["dispatched_at_ms"]
        call["is_error"] = timed_out
        call["timed_out"] = timed_out

    def config_change(self, update: Mapping[str, Any], *, now: float) -> None:
        """A mid-session ``session.update`` was applied."""
        self.config_changes.append({"at_ms": self.at(now), "session": copy.deepcopy(dict(update))})

    def end(self, *, reason: str, public_reason: str, duration_seconds: float) -> None:
        """The session ended."""
        self.ended = {"reason": reason, "public_reason": public_reason, "duration_seconds": duration_seconds}

    def to_json(self) -> dict[str, Any]:
        """The ``timeline`` artifact (empty arrays omitted, as observed live)."""
        out: dict[str, Any] = {"session_id": self.session_id, "started_at_unix_ms": _ms(self.started_at)}
        if self.turns:
            out["turns"] = copy.deepcopy(self.turns)
        if self.config_changes:
            out["config_changes"] = copy.deepcopy(self.config_changes)
        out["ended"] = copy.deepcopy(self.ended)
        return out


@dataclass
class SessionRecord:
    """One session as the Sessions API knows it.

    Attributes:
        id: The session id (``sess_…``).
        agent_id: The stored agent it ran with, or ``None``.
        config: Its configuration when it started.
        created_at: When it started (seconds since the epoch).
        timeline: Its conversation turns.
        status: ``created`` while active (or resumable), then ``completed``.
        ended_at: When it ended, or ``None``.
        public_close_reason: Why it ended, or ``None``.
        closes_at: When a dropped session's resume window passes, or ``None``.
        deleted: Soft-deleted.
        artifact_key: The key of its timeline artifact's URL.
    """

    id: str
    agent_id: str | None
    config: dict[str, Any]
    created_at: float
    timeline: Timeline
    status: str = "created"
    ended_at: float | None = None
    public_close_reason: str | None = None
    closes_at: float | None = None
    deleted: bool = False
    artifact_key: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def duration_seconds(self) -> float | None:
        """Session length in seconds, ``None`` while active."""
        return None if self.ended_at is None else round(self.ended_at - self.created_at, 6)

    def summary(self) -> dict[str, Any]:
        """The list item."""
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "status": self.status,
            "public_close_reason": self.public_close_reason,
            "duration_seconds": self.duration_seconds,
            "created_at": iso_time(self.created_at),
            "ended_at": iso_time(self.ended_at),
        }


class SessionHistory:
    """The sessions one (emulated) account ran, newest first."""

    def __init__(self) -> None:
        self._records: dict[str, SessionRecord] = {}

    def __repr__(self) -> str:
        return f"SessionHistory(sessions={len(self._records)})"

    # ----------------------------------------------------------------- recording

    def start(self, session_id: str, *, agent_id: str | None, config: Mapping[str, Any], now: float) -> SessionRecord:
        """A session became ready; a resumed one is active again (its record and timeline go on)."""
        record = self._records.get(session_id)
        if record is not None:
            record.status, record.ended_at, record.public_close_reason, record.closes_at = "created", None, None, None
            return record
        record = SessionRecord(
            id=session_id,
            agent_id=agent_id,
            config=copy.deepcopy(dict(config)),
            created_at=now,
            timeline=Timeline(session_id=session_id, started_at=now),
        )
        self._records[session_id] = record
        return record

    def end(self, session_id: str, *, how: str, now: float) -> None:
        """The session ended (`how`: a key of `CLOSE_REASONS`)."""
        record = self._records.get(session_id)
        if record is None or record.status == "completed":
            return
        record.status, record.ended_at, record.closes_at = "completed", now, None
        record.public_close_reason = CLOSE_REASONS.get(how, how)
        reason = {"end": "user_initiated", "dropped": "participant_disconnected"}.get(how, how)
        record.timeline.end(
            reason=reason, public_reason=record.public_close_reason, duration_seconds=record.duration_seconds or 0.0
        )

    def dropped(self, session_id: str, *, now: float, grace_seconds: float) -> None:
        """The connection dropped; the session completes when its resume window passes unused."""
        record = self._records.get(session_id)
        if record is not None and record.status != "completed":
            record.closes_at = now + grace_seconds

    def timeline(self, session_id: str) -> Timeline | None:
        """The timeline of a recorded session."""
        record = self._records.get(session_id)
        return record.timeline if record is not None else None

    def _refresh(self, now: float) -> None:
        for record in self._records.values():
            if record.closes_at is not None and record.closes_at <= now:
                self.end(record.id, how="dropped", now=record.closes_at)

    def _visible(self, session_id: str, now: float) -> SessionRecord | None:
        self._refresh(now)
        record = self._records.get(session_id)
        return record if record is not None and not record.deleted else None

    # ----------------------------------------------------------------- endpoints

    def list(self, query: Mapping[str, str], *, now: float) -> RestReply:
        """``GET /v1/sessions``: a page of sessions, newest first, without artifacts."""
        self._refresh(now)
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not LIMIT_RANGE[0] <= limit <= LIMIT_RANGE[1]:
            return validation_error(["query", "limit"], "limit must be an integer from 1 to 200")
        records = sorted(
            (r for r in self._records.values() if not r.deleted),
            key=lambda r: r.created_at,
            reverse=True,
        )
        if "status" in query:
            records = [r for r in records if r.status == query["status"]]
        if "agent_id" in query:
            records = [r for r in records if r.agent_id == query["agent_id"]]
        cursor = query.get("cursor")
        if cursor:
            ids = [r.id for r in records]
            if cursor not in ids:
                return validation_error(["query", "cursor"], "unknown cursor; pass response_metadata.next_cursor")
            records = records[ids.index(cursor) + 1 :]
        page, more = records[:limit], len(records) > limit
        return 200, {
            "sessions": [r.summary() for r in page],
            "has_more": more,
            "response_metadata": {"next_cursor": page[-1].id if more else None},
        }

    def get(self, session_id: str, *, now: float, base_url: str) -> RestReply:
        """``GET /v1/sessions/{session_id}``: the full session with its artifacts.

        Args:
            session_id: The session.
            now: Current time.
            base_url: The server's HTTP base URL, for artifact URLs.
        """
        record = self._visible(session_id, now)
        if record is None:
            return not_found("Session")
        body = record.summary()
        body["config"] = copy.deepcopy(record.config)
        body["artifacts"] = []
        if record.status == "completed":
            url = base_url.rstrip("/") + ARTIFACTS_PATH.replace("{key}", record.artifact_key)
            body["artifacts"].append({"type": "timeline", "url": url, "content_type": "application/json"})
        return 200, body

    def delete(self, session_id: str, *, now: float) -> RestReply:
        """``DELETE /v1/sessions/{session_id}``: soft-delete; ``204`` with no body."""
        record = self._visible(session_id, now)
        if record is None:
            return not_found("Session")
        record.deleted = True
        return 204, None

    def artifact(self, key: str, *, now: float) -> RestReply:
        """The artifact behind an artifact URL (no credentials needed, like a pre-signed URL)."""
        self._refresh(now)
        for record in self._records.values():
            if record.artifact_key == key and not record.deleted and record.status == "completed":
                return 200, record.timeline.to_json()
        return not_found("Artifact")
