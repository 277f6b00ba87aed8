"""The emulated voice agent's parts: speech synthesis, a scripted brain and an echo check.

Pure and synchronous (no asyncio, no websockets); the emulator's async server calls them,
running `Synthesizer.synthesize` in an executor since it starts a subprocess.

`handle` (in `voicelab.emulator.agent.handler`) is the asyncio session handler that puts them
together behind ``/v1/ws``; `voicelab.emulator.assemblyai` discovers it automatically.
"""

from __future__ import annotations

from voicelab.emulator.agent.brain import DEFAULT_RULES, Brain, CallTool, Plan, Rule, Say
from voicelab.emulator.agent.echo import EchoCheck, detect_echo
from voicelab.emulator.agent.errors import AgentError, AgentOptionError, BrainError, SynthesisError
from voicelab.emulator.agent.handler import handle
from voicelab.emulator.agent.tts import (
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
