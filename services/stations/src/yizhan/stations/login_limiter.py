"""Slows down password guessing: a few login attempts per username and minute."""

import time
from collections import deque

WINDOW_SECONDS = 60.0


class LoginLimiter:
    """Sliding-window count of recent attempts per username (one process; enough for one
    stations instance, which is where logins happen)."""

    def __init__(self, attempts_per_minute: int) -> None:
        self._limit = attempts_per_minute
        self._attempts: dict[str, deque[float]] = {}

    def allow(self, username: str) -> bool:
        """Record an attempt; False when the username is over its limit."""
        now = time.monotonic()
        recent = self._attempts.setdefault(username, deque())
        while recent and now - recent[0] > WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= self._limit:
            return False
        recent.append(now)
        return True
