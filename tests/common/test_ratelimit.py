"""The shared rate limiter against a real PostgreSQL: free hits, then a doubling wait that
hammering does not lengthen; forgiveness; purging idle counters; one limiter's counters seen
by another (as by another process)."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

import yizhan.bookings
from yizhan.common.db import create_engine, run_migrations, session_factory
from yizhan.common.ratelimit import Check, RateLimiter, Rule

pytestmark = pytest.mark.integration
RULE = Rule("test", free=2, window=timedelta(minutes=5), base_delay=60, max_delay=3600)


def test_delays_double_and_are_capped() -> None:
    assert [RULE.delay(hits) for hits in (0, 1, 2, 3, 4, 12)] == [0, 0, 60, 120, 240, 3600]


def test_counts_are_shared_forgiven_and_purged(new_database: Callable[[str], str]) -> None:
    url = new_database("ratelimit")
    run_migrations(url, Path(yizhan.bookings.__file__).parent / "migrations")

    async def scenario() -> None:
        engine = create_engine(url)
        one, other = RateLimiter(session_factory(engine)), RateLimiter(session_factory(engine))
        check = [Check(RULE, "10.0.0.1")]
        assert await one.attempt(check) is None
        assert await other.attempt(check) is None
        wait = await one.attempt(check)
        assert wait is not None
        assert 55 <= wait <= 60
        # Refused attempts are not counted: the wait does not grow.
        again = await other.attempt(check)
        assert again is not None
        assert again <= wait
        await one.forgive(check)
        assert await other.attempt(check) is None
        assert await one.purge(timedelta(0)) == 1
        assert await one.attempt(check) is None
        await engine.dispose()

    asyncio.run(scenario())
