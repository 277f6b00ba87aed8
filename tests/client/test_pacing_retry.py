import itertools

import pytest

from voicelab.client.pacing import Pacer, PacingError
from voicelab.client.retry import RetryPolicy, RetryPolicyError


class FakeClock:
    def __init__(self) -> None:
        self.t = 10.0

    def __call__(self) -> float:
        return self.t


def test_schedule_comes_from_audio_time_so_lateness_never_accumulates():
    clock = FakeClock()
    pacer = Pacer(speed=1.0, clock=clock)
    pacer.start(audio_start=0.0)
    for k in range(1000):
        start = k * 0.02
        clock.t = max(clock.t, pacer.due(start))  # the sleeper wakes exactly when due…
        clock.t += 0.003 if k % 7 == 0 else 0.0005  # …but the send itself takes time, sometimes more
        pacer.sent(start)
    assert pacer.due(999 * 0.02) == pytest.approx(10.0 + 19.98)
    assert max(pacer.stats.errors) <= 0.003 + 1e-9  # each send late by its own cost only
    assert abs(pacer.stats.drift) <= 0.003


def test_speed_and_unpaced():
    clock = FakeClock()
    fast = Pacer(speed=4.0, clock=clock)
    fast.start(audio_start=2.0, now=0.0)
    assert fast.due(6.0) == pytest.approx(1.0)
    assert fast.delay(6.0, now=0.25) == pytest.approx(0.75)
    assert fast.delay(6.0, now=5.0) == 0.0
    free = Pacer(speed=None, clock=clock)
    free.start(now=0.0)
    assert free.due(100.0) == 0.0
    for bad in (0, -1, float("nan"), "1", True):
        with pytest.raises(PacingError, match="speed"):
            Pacer(speed=bad)


def test_backoff_grows_caps_and_jitters_reproducibly():
    pol = RetryPolicy(base=0.5, factor=2, cap=4, jitter=0.5, seed=1)
    d = list(itertools.islice(pol.delays(), 8))
    assert d == list(itertools.islice(RetryPolicy(base=0.5, factor=2, cap=4, jitter=0.5, seed=1).delays(), 8))
    for k, v in enumerate(d):
        raw = min(4, 0.5 * 2**k)
        assert raw * 0.5 <= v <= raw
    assert list(itertools.islice(RetryPolicy(base=1, jitter=0).delays(), 3)) == [1, 2, 4]


def test_decisions():
    pol = RetryPolicy(max_attempts=3)
    assert not pol.decide(attempt=1, status=401).retry
    assert not pol.decide(attempt=1, status=403).retry
    d = pol.decide(attempt=1, status=429, retry_after=2.5, backoff=0.1)
    assert d.retry and d.delay == 2.5 and "Retry-After" in d.reason
    assert pol.decide(attempt=1, status=503, backoff=0.7).delay == 0.7
    assert pol.decide(attempt=2, close_code=1006, backoff=0.1).retry
    assert not pol.decide(attempt=3, close_code=1006).retry
    assert not pol.decide(attempt=1, close_code=1003).retry
    assert RetryPolicy(max_attempts=None).decide(attempt=10_000, close_code=1006).retry
    with pytest.raises(RetryPolicyError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(RetryPolicyError):
        RetryPolicy(jitter=2)
