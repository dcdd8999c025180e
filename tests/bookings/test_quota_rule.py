"""The weekly quota's week, as the SQL rule (migration 0008's yz_quota_refusal) counts it:
Monday 00:00 to Monday 00:00 in the service's zone, not in UTC."""

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

import yizhan.bookings
from yizhan.common.db import libpq_dsn, run_migrations

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13900001234"
WEEKLY = 1  # one booking a week: a second in the same week is refused


def local(hour: int, minute: int = 0, *, day: date) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


@pytest.fixture(scope="module")
def db(new_database: Callable[[str], str]) -> Iterator[psycopg.Connection]:
    url = new_database("bk_quota_rule")
    run_migrations(url, Path(yizhan.bookings.__file__).parent / "migrations")
    with psycopg.connect(libpq_dsn(url), autocommit=True) as connection:
        yield connection


def refusal(db: psycopg.Connection, start: datetime, now: datetime) -> str | None:
    row = db.execute(
        "SELECT yz_quota_refusal(%s, %s, %s, %s, %s, %s, %s, %s)",
        (PHONE, start, now, "Asia/Shanghai", timedelta(days=30), 3, WEEKLY, 10),
    ).fetchone()
    assert row is not None
    found: str | None = row[0]
    return found


def book(db: psycopg.Connection, start: datetime) -> None:
    point = db.execute(
        "INSERT INTO livestream_points (station_id, name, slot_minutes, min_notice_minutes,"
        " max_days_ahead, max_steps, active) VALUES ('CQ-1', '直播点', 30, 0, 30, 4, true)"
        " RETURNING id"
    ).fetchone()
    assert point is not None
    db.execute(
        "INSERT INTO bookings (code, kind, station_id, livestream_point_id, starts_at, ends_at,"
        " phone, name, status, created_at)"
        " VALUES ('WEEKTEST', 'livestream', 'CQ-1', %s, %s, %s, %s, '骑手', 'confirmed', %s)",
        (point[0], start, start + timedelta(minutes=30), PHONE, start - timedelta(days=7)),
    )


def test_the_week_runs_monday_to_monday_in_the_local_zone(db: psycopg.Connection) -> None:
    now = local(8, day=date(2026, 11, 16))
    assert refusal(db, local(23, 30, day=date(2026, 11, 29)), now) is None
    # Sunday 23:30 in Shanghai (15:30 UTC): the week of Monday 23 November.
    book(db, local(23, 30, day=date(2026, 11, 29)))
    assert refusal(db, local(0, day=date(2026, 11, 23)), now) == "weekly_quota"
    assert refusal(db, local(23, 59, day=date(2026, 11, 29)), now) == "weekly_quota"
    # Monday 00:00 local starts the next week; Sunday 23:59 before it is the week before.
    assert refusal(db, local(0, day=date(2026, 11, 30)), now) is None
    assert refusal(db, local(23, 59, day=date(2026, 11, 22)), now) is None
