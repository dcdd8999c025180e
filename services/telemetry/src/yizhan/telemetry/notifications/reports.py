"""District reports through the notification channels (issue 14 item 3). The console builds a
district's report for a period and hands it over here once; it is kept as a notice (one per
district and period: handing it over again sends nothing twice) and becomes one delivery per
channel subscribed to `report.monthly` that covers the district. The notifier sends those
deliveries like alarm deliveries: signed, retried with backoff, kept in the database."""

import base64
from dataclasses import dataclass
from datetime import date, datetime

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

EVENT = "report.monthly"

_NOTICE = """
INSERT INTO report_notices (district, period_first, period_last, created_at)
VALUES (:district, :first, :last, :now)
ON CONFLICT ON CONSTRAINT report_notices_once DO NOTHING
RETURNING id
"""
_CHANNELS = """
SELECT id FROM notification_channels
WHERE :event = ANY(events) AND (cardinality(districts) = 0 OR :district = ANY(districts))
"""
_DELIVERY = """
INSERT INTO notification_deliveries
    (channel_id, report_notice_id, body, next_attempt_at, created_at)
VALUES (:channel, :notice, :body, :now, :now)
"""


@dataclass(frozen=True)
class ReportFacts:
    """What a report delivery carries: the district, the period, a link and the file."""

    district: str
    first: date
    last: date
    title: str
    url: str
    filename: str
    xlsx: bytes


def render(facts: ReportFacts, at: datetime) -> bytes:
    """The delivery's body (signed like an alarm's): the link and the XLSX in base64."""
    return orjson.dumps(
        {
            "event": EVENT,
            "at": at.isoformat(),
            "district": facts.district,
            "period": {"from": facts.first.isoformat(), "to": facts.last.isoformat()},
            "report": {
                "title": facts.title,
                "url": facts.url,
                "filename": facts.filename,
                "xlsx_base64": base64.b64encode(facts.xlsx).decode(),
            },
        }
    )


async def publish(session: AsyncSession, facts: ReportFacts, now: datetime) -> int | None:
    """Queue the report for its channels; how many deliveries, None when it was handed over
    before (nothing is queued again)."""
    notice = await session.scalar(
        text(_NOTICE),
        {"district": facts.district, "first": facts.first, "last": facts.last, "now": now},
    )
    if notice is None:
        await session.rollback()
        return None
    channels = (
        await session.scalars(text(_CHANNELS), {"event": EVENT, "district": facts.district})
    ).all()
    body = render(facts, now)
    for channel in channels:
        await session.execute(
            text(_DELIVERY), {"channel": channel, "notice": notice, "body": body, "now": now}
        )
    await session.commit()
    return len(channels)
