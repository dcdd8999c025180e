"""The housekeeping jobs of issue 15 against a real PostgreSQL, with time driven rather than
waited for: the reminder sweep queues one SMS per booking inside its lead time (once), and the
retention erases phones and names of bookings that ended long enough ago while the rows, and
so the counts, stay."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import yizhan.bookings
from tests.bookings.conftest import Network, new_phone
from tests.bookings.test_confirmation_sms import sent
from tests.support.waiting import wait_until
from yizhan.bookings import housekeeping, reminders
from yizhan.bookings.models import (
    CANCELLED,
    CONFIRMED,
    LIVESTREAM,
    Booking,
    LivestreamPoint,
    SmsOutbox,
)
from yizhan.bookings.notices import Notices
from yizhan.common.db import create_engine, run_migrations, session_factory

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LEAD = timedelta(hours=2)


def _booking(
    point: int, code: str, phone: str, start: datetime, status: str = CONFIRMED
) -> Booking:
    return Booking(
        code=code,
        kind=LIVESTREAM,
        station_id="ST-1",
        livestream_point_id=point,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        phone=phone,
        name="李师傅",
        status=status,
        created_at=start - timedelta(days=1),
    )


def test_reminders_once_within_the_lead_and_retention_keeps_the_counts(
    new_database: Callable[[str], str],
) -> None:
    url = new_database("bk_keeping")
    run_migrations(url, Path(yizhan.bookings.__file__).parent / "migrations")

    async def scenario() -> None:
        engine = create_engine(url)
        sessions = session_factory(engine)
        notices = Notices(
            ZoneInfo("Asia/Shanghai"), link=lambda b: f"https://yz.example/b/{b.code}"
        )
        async with sessions.begin() as session:
            point = LivestreamPoint(station_id="ST-1", name="直播点", slot_minutes=30)
            session.add(point)
            await session.flush()
            session.add_all(
                [
                    _booking(point.id, "SOONAAAA", "13900000001", NOW + timedelta(minutes=90)),
                    _booking(point.id, "LATERAAA", "13900000002", NOW + timedelta(hours=3)),
                    _booking(
                        point.id, "GONEAAAA", "13900000003", NOW + timedelta(minutes=30), CANCELLED
                    ),
                    _booking(point.id, "OLDAAAAA", "13900000004", NOW - timedelta(days=181)),
                    _booking(point.id, "OLD2AAAA", "13900000005", NOW - timedelta(days=179)),
                    _booking(point.id, "JUSTMADE", "13900000006", NOW + timedelta(minutes=40)),
                ]
            )

        async with sessions.begin() as session:
            # Booked 10 minutes ago for 40 minutes on: its confirmation already said when.
            just = await session.scalar(select(Booking).where(Booking.code == "JUSTMADE"))
            assert just is not None
            just.created_at = NOW - timedelta(minutes=10)
        assert await reminders.remind_due(sessions, notices, NOW, LEAD) == 1
        # Again a minute later: already reminded, nothing new.
        assert await reminders.remind_due(sessions, notices, NOW + timedelta(minutes=1), LEAD) == 0
        # An hour on, the later one enters its lead time.
        assert (
            await reminders.remind_due(sessions, notices, NOW + timedelta(hours=1, minutes=5), LEAD)
            == 1
        )
        async with sessions() as session:
            texts = {
                row.phone: row.text
                for row in (
                    await session.scalars(select(SmsOutbox).where(SmsOutbox.purpose == "reminder"))
                )
            }
        assert set(texts) == {"13900000001", "13900000002"}
        assert "SOONAAAA" in texts["13900000001"]
        assert "11月23日" in texts["13900000001"]
        assert "11:30" in texts["13900000001"]
        assert "https://yz.example/b/SOONAAAA" in texts["13900000001"]

        await housekeeping.purge_once(sessions, NOW, timedelta(days=180))
        async with sessions() as session:
            rows = {b.code: b for b in await session.scalars(select(Booking))}
            total = await session.scalar(select(func.count(Booking.id)))
        assert total == 6  # the aggregates keep every booking
        assert rows["OLDAAAAA"].phone is None
        assert rows["OLDAAAAA"].name == ""
        assert rows["OLDAAAAA"].erased_at == NOW
        assert rows["OLD2AAAA"].phone == "13900000005"  # within the retention
        assert rows["SOONAAAA"].phone == "13900000001"
        await engine.dispose()

    asyncio.run(scenario())


def test_the_running_service_sends_the_reminder(network: Network) -> None:
    # The service's own sweep (default lead: two hours) finds a booking made yesterday for a
    # session starting in 100 minutes, and the SMS reaches the dev SMS endpoint.
    station = network.station()
    session_id = network.forum_session(station, seats=5, starts_in=timedelta(minutes=100))
    phone = new_phone()
    code = network.book({"forum_session_id": session_id}, phone).json()["code"]
    network.sql(
        "UPDATE bookings SET created_at = created_at - interval '1 day' WHERE code = %s", code
    )

    def reminded() -> bool:
        return any("提醒" in m["text"] and code in m["text"] for m in sent(network, phone))

    wait_until(reminded, 10)
    assert network.sql("SELECT reminded_at IS NOT NULL FROM bookings WHERE code = %s", code) == [
        (True,)
    ]
