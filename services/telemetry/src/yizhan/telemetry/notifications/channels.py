"""Notification channels and their deliveries in the database, scoped like everything else:
an admin sees every channel; a district operator the channels whose districts are all theirs.
A channel created with no districts covers its creator's whole scope: the network for an
admin (stored as no districts), the operator's own districts otherwise (stored as such)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import Operator

SEVERITIES = ("warning", "critical")
EVENTS = ("alarm.opened", "alarm.cleared", "report.monthly")


@dataclass(frozen=True)
class Channel:
    """A channel as operators see it (never its secret)."""

    id: int
    name: str
    kind: str
    url: str
    districts: list[str]
    min_severity: str
    events: list[str]
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One alarm event, or one district report, sent (or being sent) to one channel."""

    id: int
    event: str
    alarm_id: int | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime


_COLUMNS = "id, name, kind, url, districts, min_severity, events, created_by, created_at"
# Visible: every channel for whoever sees the network, else those inside one's districts.
_VISIBLE = "(:everything OR (cardinality(districts) > 0 AND districts <@ CAST(:mine AS text[])))"


def _scope(operator: Operator) -> dict[str, object]:
    return {"everything": operator.sees_everything, "mine": list(operator.districts)}


async def create(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    url: str,
    secret: str,
    districts: Sequence[str],
    min_severity: str,
    events: Sequence[str],
    operator: Operator,
    now: datetime,
) -> int:
    """Store a channel (districts already checked against the operator's scope); its id."""
    if not districts and not operator.sees_everything:
        districts = operator.districts
    channel_id = await session.scalar(
        text(
            "INSERT INTO notification_channels"
            " (name, kind, url, secret, districts, min_severity, events, created_by, created_at)"
            " VALUES (:name, :kind, :url, :secret, :districts, :min_severity, :events,"
            " :by, :now) RETURNING id"
        ),
        {
            "name": name,
            "kind": kind,
            "url": url,
            "secret": secret,
            "districts": sorted(set(districts)),
            "min_severity": min_severity,
            "events": list(dict.fromkeys(events)),
            "by": operator.username,
            "now": now,
        },
    )
    await session.commit()
    return int(channel_id or 0)


async def visible(session: AsyncSession, operator: Operator) -> list[Channel]:
    """The channels the operator may see, oldest first."""
    rows = await session.execute(
        text(
            f"SELECT {_COLUMNS} FROM notification_channels WHERE {_VISIBLE} ORDER BY id"  # noqa: S608 (constants)
        ),
        _scope(operator),
    )
    return [Channel(*row) for row in rows.all()]


async def delete(session: AsyncSession, channel_id: int, operator: Operator) -> bool:
    """Remove a visible channel and its deliveries; False when there is none."""
    removed = await session.scalar(
        text(
            f"DELETE FROM notification_channels WHERE id = :id AND {_VISIBLE} RETURNING id"  # noqa: S608 (constants)
        ),
        {"id": channel_id, **_scope(operator)},
    )
    await session.commit()
    return removed is not None


async def deliveries(
    session: AsyncSession, channel_id: int, operator: Operator, limit: int
) -> list[Delivery] | None:
    """The channel's latest deliveries, newest first; None when the channel is not visible."""
    found = await session.scalar(
        text(f"SELECT id FROM notification_channels WHERE id = :id AND {_VISIBLE}"),  # noqa: S608 (constants)
        {"id": channel_id, **_scope(operator)},
    )
    if found is None:
        return None
    rows = await session.execute(
        text(
            "SELECT d.id, COALESCE(e.event, 'report.monthly'), e.alarm_id, d.status,"
            " d.attempts, d.last_error, d.next_attempt_at, d.sent_at, d.created_at"
            " FROM notification_deliveries d"
            " LEFT JOIN alarm_events e ON e.id = d.alarm_event_id"
            " WHERE d.channel_id = :id ORDER BY d.id DESC LIMIT :limit"
        ),
        {"id": channel_id, "limit": limit},
    )
    return [Delivery(*row) for row in rows.all()]
