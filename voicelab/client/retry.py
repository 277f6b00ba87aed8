"""Reconnect policy: exponential backoff with jitter and a retry-or-fail decision per error (pure).

401 and 403 fail at once (a new attempt cannot fix a key); 429 waits for
``Retry-After`` when the server gives it; drops (1006), server errors
(1011, 5xx) and timeouts retry with backoff.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from voicelab.errors import VoicelabError

__all__ = ["Decision", "RetryPolicy", "RetryPolicyError"]

FATAL_STATUSES = frozenset({400, 401, 403, 404})
#: Close codes after which reconnecting is pointless (policy violations such as auth, bad data).
FATAL_CLOSE_CODES = frozenset({1002, 1003, 1007})


class RetryPolicyError(VoicelabError, ValueError):
    """A retry policy parameter is invalid."""


@dataclass(frozen=True)
class Decision:
    """What to do after a failure.

    Attributes:
        retry: Whether to try again.
        delay: Seconds to wait first.
        reason: Why, in words (for logs and errors).
    """

    retry: bool
    delay: float
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    Args:
        max_attempts: Connection attempts in total, including the first; ``None`` for no limit.
        base: First backoff delay, seconds.
        factor: Growth per attempt.
        cap: Longest delay, seconds.
        jitter: Share of each delay that is randomised (0 = none, 1 = "full jitter").
        seed: Seed for the jitter (for reproducible tests); ``None`` uses fresh randomness.
    """

    max_attempts: int | None = 5
    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise RetryPolicyError(f"max_attempts must be >= 1 or None, got {self.max_attempts!r}")
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise RetryPolicyError("base and cap must be >= 0 seconds and factor >= 1")
        if not 0 <= self.jitter <= 1:
            raise RetryPolicyError(f"jitter must be between 0 and 1, got {self.jitter!r}")

    def delays(self) -> Iterator[float]:
        """Backoff delays for attempts 2, 3, … in seconds (jittered, capped)."""
        rng = random.Random(self.seed)
        attempt = 0
        while True:
            raw = min(self.cap, self.base * self.factor**attempt)
            yield raw * (1 - self.jitter) + raw * self.jitter * rng.random()
            attempt += 1

    def decide(
        self,
        *,
        attempt: int,
        status: int | None = None,
        close_code: int | None = None,
        retry_after: float | None = None,
        fatal: bool = False,
        backoff: float = 0.0,
    ) -> Decision:
        """Decide whether attempt ``attempt + 1`` should happen, and when.

        Args:
            attempt: Attempts made so far (1 after the first failure).
            status: HTTP status of a rejected handshake, if any.
            close_code: WebSocket close code of a dropped connection, if any.
            retry_after: The server's ``Retry-After``, seconds.
            fatal: The caller already knows the error is not retryable.
            backoff: The delay the backoff sequence proposes for this attempt.

        Returns:
            The decision.
        """
        if fatal:
            return Decision(False, 0.0, "the error cannot be fixed by reconnecting")
        if status in FATAL_STATUSES:
            return Decision(False, 0.0, f"HTTP {status} will not change on retry")
        if close_code in FATAL_CLOSE_CODES:
            return Decision(False, 0.0, f"close code {close_code} will not change on retry")
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return Decision(False, 0.0, f"gave up after {attempt} attempts")
        if status == 429 and retry_after is not None:
            return Decision(True, max(0.0, retry_after), f"HTTP 429: waiting Retry-After {retry_after:g} s")
        what = f"HTTP {status}" if status else f"close {close_code}" if close_code else "connection failure"
        return Decision(True, backoff, f"{what}: retrying in {backoff:.2f} s (attempt {attempt + 1})")
