"""Fault injection: make the emulator misbehave the way real services do, on purpose.

A fault set is written as ``name:value`` items separated by ``;`` (or given as several
``--fault`` options)::

    reject:429;retry_after:2          # refuse every upgrade with HTTP 429 and Retry-After: 2
    drop_after_chunks:20              # abort the TCP connection after 20 audio frames (client sees 1006)
    close_after_seconds:3;close_code:1011
    latency:0.2;jitter:0.05           # delay every server message by 0.2 s ± 0.05 s
    slowdown:2                        # the engine consumes audio at half real-time speed
    drop_responses:0.3;seed:7         # silently drop 30 % of the server's messages (seeded RNG)
    malformed:3                       # the 3rd server message is preceded by one invalid JSON frame
    token_ttl:0.5                     # tokens minted by any token endpoint expire 0.5 s after minting

Server-wide faults come from ``voicelab.serve(faults=...)`` or ``voicelab serve --fault``;
per-connection faults from the ``vl_fault`` query parameter (which real APIs ignore), e.g.
``?vl_fault=drop_after_chunks:20;latency:0.2``. Per-connection values override server-wide ones.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from voicelab.emulator.errors import FaultSpecError

__all__ = ["FAULT_QUERY_PARAM", "REJECT_STATUSES", "Faults", "parse_faults"]

#: The query parameter carrying per-connection faults.
FAULT_QUERY_PARAM = "vl_fault"
#: Statuses ``reject`` may use.
REJECT_STATUSES: tuple[int, ...] = (400, 401, 403, 429, 500, 503)
#: Close codes ``close_code`` may use.
CLOSE_CODES: tuple[int, ...] = (1000, 1001, 1003, 1008, 1009, 1011, 1012, 1013)


@dataclass(frozen=True, kw_only=True)
class Faults:
    """The faults applied to a server or one connection; every ``None`` means "off".

    Attributes:
        reject: Refuse the WebSocket upgrade with this HTTP status (400/401/403/429/500/503).
        retry_after: Seconds for the ``Retry-After`` header of a rejection (default 1 with 429/503).
        drop_after_chunks: Abort the TCP connection (no close frame; client sees 1006) after N audio frames.
        drop_after_seconds: Abort the TCP connection this many seconds after the upgrade.
        close_after_chunks: Close with ``close_code`` after N audio frames.
        close_after_seconds: Close with ``close_code`` this many seconds after the upgrade.
        close_code: Close code for the ``close_after_*`` faults (default 1011).
        latency: Seconds added before every server message.
        jitter: Up to this many seconds added or removed at random (order is kept).
        slowdown: The engine consumes audio this many times slower than real time (> 1 falls behind).
        drop_responses: Share (0–1) of server messages silently dropped (seeded RNG).
        malformed: Send one invalid JSON text frame just before the N-th server message.
        token_ttl: Seconds after minting when tokens from a provider's token endpoint stop being redeemable.
        seed: Seed of the fault RNG (jitter, dropped responses); fixed so runs repeat.
    """

    reject: int | None = None
    retry_after: float | None = None
    drop_after_chunks: int | None = None
    drop_after_seconds: float | None = None
    close_after_chunks: int | None = None
    close_after_seconds: float | None = None
    close_code: int | None = None
    latency: float | None = None
    jitter: float | None = None
    slowdown: float | None = None
    drop_responses: float | None = None
    malformed: int | None = None
    token_ttl: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        """Validate every value, naming the fault and the accepted range."""
        if self.reject is not None and self.reject not in REJECT_STATUSES:
            raise FaultSpecError(
                f"reject:{self.reject} is not supported; use one of {', '.join(map(str, REJECT_STATUSES))}."
            )
        if self.close_code is not None and self.close_code not in CLOSE_CODES:
            raise FaultSpecError(
                f"close_code:{self.close_code} is not supported; use one of {', '.join(map(str, CLOSE_CODES))}."
            )
        for name in ("drop_after_chunks", "close_after_chunks", "malformed"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise FaultSpecError(f"{name}:{value} must be a whole number >= 1.")
        for name in ("retry_after", "drop_after_seconds", "close_after_seconds", "latency", "jitter", "token_ttl"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FaultSpecError(f"{name}:{value} must be seconds >= 0.")
        if self.slowdown is not None and not 1.0 <= self.slowdown <= 100.0:
            raise FaultSpecError(f"slowdown:{self.slowdown} must be a factor from 1 to 100 (2 = half speed).")
        if self.drop_responses is not None and not 0.0 <= self.drop_responses <= 1.0:
            raise FaultSpecError(f"drop_responses:{self.drop_responses} must be a share from 0 to 1.")

    @property
    def active(self) -> bool:
        """Whether any fault is set."""
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "seed")

    def merged(self, other: Faults | None) -> Faults:
        """Return these faults with every value set in ``other`` overriding them."""
        if other is None:
            return self
        changes = {f.name: getattr(other, f.name) for f in fields(other) if getattr(other, f.name) is not None}
        return dataclasses.replace(self, **changes)

    def rng(self) -> random.Random:
        """Return a fresh RNG seeded with ``seed`` (0 when unset)."""
        return random.Random(self.seed or 0)

    def spec(self) -> str:
        """Return the ``name:value;…`` spelling of these faults (parses back to an equal object)."""
        return ";".join(
            f"{f.name}:{getattr(self, f.name):g}"
            if isinstance(getattr(self, f.name), float)
            else f"{f.name}:{getattr(self, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) is not None
        )


_INT_FIELDS = {"reject", "drop_after_chunks", "close_after_chunks", "close_code", "malformed", "seed"}
_FIELDS = {f.name for f in fields(Faults)}
_ALIASES = {"retry-after": "retry_after", "drop": "drop_after_chunks", "close": "close_after_chunks"}


def _convert(name: str, text: str) -> int | float:
    try:
        if name in _INT_FIELDS:
            return int(text)
        return float(text)
    except ValueError:
        kind = "a whole number" if name in _INT_FIELDS else "a number"
        raise FaultSpecError(
            f"fault {name}:{text!r} needs {kind}, e.g. {name}:{'3' if name in _INT_FIELDS else '0.5'}."
        ) from None


def parse_faults(spec: str | Iterable[str] | Mapping[str, Any] | Faults | None) -> Faults:
    """Parse a fault specification.

    Args:
        spec: ``"name:value;name:value"``, an iterable of such strings (e.g. repeated ``--fault``
            options), a mapping ``{name: value}``, a `Faults` (returned as is), or ``None`` (no faults).

    Returns:
        The faults.

    Raises:
        FaultSpecError: Unknown fault name, missing or bad value.
    """
    if spec is None:
        return Faults()
    if isinstance(spec, Faults):
        return spec
    values: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in spec.items()]
    else:
        parts = [spec] if isinstance(spec, str) else list(spec)
        items = []
        for part in parts:
            for item in str(part).replace(",", ";").split(";"):
                item = item.strip()
                if not item:
                    continue
                name, sep, value = item.partition(":")
                if not sep:
                    name, sep, value = item.partition("=")
                if not sep or not value.strip():
                    raise FaultSpecError(f"fault {item!r} has no value; write name:value, e.g. latency:0.2.")
                items.append((name.strip(), value.strip()))
    for name, value in items:
        key = _ALIASES.get(name, name)
        if key not in _FIELDS:
            raise FaultSpecError(
                f"unknown fault {name!r}; use one of {', '.join(sorted(_FIELDS))} (see docs/emulator.md)."
            )
        values[key] = _convert(key, value)
    return Faults(**values)


@dataclass
class FaultState:
    """Per-connection bookkeeping of the faults that count things (used by the server core).

    Attributes:
        faults: The effective faults of the connection.
        sent: Server messages handed to the sender so far.
        malformed_sent: Whether the one malformed frame has gone out.
    """

    faults: Faults
    sent: int = 0
    malformed_sent: bool = False
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        """Seed the RNG from the faults."""
        self.rng = self.faults.rng()

    def delay(self) -> float:
        """Seconds to wait before the next message (latency ± jitter, never negative)."""
        base = self.faults.latency or 0.0
        if self.faults.jitter:
            base += self.rng.uniform(-self.faults.jitter, self.faults.jitter)
        return max(0.0, base)

    def drop(self) -> bool:
        """Whether to drop the next message."""
        share = self.faults.drop_responses
        return bool(share) and self.rng.random() < float(share or 0.0)
