"""What the Voice Agent REST APIs (``/v1/agents``, ``/v1/sessions``) share: auth and error bodies.

Both APIs take the API key in ``Authorization``, raw or with a ``Bearer`` prefix, and refuse a
request with ``401 {"detail": "Unauthorized"}`` or ``401 {"detail": "Missing authorization
header"}`` [DOC] (https://www.assemblyai.com/docs/voice-agents/voice-agent-api/manage-agents,
https://www.assemblyai.com/docs/voice-agents/voice-agent-api/session-history).

Choices where the docs are silent ([INF]): validation errors are ``422`` with a FastAPI-style
``{"detail": [{"loc", "msg", "type"}]}`` (the ``{"detail": …}`` shape of the documented 401s; a
third-party probe saw 422 for an invalid voice); an unknown id is ``404 {"detail": "… not found"}``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from voicelab.protocols.wire import bearer_token, lower_headers

__all__ = ["RestReply", "check_rest_auth", "iso_time", "not_found", "validation_error"]

#: A REST answer: ``(status, body)``; the body is a JSON value, or ``None`` for no body (``204``).
RestReply = tuple[int, Any]


def check_rest_auth(headers: Mapping[str, str] | None, *, api_keys: Collection[str] | None) -> RestReply | None:
    """Check a REST request's ``Authorization`` header (raw key or ``Bearer <key>``).

    Args:
        headers: The request headers.
        api_keys: Accepted keys; ``None`` accepts any non-empty key.

    Returns:
        ``None`` when the key is accepted, else the ``401`` answer.
    """
    value = lower_headers(headers).get("authorization")
    if value is None or not value.strip():
        return 401, {"detail": "Missing authorization header"}
    _, key = bearer_token(value)
    if not key or (api_keys is not None and key not in api_keys):
        return 401, {"detail": "Unauthorized"}
    return None


def validation_error(loc: Sequence[str | int], message: str, *, kind: str = "value_error") -> RestReply:
    """A ``422`` answer naming the offending field (``loc``, e.g. ``["body", "voice"]``) [INF]."""
    return 422, {"detail": [{"loc": list(loc), "msg": message, "type": kind}]}


def not_found(what: str) -> RestReply:
    """A ``404`` answer for an unknown (or deleted) id [INF]."""
    return 404, {"detail": f"{what} not found"}


def iso_time(when: float | None) -> str | None:
    """Seconds since the epoch as ISO-8601 UTC with a ``Z`` (``None`` stays ``None``)."""
    if when is None:
        return None
    return datetime.fromtimestamp(when, tz=UTC).isoformat().replace("+00:00", "Z")
