"""What a streaming API expects of its audio: the `Target` type and the registry of targets.

Each provider declares its target in its own package (``voicelab.providers.<name>.spec``) and
registers it with `register_target` when voicelab is imported; this module knows no provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicelab.errors import TargetError

__all__ = ["TARGETS", "Target", "get_target", "register_target", "unregister_target"]


@dataclass(frozen=True)
class Target:
    """The audio an API expects.

    Attributes:
        name: Preset name used on the command line (``pulse``, ``assemblyai-agent``).
        title: Human-readable API name.
        samplerates: Accepted sample rates in Hz.
        encodings: Accepted encodings (voicelab names).
        recommended_samplerate: The rate to convert to when the input's is not accepted.
        recommended_encoding: The encoding to use by default.
        encoding_rates: Encodings that only make sense at particular rates.
        channels: Accepted channel count.
        transport: ``binary`` (raw bytes in binary frames) or ``base64-json``.
        chunk_bytes: Recommended chunk size in bytes for the recommended format.
        chunk_bytes_range: Acceptable chunk sizes in bytes (min, max); ``None`` if undocumented.
        chunk_seconds: Recommended audio per chunk, in seconds.
        interval_seconds: Recommended time between chunks, (min, max) in seconds.
    """

    name: str
    title: str
    samplerates: tuple[int, ...]
    encodings: tuple[str, ...]
    recommended_samplerate: int
    recommended_encoding: str
    encoding_rates: dict[str, tuple[int, ...]] = field(default_factory=dict)
    channels: int = 1
    transport: str = "binary"
    chunk_bytes: int | None = None
    chunk_bytes_range: tuple[int, int] | None = None
    chunk_seconds: float | None = None
    interval_seconds: tuple[float, float] | None = None

    def rates_for(self, encoding: str) -> tuple[int, ...]:
        """Sample rates accepted with ``encoding``."""
        return self.encoding_rates.get(encoding, self.samplerates)


#: The registered targets by name; filled by `register_target` (each provider registers its own).
TARGETS: dict[str, Target] = {}
_ALIASES: dict[str, str] = {}


def register_target(target: Target, *, aliases: tuple[str, ...] = (), replace: bool = False) -> Target:
    """Register an API's audio target under its name (and aliases) for `get_target`.

    Providers call this when they register (see `voicelab.providers.register`).

    Args:
        target: The target.
        aliases: Other names for it.
        replace: Replace a target already registered under the same name.

    Returns:
        ``target``.

    Raises:
        TargetError: The name is taken by another target.
    """
    key = target.name.strip().lower()
    if key in TARGETS and TARGETS[key] is not target and not replace:
        raise TargetError(f"a target named {key!r} is already registered")
    TARGETS[key] = target
    for alias in aliases:
        _ALIASES[alias.strip().lower()] = key
    return target


def unregister_target(name: str) -> None:
    """Remove a registered target and its aliases (nothing happens when it is not registered)."""
    key = name.strip().lower()
    TARGETS.pop(key, None)
    for alias in [a for a, owner in _ALIASES.items() if owner == key]:
        del _ALIASES[alias]


def get_target(target: str | Target) -> Target:
    """Return the preset named ``target`` (or ``target`` itself if it is a `Target`).

    Args:
        target: A registered target's name or alias (``pulse``, ``assemblyai-agent``, ``assemblyai`` …).

    Returns:
        The target preset.

    Raises:
        TargetError: No target of that name is registered.
    """
    if isinstance(target, Target):
        return target
    key = str(target).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TARGETS:
        raise TargetError(f"unknown target {target!r}; use one of: {', '.join(TARGETS)}")
    return TARGETS[key]
