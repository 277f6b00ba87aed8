"""Look up a protocol by name: ``get_protocol("pulse")`` or ``get_protocol("assemblyai-agent")``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from voicelab.protocols import assemblyai_agent, pulse
from voicelab.protocols.errors import UnknownProtocolError
from voicelab.protocols.events import Closed, Event
from voicelab.protocols.wire import Explanation

__all__ = ["PROTOCOL_NAMES", "ProtocolSpec", "get_protocol"]


@dataclass(frozen=True, kw_only=True)
class ProtocolSpec:
    """A protocol's common entry points.

    Attributes:
        name: The registry name.
        title: Human-readable name.
        module: The protocol module (everything else lives there).
        parse: Server message → events.
        explain_close: Close code → explanation.
        closed: Close code and reason → `Closed` event.
        binary_audio: Whether audio travels as binary frames (Pulse) or base64 JSON (AssemblyAI).
    """

    name: str
    title: str
    module: ModuleType
    parse: Callable[..., list[Event]]
    explain_close: Callable[[int], Explanation]
    closed: Callable[..., Closed]
    binary_audio: bool

    def __repr__(self) -> str:
        """Return a representation with secrets hidden."""
        return f"ProtocolSpec(name={self.name!r})"


_REGISTRY: dict[str, ProtocolSpec] = {
    "pulse": ProtocolSpec(
        name="pulse",
        title="Smallest AI Pulse STT",
        module=pulse,
        parse=pulse.parse,
        explain_close=pulse.explain_close,
        closed=pulse.closed,
        binary_audio=True,
    ),
    "assemblyai-agent": ProtocolSpec(
        name="assemblyai-agent",
        title="AssemblyAI Voice Agent API",
        module=assemblyai_agent,
        parse=assemblyai_agent.parse,
        explain_close=assemblyai_agent.explain_close,
        closed=assemblyai_agent.closed,
        binary_audio=False,
    ),
}
PROTOCOL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get_protocol(name: str) -> ProtocolSpec:
    """Return the protocol registered under ``name``.

    Args:
        name: ``"pulse"`` or ``"assemblyai-agent"`` (case-insensitive; ``_`` works for ``-``).

    Returns:
        The protocol's spec.

    Raises:
        UnknownProtocolError: The name is not registered; the message lists the known names.
    """
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
    spec: Any = _REGISTRY.get(key) if isinstance(key, str) else None
    if spec is None:
        raise UnknownProtocolError(f"unknown protocol {name!r}; known protocols: {', '.join(PROTOCOL_NAMES)}")
    assert isinstance(spec, ProtocolSpec)
    return spec
