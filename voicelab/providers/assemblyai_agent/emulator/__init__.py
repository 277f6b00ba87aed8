"""The emulated AssemblyAI Voice Agent: the ``/v1/ws`` route, its session handler and their parts.

Modules, by what they hold:

* `route`: the `voicelab.emulator.server.Route` the emulator hosts (``/v1/ws``, ``GET /v1/token``, the stored
  agents of ``/v1/agents`` and the Sessions API of ``/v1/sessions``);
* `handler`: `handle` and `AgentConnection`, the receive loop and session lifecycle (asyncio);
* `listener`: input audio → the shared recognizer (`voicelab.emulator.engine_feed`) → user-turn events;
* `responder`: replies with paced audio, barge-in, hold mode and the echo check;
* `tools`: ``tool.call`` / ``tool.result``, tool timeouts and the hold of a ``hold`` tool;
* `parking`: what a dropped session keeps for ``session.resume``;
* `settings`: views of the applied session configuration; `ids`: item and reply ids;
* `tts`, `brain`, `echo`: synchronous parts free of network I/O (speech synthesis, which runs a
  subprocess in the server's engine thread pool; the scripted brain; the echo check).
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
    "espeak_voice",
    "get_synthesizer",
    "handle",
    "spoken_text",
]
