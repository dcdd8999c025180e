"""The in-memory rate limiter of hot public paths: the same rule as the shared one (free hits,
then a doubling wait from the last hit that hammering does not lengthen), per subject, a fresh
window after the old one, idle subjects forgotten."""

from datetime import timedelta

import pytest

from yizhan.common.ratelimit import PURGE_EVERY, LocalRateLimiter, Rule

pytestmark = pytest.mark.unit
RULE = Rule("test", free=3, window=timedelta(minutes=1), base_delay=1, max_delay=60)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_hits_then_a_doubling_wait_per_subject() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(RULE, clock)
    assert [limiter.attempt("10.0.0.1") for _ in range(3)] == [None, None, None]
    assert limiter.attempt("10.0.0.1") == 1
    assert limiter.attempt("10.0.0.2") is None  # another client has its own budget
    # Refused hits are not counted: waiting the second out lets the next one through.
    assert limiter.attempt("10.0.0.1") == 1
    clock.now += 1.0
    assert limiter.attempt("10.0.0.1") is None
    assert limiter.attempt("10.0.0.1") == 2  # then two seconds
    clock.now += 2.0
    assert limiter.attempt("10.0.0.1") is None


def test_a_new_window_starts_afresh_and_idle_subjects_are_dropped() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(RULE, clock)
    for _ in range(4):
        limiter.attempt("10.0.0.1")
    clock.now += 61
    assert [limiter.attempt("10.0.0.1") for _ in range(3)] == [None, None, None]
    clock.now += 120
    for n in range(PURGE_EVERY):
        limiter.attempt(f"client-{n}")
    assert "10.0.0.1" not in limiter._counters
