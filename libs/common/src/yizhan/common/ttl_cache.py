"""A small in-process cache of answers that may be a few seconds old."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")

# Bounds the cache's memory; past this many entries it starts afresh.
CACHE_MAX_ENTRIES = 20_000


class TtlCache:
    """Answers kept for a few seconds: a page and the request that follows it ask the same
    questions, and under a rush hundreds of requests ask them at once. The rule that keeps it
    honest: an answer is at most `ttl_seconds` old (a changed station or opening hours reach
    the caller that much later), and one question in flight is asked once however many
    requests wait on it (no stampede on stations when an entry expires under a rush).
    Used for stations' answers (stations_directory.py) and bookings' livestream points."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    def forget(self, key: Hashable) -> None:
        """Drop the answer kept for `key`: the next `get` loads it again."""
        self._entries.pop(key, None)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The answer for `key`, loaded by `load` unless one at most `ttl_seconds` old is
        kept."""
        if self._ttl <= 0:
            return await load()
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return cast(T, hit[1])
        pending = self._loading.get(key)
        if pending is not None:
            return cast(T, await asyncio.shield(pending))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            # Nobody else may be waiting: do not let the loop report it as never retrieved.
            future.exception()
            raise
        finally:
            del self._loading[key]
        future.set_result(value)
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now, value)
        return value
