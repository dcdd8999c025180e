"""The one backoff rule: doubling from the first wait up to a ceiling, reset by a success."""

import pytest

from yizhan.common.backoff import Backoff, backoff_delay

pytestmark = pytest.mark.unit


def test_waits_double_up_to_the_ceiling() -> None:
    assert [backoff_delay(1, 10, n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(30, 3600, 10_000) == 3600
    with pytest.raises(ValueError, match="from 1"):
        backoff_delay(1, 10, 0)


def test_a_success_starts_over() -> None:
    waits = Backoff(first=0.5, ceiling=3)
    assert [waits.next() for _ in range(4)] == [0.5, 1, 2, 3]
    waits.reset()
    assert waits.next() == 0.5
