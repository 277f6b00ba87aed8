"""Providers: one package per API holds everything voicelab knows about it.

Each provider package has its sans-I/O protocol halves (client and server on one schema), a
client `Driver`, its emulator route (``emulator`` modules, the only I/O code in a provider
package, imported only by the emulator) and one `ProviderSpec` that the rest of voicelab reads.
The registry lists them::

    from voicelab.providers import get_provider, register

    spec = get_provider("pulse")
    spec.key_env, spec.target.recommended_samplerate, spec.paths

Built in: ``pulse`` (Smallest AI Pulse STT) and ``assemblyai-agent`` (AssemblyAI Voice Agent API).
See docs/architecture.md for how to add one.
"""

from __future__ import annotations

from voicelab.providers import assemblyai_agent, pulse
from voicelab.providers.assemblyai_agent.spec import SPEC as ASSEMBLYAI_AGENT
from voicelab.providers.errors import ProviderError, UnknownProviderError
from voicelab.providers.pulse.spec import SPEC as PULSE
from voicelab.providers.registry import PLUGINS_ENV, get_provider, provider_names, providers, register, unregister
from voicelab.providers.spec import Driver, DriverOptions, ProviderSpec, TokenMinting

__all__ = [
    "ASSEMBLYAI_AGENT",
    "PLUGINS_ENV",
    "PULSE",
    "Driver",
    "DriverOptions",
    "ProviderError",
    "ProviderSpec",
    "TokenMinting",
    "UnknownProviderError",
    "assemblyai_agent",
    "get_provider",
    "provider_names",
    "providers",
    "pulse",
    "register",
    "unregister",
]

register(PULSE)
register(ASSEMBLYAI_AGENT)
