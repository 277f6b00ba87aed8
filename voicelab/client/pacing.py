"""Pacing audio at the speed of speech, without drift (pure: the I/O layer does the sleeping).

Chunk k is due at ``t0 + audio_start_k / speed``: the schedule is computed
from audio time, never by adding sleeps, so small delays in sending one chunk
never accumulate. Each actual send time is recorded, so the error of the
schedule can be measured.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from voicelab.errors import VoicelabError

__all__ = ["Pacer", "PacingError", "PacingStats"]


class PacingError(VoicelabError, ValueError):
    """A pacing parameter is invalid."""


@dataclass
class PacingStats:
    """How far actual send times fell from the schedule, in seconds (positive = late)."""

    errors: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of absolute errors, seconds (0 without sends)."""
        if not self.errors:
            return 0.0
        data = sorted(abs(e) for e in self.errors)
        k = (len(data) - 1) * q / 100
        lo, hi = math.floor(k), math.ceil(k)
        return data[lo] + (data[hi] - data[lo]) * (k - lo)

    @property
    def drift(self) -> float:
        """Error of the last send minus error of the first, seconds (cumulative drift)."""
        return self.errors[-1] - self.errors[0] if len(self.errors) > 1 else 0.0


class Pacer:
    """Schedules chunks by their audio time.

    Args:
        speed: Audio seconds sent per wall second; 1.0 is real time, ``None``
            (or ``math.inf``) sends as fast as possible.
        clock: Monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, *, speed: float | None = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if speed is not None and (isinstance(speed, bool) or not isinstance(speed, (int, float))
                                  or math.isnan(speed) or speed <= 0):
            raise PacingError(f"speed must be a positive number (1.0 = real time) or None for no pacing, got {speed!r}")
        self.speed = None if speed is None or math.isinf(speed) else float(speed)
        self.clock = clock
        self.t0: float | None = None
        self.audio0 = 0.0
        self.stats = PacingStats()

    def start(self, *, audio_start: float = 0.0, now: float | None = None) -> None:
        """Anchor the schedule: audio time ``audio_start`` goes out at ``now``.

        Args:
            audio_start: Audio time of the first chunk, seconds (after a reconnect, where it resumes).
            now: Anchor time; defaults to the clock.
        """
        self.t0 = self.clock() if now is None else now
        self.audio0 = audio_start

    def due(self, audio_start: float) -> float:
        """Clock time at which the chunk starting at ``audio_start`` seconds is due."""
        if self.t0 is None:
            self.start(audio_start=audio_start)
        assert self.t0 is not None
        if self.speed is None:
            return self.t0
        return self.t0 + (audio_start - self.audio0) / self.speed

    def delay(self, audio_start: float, *, now: float | None = None) -> float:
        """Seconds to wait before sending the chunk starting at ``audio_start`` (0 if already due)."""
        now = self.clock() if now is None else now
        return max(0.0, self.due(audio_start) - now)

    def sent(self, audio_start: float, *, now: float | None = None) -> float:
        """Record that the chunk was sent; returns its lateness in seconds."""
        now = self.clock() if now is None else now
        err = now - self.due(audio_start) if self.speed is not None else 0.0
        self.stats.errors.append(err)
        return err
