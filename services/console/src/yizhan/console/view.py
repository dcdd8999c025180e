"""What every console page is made of: headline cards, named tables, chart data, and the
sources that did not answer."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yizhan.console.period import Period, change
from yizhan.console.sources import SourceDown
from yizhan.console.tables import Table


@dataclass
class Card:
    """One headline number: today's and the period's value (None: unavailable), and the
    previous period's for comparison (None: not compared or unavailable)."""

    key: str
    label: str
    today: float | None
    period: float | None
    previous: float | None = None

    @property
    def difference(self) -> float | None:
        """Period minus previous period."""
        if self.period is None or self.previous is None:
            return None
        return self.period - self.previous

    @property
    def change_percent(self) -> float | None:
        """The change from the previous period in percent (None from zero)."""
        return change(self.period, self.previous)


@dataclass
class View:
    """A console page's content: cards, tables, chart data and what could not be had."""

    period: Period
    cards: list[Card] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    now: dict[str, int | None] = field(default_factory=dict)
    # The period the cards' `previous` values cover, when compared.
    previous_period: Period | None = None

    def as_json(self) -> dict[str, Any]:
        """The page's figures for the JSON API."""
        return {
            "period": {
                **self.period.query(),
                "tz": self.period.tz,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "cards": [
                {
                    "key": c.key,
                    "today": c.today,
                    "period": c.period,
                    "previous": c.previous,
                    "change_percent": c.change_percent,
                }
                for c in self.cards
            ],
            "previous_period": None
            if self.previous_period is None
            else {
                "start": self.previous_period.start.isoformat(),
                "end": self.previous_period.end.isoformat(),
            },
            "now": self.now,
            "problems": self.problems,
            "tables": {name: table.as_json() for name, table in self.tables.items()},
        }


async def attempt(view: View, t: Callable[..., str], coroutine: Any) -> Any:
    """Run one source call; on SourceDown note the problem and give None."""
    return await attempt_into(view.problems, t, coroutine)


async def attempt_into(problems: list[str], t: Callable[..., str], coroutine: Any) -> Any:
    """Run one source call; on SourceDown add the problem to `problems` and give None."""
    try:
        return await coroutine
    except SourceDown as exc:
        message = t(f"{exc.source}_unavailable")
        if message not in problems:
            problems.append(message)
        return None
