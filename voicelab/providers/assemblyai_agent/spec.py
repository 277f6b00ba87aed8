"""The Voice Agent `ProviderSpec`: what the rest of voicelab reads about the AssemblyAI Voice Agent API."""

from __future__ import annotations

from typing import Any

from voicelab.audio.targets import Target
from voicelab.protocols.wire import HttpRequest
from voicelab.providers.assemblyai_agent.config import ENCODING_RATES
from voicelab.providers.assemblyai_agent.driver import make_driver
from voicelab.providers.assemblyai_agent.handshake import PATH, closed, explain_close, explain_http_status
from voicelab.providers.assemblyai_agent.messages import PROVIDER, parse
from voicelab.providers.assemblyai_agent.tokens import HOSTS, build_token_request, parse_token_response
from voicelab.providers.spec import ProviderSpec, TokenMinting

__all__ = ["SPEC", "TARGET"]

_VL_RATES = dict(ENCODING_RATES.values())  # voicelab encoding → its one rate

#: PCM16 mono at exactly 24 kHz, or G.711 at 8 kHz; base64 inside ``input.audio`` messages of about 50 ms.
TARGET = Target(
    name=PROVIDER,
    title="AssemblyAI Voice Agent API",
    samplerates=tuple(dict.fromkeys(_VL_RATES.values())),
    encodings=tuple(_VL_RATES),
    recommended_samplerate=_VL_RATES["linear16"],
    recommended_encoding="linear16",
    encoding_rates={enc: (rate,) for enc, rate in _VL_RATES.items()},
    transport="base64-json",
    chunk_bytes=2400,
    chunk_bytes_range=None,
    chunk_seconds=0.05,
    interval_seconds=(0.02, 0.1),
)


def _token_request(*, api_key: str, base_url: str | None, region: str | None, ttl_seconds: int) -> HttpRequest:
    return build_token_request(api_key=api_key, expires_in_seconds=ttl_seconds, region=region or "us",
                               base_url=base_url)


def _token_of(body: bytes) -> Any:
    return parse_token_response(body).token


SPEC = ProviderSpec(
    name=PROVIDER,
    title="AssemblyAI Voice Agent API",
    aliases=("assemblyai", "agent"),
    key_env="ASSEMBLYAI_API_KEY",
    hosts={region: f"wss://{host}" for region, host in HOSTS.items()},
    default_region="us",
    paths={"agent": PATH},
    auth_forms=("bearer", "token"),
    target=TARGET,
    parse=parse,
    closed=closed,
    explain_close=explain_close,
    explain_status=explain_http_status,
    make_driver=make_driver,
    token=TokenMinting(build_request=_token_request, parse_response=_token_of, path="/v1/token", ttl_seconds=60),
    emulator="voicelab.providers.assemblyai_agent.emulator.route:route",
    ready_event="session.ready",
    auth_checked_at="session",  # the upgrade succeeds; session.error UNAUTHORIZED and close 1008 follow
    # a close without session.end leaves the session resumable, and billed, for 30 s (troubleshooting page,
    # "Unexpected billing after the call ended")
    unended_grace_seconds=30.0,
    # "Before you contact support" on the troubleshooting page
    support_contact="support@assemblyai.com",
)
