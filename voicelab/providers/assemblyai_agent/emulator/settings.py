"""Views of an agent session's applied configuration (the merged ``session.update`` bodies).

Pure functions of the configuration mapping (`AgentServerSession.config`); a missing or
mistyped field gives the API's default.

Choices where the vendor docs are silent ([INF]):

* Endpointing keeps the engine's own hangover unless ``input.turn_detection.min_silence`` is given
  (then hangover = min_silence); ``vad_threshold`` maps to the engine's speech threshold when given.
* ``output.volume`` scales the reply audio (100 = as synthesised).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from voicelab.emulator.recognizers import Endpointing

__all__ = ["endpointing", "interrupt_response", "output_encoding", "section", "voice", "volume"]


def section(config: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The mapping at ``config[path[0]][path[1]]…``, or ``{}`` where a level is missing or not a mapping."""
    cur: Any = config
    for part in path:
        cur = cur.get(part, {}) if isinstance(cur, Mapping) else {}
    return cur if isinstance(cur, Mapping) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def output_encoding(config: Mapping[str, Any]) -> str:
    """``output.format.encoding`` (``audio/pcm`` by default)."""
    return str(section(config, "output", "format").get("encoding", "audio/pcm"))


def voice(config: Mapping[str, Any]) -> str | None:
    """``output.voice``, if set."""
    v = section(config, "output").get("voice")
    return v if isinstance(v, str) else None


def volume(config: Mapping[str, Any]) -> float | None:
    """``output.volume`` (100 = as synthesised), or ``None`` when unset."""
    return _number(section(config, "output").get("volume"))


def interrupt_response(config: Mapping[str, Any]) -> bool:
    """Whether user speech interrupts a reply (``input.turn_detection.interrupt_response``, default true)."""
    return section(config, "input", "turn_detection").get("interrupt_response", True) is not False


def endpointing(config: Mapping[str, Any], base: Endpointing) -> Endpointing:
    """The recognizer's endpointing for this session: `base` with ``input.turn_detection`` applied.

    Args:
        config: The applied session configuration.
        base: The recognizer's own endpointing.

    Returns:
        `base` with ``hangover`` = ``min_silence`` (ms → s, clamped to 0.05–10 s) and ``threshold`` =
        ``vad_threshold`` (clamped to 0.05–0.95) where given.
    """
    td = section(config, "input", "turn_detection")
    changes: dict[str, float] = {}
    silence = _number(td.get("min_silence"))
    if silence is not None:
        changes["hangover"] = max(0.05, min(10.0, silence / 1000.0))
    threshold = _number(td.get("vad_threshold"))
    if threshold is not None:
        changes["threshold"] = max(0.05, min(0.95, threshold))
    return dataclasses.replace(base, **changes) if changes else base
