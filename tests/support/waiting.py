"""Polling for what real processes do in their own time."""

import time
from collections.abc import Callable
from typing import Any

WAIT_SECONDS = 20.0


def wait_until(
    condition: Callable[[], Any], timeout: float = WAIT_SECONDS, interval: float = 0.05
) -> Any:
    """Poll until `condition()` is truthy; return its value or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
