"""AssemblyAI Voice Agent API (``wss://agents.assemblyai.com/v1/ws``), sans-I/O.

Client half: `build_connect` (Bearer header or ``?token=``), `build_token_request` /
`parse_token_response`, the client events (`session_update`, `session_resume`, `input_audio`,
`tool_result`, `reply_create`, `session_end`), `make_session` / `validate_session`, `parse`
(server events → voicelab events), `explain_close` / `closed`.
Server half (for the emulator): `accept_upgrade`, `AgentServerSession` (first-message ordering,
immutable fields, audio accounting, end and expiry), `parse_client_event`, one builder per server
event, `ERROR_CODES` (every ``session.error`` code with its close code), and `TokenIssuer` (single-use
temporary tokens with an injected clock), `handle_token_request`; the REST APIs beside the socket:
`AgentStore` (stored agents, ``/v1/agents``) and `SessionHistory` (the Sessions API, ``/v1/sessions``,
with each session's `Timeline`).

Choices made where the vendor documentation is silent ([UNK]) or where voicelab infers ([INF]),
by topic; docs/protocols.md lists the same choices beside the vendor pages they rest on:

- Tokens [INF] Token minting accepts the key as ``Bearer <key>`` or raw.
- Tokens [INF] An unknown or already-used token gives ``UNAUTHORIZED``; an elapsed redemption window gives
  lower-case ``unauthorized`` (as the token API page says); both close 1008 after the upgrade.
- Tokens [INF] Temporary tokens are single-use even for ``session.resume`` (each connection needs a new one).
- Lifecycle [VND→INF] A rejected first ``session.update`` yields ``session.error`` with the validator's
  code (``invalid_value`` for a bad voice or field type, ``invalid_config`` for a validation error, as
  the skill reference's table says) and then ``session.ready`` on defaults (as a third-party client
  reports); so does an unknown ``agent_id`` (``invalid_value``).
- Client events [INF] ``tool.result`` results that are not strings are JSON-encoded by the client builder.
- Server events [UNK→INF] ``reply.done`` without ``status`` is normalised to ``"completed"``; the builder
  omits it.
- Server events [UNK→INF] ``session.ended`` durations are numbers (rounded to ms), ``timestamp`` is
  ISO-8601 UTC; ``audio_duration_seconds`` is null when no audio arrived.
- Server events [INF] ``resume_token`` on ``session.ready`` is parsed if present but never required.
- Server events [INF] ``tool.call`` ``reply_id`` is parsed if present, never emitted.
- Session schema [DOC] ``input.type``/``output.type`` ``"audio"`` (the tool-calling page's and the agents
  API's examples) are accepted.
- Session schema [INF] Unknown ``session`` keys are rejected (``invalid_format``), with hints for ``llm``,
  root-level ``turn_detection`` and ``voice.voice_id``; input fields seen only in third-party clients
  are accepted.
- Session schema [INF] ``format.sample_rate``, when given, must equal the rate the encoding implies
  (24000/8000).
- Session schema [INF] ``min_silence`` must not exceed ``max_silence``.
- Session schema [INF] Voices: any non-empty name not in the removed list is accepted unless a catalog is
  given.
- Errors [UNK→INF] ``agent_init_failed`` and ``agent_timeout`` close with 1011.
- Errors [INF] Unknown ``session.error`` codes are parsed as non-fatal with no close code.
- Errors [INF] Normal close after ``session.ended`` is 1000; ``session_expired`` sends ``session.error``,
  then ``session.ended``, then close 1008.
- Errors [INF] Messages after ``session.ready`` that are valid but out of place (a second
  ``session.resume``) get ``invalid_format``.
- Field variants [INF] ``tool.call`` arguments: ``arguments`` else ``args``; a JSON-encoded string is
  decoded.
- Field variants [INF] ``reply.audio`` audio is read from ``data``, else ``audio``.
- Field variants [INF] A bare ``{"type":"error"}`` (pre-GA) is parsed like ``session.error``.
"""

from __future__ import annotations

from voicelab.providers.assemblyai_agent.agents import AGENTS_PATH, AgentStore
from voicelab.providers.assemblyai_agent.config import (
    AUDIO_ENCODINGS,
    DOCUMENTED_VOICES,
    ENCODING_RATES,
    changed_immutable_fields,
    make_session,
    merge_session,
    validate_session,
)
from voicelab.providers.assemblyai_agent.handshake import (
    PATH,
    AuthFailure,
    AuthOk,
    accept_upgrade,
    build_connect,
    build_url,
    closed,
    explain_close,
)
from voicelab.providers.assemblyai_agent.history import (
    ARTIFACTS_PATH,
    SESSIONS_PATH,
    SessionHistory,
    SessionRecord,
    Timeline,
)
from voicelab.providers.assemblyai_agent.messages import (
    ERROR_CODES,
    PROVIDER,
    ErrorCode,
    agent_transcript,
    error_info,
    input_audio,
    parse,
    reply_audio,
    reply_create,
    reply_done,
    reply_started,
    session_end,
    session_ended,
    session_error,
    session_ready,
    session_resume,
    session_update,
    session_updated,
    speech_started,
    speech_stopped,
    tool_call,
    tool_result,
    user_transcript,
    user_transcript_delta,
)
from voicelab.providers.assemblyai_agent.rest import check_rest_auth
from voicelab.providers.assemblyai_agent.server import (
    AgentServerSession,
    InputAudio,
    ReplyCreate,
    ServerStep,
    SessionEnd,
    SessionResume,
    SessionUpdate,
    ToolResult,
    new_session_id,
    parse_client_event,
)
from voicelab.providers.assemblyai_agent.tokens import (
    IssuedToken,
    TemporaryToken,
    TokenGrant,
    TokenIssuer,
    build_token_request,
    handle_token_request,
    parse_token_response,
)

__all__ = [
    "AGENTS_PATH",
    "ARTIFACTS_PATH",
    "AUDIO_ENCODINGS",
    "DOCUMENTED_VOICES",
    "ENCODING_RATES",
    "ERROR_CODES",
    "PATH",
    "PROVIDER",
    "SESSIONS_PATH",
    "AgentServerSession",
    "AgentStore",
    "AuthFailure",
    "AuthOk",
    "ErrorCode",
    "InputAudio",
    "IssuedToken",
    "ReplyCreate",
    "ServerStep",
    "SessionEnd",
    "SessionHistory",
    "SessionRecord",
    "SessionResume",
    "SessionUpdate",
    "TemporaryToken",
    "Timeline",
    "TokenGrant",
    "TokenIssuer",
    "ToolResult",
    "accept_upgrade",
    "agent_transcript",
    "build_connect",
    "build_token_request",
    "build_url",
    "changed_immutable_fields",
    "check_rest_auth",
    "closed",
    "error_info",
    "explain_close",
    "handle_token_request",
    "input_audio",
    "make_session",
    "merge_session",
    "new_session_id",
    "parse",
    "parse_client_event",
    "parse_token_response",
    "reply_audio",
    "reply_create",
    "reply_done",
    "reply_started",
    "session_end",
    "session_ended",
    "session_error",
    "session_ready",
    "session_resume",
    "session_update",
    "session_updated",
    "speech_started",
    "speech_stopped",
    "tool_call",
    "tool_result",
    "user_transcript",
    "user_transcript_delta",
    "validate_session",
]
