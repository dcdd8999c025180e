"""Feedback left at a station through the QR code on its kiosk (no login), and the station's
quality score that operators see.

Quality score (0–100, over the last `QUALITY_WINDOW`): the mean rating mapped to 0–100
((rating − 1) / 4 × 100), pulled toward 50 by `PRIOR_WEIGHT` neutral ratings, so that one
angry or delighted visitor cannot make a station 0 or 100 on their own:

    score = 100 × (Σ (rating − 1) / 4 + PRIOR_WEIGHT × 0.5) / (n + PRIOR_WEIGHT)

None when nobody left feedback in the window. Beside it: how many forms, the plain average
rating, and how often each problem (locked, no water, ...) was reported."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import FEEDBACK_PROBLEMS, StationFeedback

QUALITY_WINDOW = timedelta(days=30)
PRIOR_WEIGHT = 5
FEEDBACK_SHOWN = 200


@dataclass
class Quality:
    """A station's quality over the window."""

    station_id: str
    count: int = 0
    rating_sum: int = 0
    problems: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEEDBACK_PROBLEMS, 0))

    @property
    def score(self) -> int | None:
        """The quality score (see the module's docstring), None without feedback."""
        if not self.count:
            return None
        points = (self.rating_sum - self.count) / 4 + PRIOR_WEIGHT * 0.5
        return round(100 * points / (self.count + PRIOR_WEIGHT))

    @property
    def average_rating(self) -> float | None:
        """The plain mean of the ratings (1–5), one decimal."""
        return round(self.rating_sum / self.count, 1) if self.count else None


def quality_score(ratings: Sequence[int]) -> int | None:
    """The score of a list of ratings (what `Quality.score` computes from sums)."""
    return Quality("", count=len(ratings), rating_sum=sum(ratings)).score


async def record(
    session: AsyncSession,
    station_id: str,
    rating: int,
    problems: list[str],
    text: str,
    now: datetime,
) -> None:
    """Store one feedback form (already checked)."""
    session.add(
        StationFeedback(
            station_id=station_id, rating=rating, problems=problems, text=text, created_at=now
        )
    )


async def qualities(
    session: AsyncSession, station_ids: Sequence[str] | None, now: datetime
) -> dict[str, Quality]:
    """Quality per station with feedback in the window (all stations when ids is None)."""
    since = now - QUALITY_WINDOW
    base = [StationFeedback.created_at >= since]
    if station_ids is not None:
        base.append(StationFeedback.station_id.in_(station_ids))
    found: dict[str, Quality] = {}
    sums = (
        select(StationFeedback.station_id, func.count(), func.sum(StationFeedback.rating))
        .where(*base)
        .group_by(StationFeedback.station_id)
    )
    for station_id, count, rating_sum in await session.execute(sums):
        found[station_id] = Quality(station_id, int(count), int(rating_sum))
    problem = func.unnest(StationFeedback.problems).label("problem")
    reported = select(StationFeedback.station_id, problem).where(*base).subquery()
    counts = select(reported.c.station_id, reported.c.problem, func.count()).group_by(
        reported.c.station_id, reported.c.problem
    )
    for station_id, name, count in await session.execute(counts):
        found[station_id].problems[name] = int(count)
    return found


async def recent(session: AsyncSession, station_id: str, now: datetime) -> list[StationFeedback]:
    """The station's feedback in the window, newest first."""
    query = (
        select(StationFeedback)
        .where(
            StationFeedback.station_id == station_id,
            StationFeedback.created_at >= now - QUALITY_WINDOW,
        )
        .order_by(StationFeedback.created_at.desc(), StationFeedback.id.desc())
        .limit(FEEDBACK_SHOWN)
    )
    return list((await session.scalars(query)).all())
