"""The stations directory's cache (libs/common/stations_directory.py): answers kept for their
time to live, and one question asked once however many wait on it (no stampede on stations
when an entry expires under a rush)."""

import asyncio

import pytest

from yizhan.common.ttl_cache import TtlCache

pytestmark = pytest.mark.unit


def test_concurrent_misses_load_once_and_errors_reach_every_waiter() -> None:
    async def scenario() -> None:
        cache = TtlCache(30)
        calls = 0

        async def load() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return "hours"

        answers = await asyncio.gather(*(cache.get("k", load) for _ in range(50)))
        assert answers == ["hours"] * 50
        assert calls == 1
        assert await cache.get("k", load) == "hours"
        assert calls == 1

        async def failing() -> str:
            await asyncio.sleep(0.01)
            raise RuntimeError("stations down")

        results = await asyncio.gather(
            *(cache.get("other", failing) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        # A failure is not kept: the next question asks again.
        assert await cache.get("other", load) == "hours"

    asyncio.run(scenario())
