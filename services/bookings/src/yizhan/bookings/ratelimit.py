"""A sliding-window counter per key, in memory: a cheap first line against floods from one
client address. Per-phone limits live in the database (otp.py) and hold across instances;
this one is per process, so a deployment with several instances also limits at its proxy."""

import math
import time
from collections import deque


class SlidingWindowLimiter:
    """At most `limit` events per key within `window_seconds`."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self._limit = limit
        self._window = window_seconds
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int | None:
        """Record an event; None when allowed, else the seconds until the next is allowed."""
        now = time.monotonic()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self._window:
            events.popleft()
        if len(events) >= self._limit:
            return max(1, math.ceil(self._window - (now - events[0])))
        events.append(now)
        if len(self._events) > 10_000:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        # Bounds memory when many addresses pass by once.
        idle = [k for k, v in self._events.items() if not v or now - v[-1] >= self._window]
        for key in idle:
            del self._events[key]
