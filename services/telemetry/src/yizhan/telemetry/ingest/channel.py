"""A bounded hand-over between two threads that moves messages in chunks.

queue.Queue takes a lock and signals a condition for every item; between the MQTT thread
and the checker that was a tenth of ingest's time. Here one socket read's worth of
messages is handed over, and taken, under one lock.
"""

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    """A FIFO of at most `capacity` items."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._ready = threading.Condition(threading.Lock())

    def qsize(self) -> int:
        """How many items wait."""
        return len(self._items)

    def room(self) -> int:
        """How many more items fit now (only grows until the caller offers more)."""
        return self._capacity - len(self._items)

    def full(self) -> bool:
        """Whether nothing more fits."""
        return len(self._items) >= self._capacity

    def offer(self, items: deque[T]) -> None:
        """Move as many items as fit from the front of `items` (the rest stay there)."""
        with self._ready:
            room = self._capacity - len(self._items)
            if room <= 0 or not items:
                return
            if room >= len(items):
                self._items.extend(items)
                items.clear()
            else:
                for _ in range(room):
                    self._items.append(items.popleft())
            self._ready.notify()

    def take(self, limit: int, timeout: float) -> list[T]:
        """Up to `limit` items, waiting at most `timeout` seconds for the first."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while not self._items:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._ready.wait(remaining)
            items = self._items
            if len(items) <= limit:
                taken = list(items)
                items.clear()
            else:
                taken = [items.popleft() for _ in range(limit)]
            return taken
