"""Smallest AI Pulse real-time STT (``/waves/v1/stt/live`` and ``/waves/v1/pulse/get_text``), sans-I/O.

Client half: `build_connect` / `build_url` (URL, region host, query parameters, auth), the
control messages `finalize_message` / `close_stream_message` / `end_message`, `parse` (server
frames → events), `explain_http_status` / `explain_close` / `handshake_error` / `closed`, and
access tokens (`build_token_request` / `parse_token_response`, ``POST /waves/v1/auth/token``).
Server half (for the emulator): `accept_upgrade` (→ `PulseSessionConfig` or
`HandshakeRejection`), `classify_client_frame`, `build_transcription`, `build_speech_event`,
`build_error`, `build_region_error`, `AccessTokenIssuer` / `handle_token_request`,
`CLOSE_AFTER_LAST`, `CLOSE_CONCURRENCY`, `CLOSE_REGION`.

Choices made where the vendor documentation is silent ([UNK]) or where voicelab infers ([INF]),
by topic; docs/protocols.md lists the same choices beside the vendor pages they rest on:

- Handshake [UNK→INF] The 400 body of a rejected WS handshake reuses the unified REST shape
  ``{"error": …, "request_id": …}`` (missing/invalid model uses the message text of the vendor's
  REST error schema).
- Handshake [INF] Server check order: path (404) → credentials (401) → model (400) → parameters (400).
- Endpoints [INF] ``/api/v1/pulse/get_text`` (old host's path) is served as the legacy endpoint.
- Regions [INF] The client refuses a language its vendor region does not serve (``check_region=True``).
- Regions [UNK→INF] A host refusing a language closes with `CLOSE_REGION` (4100, private use): after the
  ``LANGUAGE_NOT_ENABLED_IN_REGION`` frame on the US host, at once on the India host.
- Tokens [INF] Access tokens are refused in ``?token=`` (401; the docs name the header and ``api_key``)
  and on the legacy path (403); the token endpoint's 400 body reuses the spec's validation shape.
- Auth [INF] Clients support three auth forms (Bearer header default, ``?token=``, ``?api_key=``);
  the server half accepts all three; any other scheme (``Token``/``Key``) → 401 ``{"error":"unauthorized"}``.
- Auth [INF] The Bearer header wins when several credentials are sent.
- Parameters [UNK→INF] Invalid ``encoding``/``sample_rate`` (and malformed booleans/integers) → 400 before
  the upgrade.
- Parameters [INF] Boolean query values other than ``"true"``/``"false"`` are rejected by the emulator (the
  real server treats them as false).
- Parameters [DOC] ``language`` is required on ``/waves/v1/stt/live`` (400 before the upgrade, with the
  ``model`` message's wording [INF]); ``multi-eu``/``multi`` are pre-recorded only there. The legacy path
  keeps ``language`` optional and takes both [VND: the vendor's live probe]; an omitted language
  auto-detects [INF].
- Parameters [INF] Keywords given as a JSON array or an empty string are refused client-side; intensifier > 5
  only logs a warning.
- Parameters [INF] ``format=false`` resolves ``punctuate``, ``capitalize`` and ``itn_normalize`` to false.
- Control [UNK→INF] Legacy ``{"type":"end"}`` and ``{"flag":"END"}`` are treated like ``close_stream``.
- Messages [INF] A message without ``type`` is a transcription; one with only ``message`` (legacy ASR
  shape) is an error.
- Transcription [INF] The emulator always emits ``speaker`` as an integer.
- Transcription [INF] ``words`` appear on interims too when ``word_timestamps=true`` (a third-party client
  says finals only).
- Transcription [DOC] ``from_finalize`` is emitted on finals only when ``itn_normalize=true`` (the
  ``/pulse/get_text`` reference page).
- Transcription [DOC] ``full_transcript`` is on every transcription event when asked for (the session's
  finals so far; on an interim it does not include the interim's text [INF]).
- Errors [INF] Errors are detected by ``type=="error"`` OR ``status=="error"`` OR an ``error``/``error_code``
  key, and are treated as fatal (the AsyncAPI spec: "before a forced close").
- Errors [INF] A text frame that is not valid control gets the error frame, then close code 1003.
- Close [UNK→INF] The close code after the ``is_last`` final is 1000 (`CLOSE_AFTER_LAST`).
- Close [INF] A final with ``from_finalize`` or ``is_last`` also yields a `TurnEnd` event.
- Close [INF] Close 1011 is explained as a server error though undocumented for Pulse.
"""

from __future__ import annotations

from voicelab.providers.pulse.handshake import (
    AuthMethod,
    accept_upgrade,
    build_connect,
    build_url,
    closed,
    explain_close,
    explain_http_status,
    handshake_error,
)
from voicelab.providers.pulse.messages import (
    CLOSE_AFTER_LAST,
    CLOSE_CONCURRENCY,
    CLOSE_INVALID_FRAME,
    CLOSE_REGION,
    PROVIDER,
    AudioFrame,
    ClientFrame,
    ControlFrame,
    InvalidFrame,
    build_error,
    build_region_error,
    build_speech_event,
    build_transcription,
    classify_client_frame,
    close_stream_message,
    end_message,
    finalize_message,
    parse,
)
from voicelab.providers.pulse.params import (
    AGGREGATORS,
    ENCODINGS,
    ENDPOINTS,
    HOSTS,
    LANGUAGES,
    LIVE_LANGUAGES,
    SAMPLE_RATES,
    Endpoint,
    PulseParams,
    PulseSessionConfig,
    Region,
    decode_query,
    detected_language,
    encode_keywords,
    region_violation,
)
from voicelab.providers.pulse.tokens import (
    AccessToken,
    AccessTokenIssuer,
    build_token_request,
    handle_token_request,
    parse_token_response,
)

__all__ = [
    "AGGREGATORS",
    "CLOSE_AFTER_LAST",
    "CLOSE_CONCURRENCY",
    "CLOSE_INVALID_FRAME",
    "CLOSE_REGION",
    "ENCODINGS",
    "ENDPOINTS",
    "HOSTS",
    "LANGUAGES",
    "LIVE_LANGUAGES",
    "PROVIDER",
    "SAMPLE_RATES",
    "AccessToken",
    "AccessTokenIssuer",
    "AudioFrame",
    "AuthMethod",
    "ClientFrame",
    "ControlFrame",
    "Endpoint",
    "InvalidFrame",
    "PulseParams",
    "PulseSessionConfig",
    "Region",
    "accept_upgrade",
    "build_connect",
    "build_error",
    "build_region_error",
    "build_speech_event",
    "build_token_request",
    "build_transcription",
    "build_url",
    "classify_client_frame",
    "close_stream_message",
    "closed",
    "decode_query",
    "detected_language",
    "encode_keywords",
    "end_message",
    "explain_close",
    "explain_http_status",
    "finalize_message",
    "handle_token_request",
    "handshake_error",
    "parse",
    "parse_token_response",
    "region_violation",
]
