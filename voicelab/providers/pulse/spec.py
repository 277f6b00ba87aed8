"""The Pulse `ProviderSpec`: what the rest of voicelab reads about Smallest AI Pulse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicelab.audio.targets import Target
from voicelab.providers.pulse.driver import make_driver
from voicelab.providers.pulse.handshake import AUTH_METHODS, closed, explain_close, explain_http_status
from voicelab.providers.pulse.messages import PROVIDER, parse
from voicelab.providers.pulse.params import ENCODINGS, ENDPOINTS, HOSTS, SAMPLE_RATES
from voicelab.providers.spec import ProviderSpec

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


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Smallest AI Pulse STT",
    aliases=("smallest",),
    key_env="SMALLEST_API_KEY",
    hosts={region: f"wss://{host}" for region, host in HOSTS.items()},
    default_region="india",
    paths=ENDPOINTS,
    required_query={"live": {"model": "pulse"}},
    auth_forms=AUTH_METHODS,
    target=TARGET,
    parse=parse,
    closed=closed,
    explain_close=explain_close,
    explain_status=explain_http_status,
    make_driver=make_driver,
    emulator="voicelab.providers.pulse.emulator:route",
    declare_audio=_declare_audio,
)
