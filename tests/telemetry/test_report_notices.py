"""District reports through the notification channels (issue 14): a report handed over is
queued once per district and period, for exactly the channels that subscribed to
`report.monthly` and cover its district, with the body the notifier will sign and send."""

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

import yizhan.telemetry
from yizhan.common.db import run_migrations
from yizhan.telemetry.notifications import reports

pytestmark = pytest.mark.integration
MIGRATIONS = Path(yizhan.telemetry.__file__).parent / "migrations"
NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)
CHANNELS = {
    # name: (districts, events)
    "district-reports": (["南川区"], ["report.monthly"]),
    "network-reports": ([], ["report.monthly", "alarm.opened"]),
    "district-alarms-only": (["南川区"], ["alarm.opened", "alarm.cleared"]),
    "other-district-reports": (["渝中区"], ["report.monthly"]),
}


async def _scenario(url: str) -> tuple[int | None, int | None, list[tuple[str, bytes]]]:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine)
    facts = reports.ReportFacts(
        "南川区",
        date(2026, 11, 1),
        date(2026, 11, 30),
        "区域运行报告",
        "http://c/r",
        "r.xlsx",
        b"PK",
    )
    try:
        async with sessions() as session:
            for name, (districts, events) in CHANNELS.items():
                await session.execute(
                    text(
                        "INSERT INTO notification_channels (name, kind, url, secret, districts,"
                        " min_severity, events, created_by, created_at) VALUES (:name,"
                        " 'webhook', 'http://127.0.0.1:9/', 'secret-0123456789', :districts,"
                        " 'critical', :events, 'admin', :now)"
                    ),
                    {"name": name, "districts": districts, "events": events, "now": NOW},
                )
            await session.commit()
        async with sessions() as session:
            first = await reports.publish(session, facts, NOW)
        async with sessions() as session:
            again = await reports.publish(session, facts, NOW)
        async with sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT c.name, d.body FROM notification_deliveries d"
                    " JOIN notification_channels c ON c.id = d.channel_id ORDER BY c.name"
                )
            )
            return first, again, [(name, bytes(body)) for name, body in rows.all()]
    finally:
        await engine.dispose()


def test_a_report_is_queued_once_for_the_channels_that_asked(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("tm_reports")
    run_migrations(url, MIGRATIONS)
    first, again, deliveries = asyncio.run(_scenario(url))
    assert (first, again) == (2, None)
    assert [name for name, _ in deliveries] == ["district-reports", "network-reports"]
    body = json.loads(deliveries[0][1])
    assert body["event"] == "report.monthly"
    assert body["district"] == "南川区"
    assert body["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert base64.b64decode(body["report"]["xlsx_base64"]) == b"PK"
