"""The emulated Voice Agent: the asyncio session handler and its parts.

The parts are synchronous and free of I/O: speech synthesis (`tts`, run in the server's
executor since it starts a subprocess), a scripted brain (`brain`) and an echo check (`echo`).
`handle` (in `handler`) is the asyncio session handler that puts them together behind ``/v1/ws``;
`route` (in `route`) is the `voicelab.emulator.server.Route` the emulator hosts.
"""

from __future__ import annotations

from voicelab.providers.assemblyai_agent.emulator.brain import DEFAULT_RULES, Brain, CallTool, Plan, Rule, Say
from voicelab.providers.assemblyai_agent.emulator.echo import EchoCheck, detect_echo
from voicelab.providers.assemblyai_agent.emulator.errors import AgentError, AgentOptionError, BrainError, SynthesisError
from voicelab.providers.assemblyai_agent.emulator.handler import handle
from voicelab.providers.assemblyai_agent.emulator.tts import (
    OUTPUT_RATE,
    EspeakSynthesizer,
    Speech,
    Synthesizer,
    SyntheticSynthesizer,
    WordTiming,
    chunk_speech,
    encode_for,
    espeak_voice,
    get_synthesizer,
    spoken_text,
)

__all__ = [
    "DEFAULT_RULES",
    "OUTPUT_RATE",
    "AgentError",
    "AgentOptionError",
    "Brain",
    "BrainError",
    "CallTool",
    "EchoCheck",
    "EspeakSynthesizer",
    "Plan",
    "Rule",
    "Say",
    "Speech",
    "Synthesizer",
    "SyntheticSynthesizer",
    "SynthesisError",
    "WordTiming",
    "chunk_speech",
    "detect_echo",
    "encode_for",
    "espeak_voice",
    "get_synthesizer",
    "handle",
    "spoken_text",
]
