"""The demo's microwaves follow the riders' meals: lunch and evening peaks, quiet otherwise,
and every use the simulator sends is one the protocol accepts."""

import random

import pytest

from yizhan.devstack.simulator import heat_seconds, heat_uses_per_hour
from yizhan.telemetry.ingest.protocol import MAX_HEAT_SECONDS

pytestmark = pytest.mark.unit


def test_heating_peaks_at_lunch_and_in_the_evening() -> None:
    def per_day_hour(hour: int) -> float:
        """Expected uses within one local hour (sampled every minute)."""
        return sum(heat_uses_per_hour(hour + minute / 60, traffic=1.0) for minute in range(60)) / 60

    rate = {hour: per_day_hour(hour) for hour in range(24)}
    busiest = sorted(rate, key=lambda hour: rate[hour], reverse=True)[:4]
    assert set(busiest) == {11, 12, 18, 19}
    assert min(rate[11], rate[18]) > 5 * rate[15]
    assert rate[3] < rate[12] / 10


def test_simulated_uses_are_within_the_protocol() -> None:
    rng = random.Random(17)
    assert all(1 <= heat_seconds(rng) <= MAX_HEAT_SECONDS for _ in range(10_000))
