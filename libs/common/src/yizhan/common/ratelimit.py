"""The one rate limiter of every service: counters in PostgreSQL (the service's own database,
table `rate_limits`), so every process of a service shares them and a restart keeps them.

A rule lets `free` hits per key and window through at once; past that each hit must wait
`base_delay * 2**(excess - 1)` seconds (at most `max_delay`) after the last one. It slows
down, it never shuts out: whoever waits that long gets another try. A check may be paced by
another key's last hit: the login's account-wide rule counts every client's failures on an
account, yet paces each client by its own last attempt, so that an attacker elsewhere can
slow the real user down by at most `max_delay`, never keep them out.

Waiting hits are not counted (hammering does not lengthen the wait); a success takes its hit
back (`forgive`).
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

TABLE = "rate_limits"
# Counters untouched this long are deleted (every window is far shorter), by whichever
# process makes the PURGE_EVERY-th attempt: no background task needed in any service.
IDLE_RETENTION = timedelta(days=1)
PURGE_EVERY = 1000


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True)),
    ]


rate_limits = sa.Table(TABLE, sa.MetaData(), *_columns())


def add_table(metadata: sa.MetaData) -> sa.Table:
    """Declare `rate_limits` in a service's models too (so that its schema check knows it)."""
    return sa.Table(TABLE, metadata, *_columns())


@dataclass(frozen=True)
class Rule:
    """How many hits a key gets per window before each further one has to wait."""

    name: str
    free: int
    window: timedelta
    base_delay: float
    max_delay: float

    def delay(self, hits: int) -> float:
        """Seconds between hits once `hits` were made in the window."""
        if hits < self.free:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2 ** min(hits - self.free, 30)))


@dataclass(frozen=True)
class Check:
    """One rule applied to one subject (an account, a client address, a phone). With
    `paced_by`, the wait runs from that subject's last hit under the same rule instead."""

    rule: Rule
    subject: str
    paced_by: str | None = None

    @property
    def key(self) -> str:
        """The counter's key."""
        return f"{self.rule.name}:{self.subject}"

    @property
    def pace_key(self) -> str:
        """The counter whose last hit the wait runs from."""
        return f"{self.rule.name}:{self.paced_by}" if self.paced_by is not None else self.key


class RateLimiter:
    """Counts hits in PostgreSQL; `attempt` says how long to wait, or records the hit."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._attempts = 0

    async def attempt(self, checks: Sequence[Check]) -> int | None:
        """Record one hit under every check; or, when one of them must wait, record nothing
        and return the whole seconds to wait."""
        self._attempts += 1
        if self._attempts % PURGE_EVERY == 0:
            await self.purge(IDLE_RETENTION)
        keys = sorted({c.key for c in checks} | {c.pace_key for c in checks})
        async with self._sessions.begin() as session:
            now = await _now(session)
            rows = await _locked_rows(session, keys, now)
            wait = 0.0
            for check in checks:
                hits = _hits(rows[check.key], check.rule, now)
                last_at = rows[check.pace_key][1]
                delay = check.rule.delay(hits)
                if delay and last_at is not None:
                    wait = max(wait, delay - (now - last_at).total_seconds())
            if wait > 0:
                return max(1, math.ceil(wait))
            for key in keys:
                rule = next(c.rule for c in checks if key in (c.key, c.pace_key))
                counted = key in {c.key for c in checks}
                hits = _hits(rows[key], rule, now)
                fresh = hits == 0
                await session.execute(
                    sa.update(rate_limits)
                    .where(rate_limits.c.key == key)
                    .values(
                        hits=hits + 1 if counted else hits,
                        window_start=now if fresh and counted else rows[key][2],
                        last_at=now,
                    )
                )
        return None

    async def forgive(self, checks: Sequence[Check]) -> None:
        """Take back one hit of each check (the attempt succeeded)."""
        async with self._sessions.begin() as session:
            await session.execute(
                sa.update(rate_limits)
                .where(rate_limits.c.key.in_([c.key for c in checks]))
                .values(hits=sa.func.greatest(rate_limits.c.hits - 1, 0))
            )

    async def purge(self, older_than: timedelta) -> int:
        """Drop counters untouched for `older_than` (housekeeping); how many went."""
        async with self._sessions.begin() as session:
            now = await _now(session)
            result = await session.execute(
                sa.delete(rate_limits).where(
                    sa.func.coalesce(rate_limits.c.last_at, rate_limits.c.window_start)
                    < now - older_than
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)


class LocalRateLimiter:
    """The same rules, counted in this process's memory: for a path too hot for a database
    round trip per request (the public station API at thousands of requests a second). Each
    worker process counts on its own, so a client whose requests reach W processes gets up to
    W times the budget; cheap is the point. Idle counters are dropped as they age out."""

    def __init__(self, rule: Rule, clock: Callable[[], float] = time.monotonic) -> None:
        self._rule = rule
        self._clock = clock
        # subject -> [hits in the window, window start, last hit]
        self._counters: dict[str, list[float]] = {}
        self._attempts = 0

    def attempt(self, subject: str) -> int | None:
        """Record one hit of `subject`; or, when it must wait, record nothing and return the
        whole seconds to wait."""
        now = self._clock()
        self._attempts += 1
        if self._attempts % PURGE_EVERY == 0:
            self._purge(now)
        counter = self._counters.get(subject)
        if counter is None or now - counter[1] >= self._rule.window.total_seconds():
            counter = self._counters[subject] = [0, now, now]
        delay = self._rule.delay(int(counter[0]))
        wait = delay - (now - counter[2]) if delay else 0.0
        if wait > 0:
            return max(1, math.ceil(wait))
        counter[0] += 1
        counter[2] = now
        return None

    def _purge(self, now: float) -> None:
        horizon = max(self._rule.window.total_seconds(), self._rule.max_delay)
        for subject in [s for s, c in self._counters.items() if now - c[2] > horizon]:
            del self._counters[subject]


async def _now(session: AsyncSession) -> datetime:
    # The database's clock: every process of every host agrees on it.
    moment: datetime = (await session.execute(sa.select(sa.func.now()))).scalar_one()
    return moment


async def _locked_rows(
    session: AsyncSession, keys: list[str], now: datetime
) -> dict[str, tuple[int, datetime | None, datetime]]:
    """(hits, last_at, window_start) per key, each row locked (created when new); sorted
    keys, so two attempts lock in the same order."""
    await session.execute(
        insert(rate_limits)
        .values([{"key": k, "hits": 0, "window_start": now} for k in keys])
        .on_conflict_do_nothing()
    )
    query = (
        sa.select(
            rate_limits.c.key,
            rate_limits.c.hits,
            rate_limits.c.last_at,
            rate_limits.c.window_start,
        )
        .where(rate_limits.c.key.in_(keys))
        .order_by(rate_limits.c.key)
        .with_for_update()
    )
    rows = (await session.execute(query)).all()
    return {row.key: (row.hits, row.last_at, row.window_start) for row in rows}


def _hits(row: tuple[int, datetime | None, datetime], rule: Rule, now: datetime) -> int:
    hits, _, window_start = row
    return 0 if now - window_start >= rule.window else hits


def create_table() -> None:
    """Create `rate_limits` (call from a service's Alembic migration)."""
    from alembic import op  # only inside a migration

    op.create_table(TABLE, *_columns())


def drop_table() -> None:
    """Drop `rate_limits` (a migration's downgrade)."""
    from alembic import op

    op.drop_table(TABLE)
