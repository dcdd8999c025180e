"""Exponential backoff, the one rule every retry loop of the services follows: the first
wait, doubled after each failure, never above a ceiling; a success starts over."""

from dataclasses import dataclass, field


def backoff_delay(first: float, ceiling: float, attempt: int) -> float:
    """The wait after the `attempt`-th consecutive failure (1 for the first)."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    # Capped before it can overflow: 2**1100 is beyond a float.
    return float(min(first * 2 ** min(attempt - 1, 64), ceiling))


@dataclass
class Backoff:
    """The waits of one retry loop: `next()` after a failure, `reset()` after a success."""

    first: float
    ceiling: float
    _failures: int = field(default=0, init=False)

    def next(self) -> float:
        """How long to wait now, one failure later."""
        self._failures += 1
        return backoff_delay(self.first, self.ceiling, self._failures)

    def reset(self) -> None:
        """A success: the next failure waits `first` again."""
        self._failures = 0
