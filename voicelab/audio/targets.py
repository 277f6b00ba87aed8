"""What each streaming API expects of its audio: rates, encodings, channels and chunk sizes.

Figures come from the vendors' documentation (see docs/protocols.md):

* Smallest Pulse: mono; ``sample_rate`` one of 8000, 16000, 22050, 24000,
  44100, 48000 (16 kHz recommended); ``encoding`` one of linear16, linear32,
  alaw, mulaw, opus, ogg_opus (linear16 recommended; alaw/mulaw pair with
  8 kHz); binary frames of 4096 bytes recommended, 1024-8192 acceptable,
  sent every 50-100 ms.
* AssemblyAI Voice Agent: PCM16 mono at exactly 24 kHz, or pcmu/pcma at
  8 kHz; base64 inside JSON ``input.audio`` messages of about 50 ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicelab.errors import TargetError

__all__ = ["TARGETS", "Target", "get_target"]


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


TARGETS: dict[str, Target] = {
    "pulse": Target(
        name="pulse",
        title="Smallest AI Pulse (real-time STT)",
        samplerates=(8000, 16000, 22050, 24000, 44100, 48000),
        encodings=("linear16", "linear32", "alaw", "mulaw", "opus", "ogg_opus"),
        recommended_samplerate=16000,
        recommended_encoding="linear16",
        encoding_rates={"alaw": (8000,), "mulaw": (8000,)},
        transport="binary",
        chunk_bytes=4096,
        chunk_bytes_range=(1024, 8192),
        chunk_seconds=0.128,
        interval_seconds=(0.05, 0.1),
    ),
    "assemblyai-agent": Target(
        name="assemblyai-agent",
        title="AssemblyAI Voice Agent API",
        samplerates=(24000, 8000),
        encodings=("linear16", "mulaw", "alaw"),
        recommended_samplerate=24000,
        recommended_encoding="linear16",
        encoding_rates={"linear16": (24000,), "mulaw": (8000,), "alaw": (8000,)},
        transport="base64-json",
        chunk_bytes=2400,
        chunk_bytes_range=None,
        chunk_seconds=0.05,
        interval_seconds=(0.02, 0.1),
    ),
}
_ALIASES = {"assemblyai": "assemblyai-agent", "agent": "assemblyai-agent", "smallest": "pulse"}


def get_target(target: str | Target) -> Target:
    """Return the preset named ``target`` (or ``target`` itself if it is a `Target`).

    Args:
        target: ``pulse`` or ``assemblyai-agent`` (aliases: ``assemblyai``, ``smallest``).

    Returns:
        The target preset.
    """
    if isinstance(target, Target):
        return target
    key = str(target).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TARGETS:
        raise TargetError(f"unknown target {target!r}; use one of: {', '.join(TARGETS)}")
    return TARGETS[key]
