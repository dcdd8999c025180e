"""A demo network's past (`yz-bookings demo-history`, refused with YZ_ENV=prod): weeks of
forum sessions with their seats, check-ins, no-shows, the opinions raised there and the
measures they led to, and a season of market-day livestreams with what they earned, at every
station that has a livestream point.

The booking API rightly refuses the past (a slot that has started cannot be booked), so a
demo's history cannot come through it; bookings writes it into its own tables here, leaving
the same statuses, check-in and no-show fields and outcomes its live paths leave. It runs
once: stations that already have bookings starting before today are left alone, and only
the stations named are touched (others, made meanwhile by people or tests, never are)."""

import argparse
import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.codes import new_booking_code
from yizhan.bookings.models import (
    CANCELLED,
    CONFIRMED,
    FORUM,
    LIVESTREAM,
    NO_SHOW,
    OPINION_DECLINED,
    OPINION_IN_PROGRESS,
    OPINION_RECEIVED,
    OPINION_RESOLVED,
    Booking,
    ForumSession,
    LivestreamOutcome,
    LivestreamPoint,
    Opinion,
)
from yizhan.bookings.settings import Settings
from yizhan.common.db import create_engine, session_factory

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_WEEKS = 6
# Country markets (赶场) in Chongqing's towns come round on fixed days of the month; the
# livestream corner is busiest then, when villagers bring their produce to town.
MARKET_DAYS = frozenset({1, 4, 7, 11, 14, 17, 21, 24, 27})
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
GIVEN = ("伟", "芳", "军", "敏", "强", "丽", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平")
PRODUCE = ("大米", "腌菜", "金佛山方竹笋", "南川茶叶", "土蜂蜜", "腊肉", "脐橙")
RECORDER = "demo"

# Topics of the weekly forum session: (zh · en, kind, seats).
SESSIONS = (
    ("渝议事：商圈取餐停车难 · Forum: nowhere to park when collecting orders", "forum", 30),
    ("骑手权益与劳动保障座谈 · Riders' rights and social insurance", "forum", 24),
    ("免费体检 · Free health check for new-form workers", "health_check", 40),
    ("电动车安全充电培训 · Safe e-bike charging training", "training", 30),
    ("渝议事：小区进门难 · Forum: getting into residential compounds", "forum", 30),
    ("交通安全与急救培训 · Road safety and first aid training", "training", 25),
)
# What riders raise, by category, and the measure that answers a category (many opinions are
# grouped under one measure).
OPINIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "parking": (
        ("商场门口取餐没地方停车，常被贴条", "小区门口停车要绕很远", "写字楼不让电动车靠近"),
        "与商场物业协商，划定骑手临时停车区 20 个车位",
    ),
    "rest_space": (
        ("中午想找个地方歇脚，驿站座位不够", "希望夜里也能开放休息区"),
        "驿站增加 6 个座位并延长开放至 22:00",
    ),
    "charging": (
        ("换电柜排队太久", "充电口经常被占满"),
        "新增 2 台换电柜，充电口由 4 个增至 8 个",
    ),
    "water_food": (("饭凉了没地方加热", "饮水机夏天水不够"), "配置微波炉，饮水机改为每日两次补水"),
    "pay_insurance": (
        ("职业伤害保障不知道怎么申请", "平台扣款规则不透明"),
        "区总工会开设每周二政策咨询，协调平台公开扣款规则",
    ),
    "platform_rules": (("超时罚款太重，电梯等待不算时间",), "与平台座谈，约定电梯等待计入配送时间"),
    "traffic_safety": (
        ("路口红绿灯时间太短", "夜间道路照明差"),
        "交管部门调整信号灯配时并增设路灯",
    ),
}


@dataclass(frozen=True)
class Point:
    """A station's livestream point, as the history needs it."""

    id: int
    station_id: str
    slot_minutes: int


def _person(rng: random.Random) -> tuple[str, str]:
    """A made-up phone number (in the 199 range) and name."""
    phone = "199" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return phone, rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))


def _spread(station_id: str) -> int:
    """A small number that differs between stations, so their weeks do not look alike."""
    return sum(map(ord, station_id))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ)


def _booking(
    kind: str, station_id: str, start: datetime, end: datetime, rng: random.Random, **target: int
) -> Booking:
    phone, name = _person(rng)
    return Booking(
        code=new_booking_code(),
        kind=kind,
        station_id=station_id,
        starts_at=start,
        ends_at=end,
        phone=phone,
        name=name,
        status=CONFIRMED,
        created_at=start - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 10)),
        **target,
    )


def _attend(booking: Booking, rng: random.Random, no_show_share: float, now: datetime) -> None:
    """Check the booking in at its kiosk (mostly), by hand, or mark it a no-show."""
    draw = rng.random()
    if draw < no_show_share:
        booking.status = NO_SHOW
        booking.no_show_at = min(now, booking.starts_at + timedelta(minutes=15))
    elif draw < no_show_share + 0.05:
        booking.status = CANCELLED
        booking.cancelled_at = booking.starts_at - timedelta(hours=rng.randint(2, 30))
    else:
        booking.checked_in_at = booking.starts_at - timedelta(minutes=rng.randint(0, 14))
        if rng.random() < 0.9:
            booking.checked_in_device = f"{booking.station_id}-kiosk"
        else:
            booking.checked_in_by = "admin"


def _opinions(
    session_row: ForumSession, attendees: list[Booking], rng: random.Random, now: datetime
) -> list[Opinion]:
    """Opinions raised at a session: older ones mostly resolved with a measure."""
    made = []
    age_days = (now - session_row.starts_at).days
    for booking in rng.sample(attendees, min(len(attendees), rng.randint(2, 6))):
        category = rng.choice(list(OPINIONS))
        texts, measure = OPINIONS[category]
        raised = session_row.starts_at + timedelta(minutes=rng.randint(10, 80))
        opinion = Opinion(
            forum_session_id=session_row.id,
            booking_id=booking.id,
            station_id=session_row.station_id,
            category=category,
            text=rng.choice(texts),
            status=OPINION_RECEIVED,
            created_at=raised,
            updated_at=raised,
        )
        draw = rng.random()
        if (age_days > 10 and draw < 0.55) or (age_days > 4 and draw < 0.2):
            opinion.status, opinion.measure = OPINION_RESOLVED, measure
        elif draw < 0.65:
            opinion.status = OPINION_IN_PROGRESS
        elif draw < 0.72:
            opinion.status = OPINION_DECLINED
            opinion.decline_reason = "超出工会职责范围，已转交相关部门"
        if opinion.status != OPINION_RECEIVED:
            opinion.handled_by = "admin"
            opinion.updated_at = raised + timedelta(days=min(age_days, rng.randint(1, 9)))
            if opinion.status in (OPINION_RESOLVED, OPINION_DECLINED):
                opinion.closed_at = opinion.updated_at
        made.append(opinion)
    return made


async def _station_history(
    db: AsyncSession, point: Point, days: list[date], now: datetime
) -> tuple[int, int]:
    """One station's past: a forum session a week and its livestreams. (bookings, outcomes)"""
    rng = random.Random(point.station_id)
    bookings = outcomes = 0
    for index, day in enumerate(days):
        if day.weekday() == _spread(point.station_id) % 5:
            bookings += await _forum_week(db, point, day, index // 7, rng, now)
        slots = _livestream_slots(point, day, rng)
        for start, end in slots:
            booking = _booking(
                LIVESTREAM, point.station_id, start, end, rng, livestream_point_id=point.id
            )
            _attend(booking, rng, 0.08, now)
            db.add(booking)
            bookings += 1
            if booking.checked_in_at is None:
                continue
            await db.flush()
            households = rng.randint(4, 28)
            db.add(
                LivestreamOutcome(
                    booking_id=booking.id,
                    station_id=point.station_id,
                    starts_at=start,
                    households=households,
                    sales_yuan=Decimal(households * rng.randint(60, 260)),
                    note=f"{rng.choice(PRODUCE)}",
                    recorded_by="worker" if rng.random() < 0.7 else "admin",
                    recorded_at=end + timedelta(minutes=rng.randint(5, 120)),
                )
            )
            outcomes += 1
    return bookings, outcomes


def _livestream_slots(
    point: Point, day: date, rng: random.Random
) -> list[tuple[datetime, datetime]]:
    """Back-to-back slots on a market morning; now and then one on an ordinary evening."""
    step = timedelta(minutes=point.slot_minutes)
    if day.day in MARKET_DAYS:
        start, count = _at(day, 9), rng.randint(2, 4)
    elif rng.random() < 0.25:
        start, count = _at(day, 19), 1
    else:
        return []
    slots = []
    for _ in range(count):
        length = step * rng.randint(1, 2)
        slots.append((start, start + length))
        start += length
    return slots


async def _forum_week(
    db: AsyncSession, point: Point, day: date, week: int, rng: random.Random, now: datetime
) -> int:
    topic, kind, seats = SESSIONS[(week + _spread(point.station_id)) % len(SESSIONS)]
    start = _at(day, 15)
    row = ForumSession(
        station_id=point.station_id,
        kind=kind,
        topic=topic,
        host="区总工会 · District union",
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        seats=seats,
        created_at=start - timedelta(days=10),
    )
    db.add(row)
    await db.flush()
    taken = round(seats * rng.uniform(0.55, 1.0))
    made = []
    for _ in range(taken):
        booking = _booking(
            FORUM, point.station_id, start, row.ends_at, rng, forum_session_id=row.id
        )
        _attend(booking, rng, 0.12, now)
        db.add(booking)
        made.append(booking)
    await db.flush()
    attendees = [b for b in made if b.checked_in_at is not None]
    if kind == "forum" and attendees:
        db.add_all(_opinions(row, attendees, rng, now))
    return taken


async def write_history(
    settings: Settings, weeks: int, station_ids: list[str], now: datetime | None = None
) -> int:
    """Write `weeks` of history before today at those of `station_ids` that have a
    livestream point; the bookings made (0 when they already have a past)."""
    now = now or datetime.now(TZ)
    today = now.astimezone(TZ).date()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            past = await db.scalar(
                select(func.count())
                .select_from(Booking)
                .where(Booking.starts_at < _at(today, 0), Booking.station_id.in_(station_ids))
            )
            if past:
                log.info("demo history present; left alone", extra={"bookings": past})
                return 0
            points = [
                Point(p.id, p.station_id, p.slot_minutes)
                for p in await db.scalars(
                    select(LivestreamPoint)
                    .where(LivestreamPoint.active, LivestreamPoint.station_id.in_(station_ids))
                    .order_by(LivestreamPoint.station_id, LivestreamPoint.id)
                )
            ]
            seen: set[str] = set()
            days = [today - timedelta(days=n) for n in range(weeks * 7, 0, -1)]
            made = outcomes = 0
            for point in points:
                if point.station_id in seen:
                    continue
                seen.add(point.station_id)
                bookings, recorded = await _station_history(db, point, days, now)
                made, outcomes = made + bookings, outcomes + recorded
        log.info(
            "demo history written",
            extra={"stations": len(seen), "bookings": made, "outcomes": outcomes},
        )
        return made
    finally:
        await engine.dispose()


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `yz-bookings demo-history`."""
    parser.add_argument("--weeks", type=int, default=DEFAULT_WEEKS)
    parser.add_argument(
        "--stations", required=True, help="comma-separated ids of the demo's stations (only these)"
    )


def run(args: argparse.Namespace, settings: Settings) -> None:
    """`yz-bookings demo-history`: refused in production."""
    if settings.common.env == "prod":
        raise SystemExit("demo-history writes made-up bookings; refused with YZ_ENV=prod")
    station_ids = [s.strip() for s in args.stations.split(",") if s.strip()]
    asyncio.run(write_history(settings, args.weeks, station_ids))
