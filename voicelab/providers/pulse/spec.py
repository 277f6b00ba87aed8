"""The Pulse `ProviderSpec`: what the rest of voicelab reads about Smallest AI Pulse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicelab.audio.targets import Target
from voicelab.protocols.wire import HttpRequest
from voicelab.providers.pulse.driver import make_driver
from voicelab.providers.pulse.handshake import (
    AUTH_METHODS,
    closed,
    explain_close,
    explain_http_status,
    explain_region,
)
from voicelab.providers.pulse.messages import PROVIDER, parse
from voicelab.providers.pulse.params import ENCODINGS, ENDPOINTS, HOSTS, SAMPLE_RATES, params_from_query
from voicelab.providers.pulse.tokens import DEFAULT_TTL_SECONDS, TOKEN_PATH, build_token_request, parse_token_response
from voicelab.providers.spec import ProviderSpec, TokenMinting

__all__ = ["SPEC", "TARGET"]

#: What Pulse expects of audio (docs/protocols.md): mono; 16 kHz linear16 recommended; G.711 at 8 kHz;
#: binary frames of 4096 bytes recommended (1024-8192 acceptable), sent every 50-100 ms.
TARGET = Target(
    name=PROVIDER,
    title="Smallest AI Pulse (real-time STT)",
    samplerates=SAMPLE_RATES,
    encodings=ENCODINGS,
    recommended_samplerate=16000,
    recommended_encoding="linear16",
    encoding_rates={"alaw": (8000,), "mulaw": (8000,)},
    transport="binary",
    chunk_bytes=4096,
    chunk_bytes_range=(1024, 8192),
    chunk_seconds=0.128,
    interval_seconds=(0.05, 0.1),
)

def _declare_audio(params: Mapping[str, Any], *, samplerate: int, encoding: str) -> dict[str, Any]:
    """Pulse takes the audio format from the query: ``sample_rate`` and ``encoding`` (given values win)."""
    return {"sample_rate": samplerate, "encoding": encoding, **params}


def _token_request(*, api_key: str, base_url: str | None, region: str | None, ttl_seconds: int) -> HttpRequest:
    """``POST /waves/v1/auth/token`` with ``{"ttl_seconds": N}`` on the region's host (tokens are region-bound)."""
    return build_token_request(api_key=api_key, ttl_seconds=ttl_seconds, region=region or "india", base_url=base_url)


def _token_of(body: bytes) -> str:
    return parse_token_response(body).access_token


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Smallest AI Pulse STT",
    aliases=("smallest",),
    key_env="SMALLEST_API_KEY",
    hosts={region: f"wss://{host}" for region, host in HOSTS.items()},
    default_region="india",
    paths=ENDPOINTS,
    # the AsyncAPI spec requires model and language on live; "en" is what voicelab's driver asks for
    required_query={"live": {"model": "pulse", "language": "en"}},
    auth_forms=AUTH_METHODS,
    target=TARGET,
    parse=parse,
    closed=closed,
    explain_close=explain_close,
    explain_status=explain_http_status,
    make_driver=make_driver,
    token=TokenMinting(build_request=_token_request, parse_response=_token_of, path=TOKEN_PATH,
                       ttl_seconds=DEFAULT_TTL_SECONDS),
    emulator="voicelab.providers.pulse.emulator:route",
    declare_audio=_declare_audio,
    params_from_query=params_from_query,
    check_region=explain_region,
    # "Getting Help" on the troubleshooting page: "Reach out to us: Email … Discord …"
    support_contact="support@smallest.ai (or Discord: https://discord.gg/9WtSXv26WE)",
)
