"""Errors raised by the emulator's scripted voice agent (speech synthesis, brain, echo check).

Every class derives from `voicelab.errors.VoicelabError`; each message names
the offending value and how to fix it.
"""

from __future__ import annotations

from voicelab.errors import VoicelabError

__all__ = ["AgentError", "AgentOptionError", "BrainError", "SynthesisError"]


class AgentError(VoicelabError):
    """Root of the errors raised by `voicelab.providers.assemblyai_agent.emulator`."""


class AgentOptionError(AgentError, ValueError):
    """An option (voice, rate, chunk length, encoding, rule, audio array) is invalid."""


class SynthesisError(AgentError, RuntimeError):
    """The speech engine failed, timed out or produced output that is not 16-bit mono WAV."""


class BrainError(AgentError, ValueError):
    """The scripted brain was asked something it cannot answer (an unknown tool ``call_id``)."""
