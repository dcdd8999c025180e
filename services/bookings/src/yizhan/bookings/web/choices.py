"""What the form offers: stations to find, and at one station the free livestream starts of a
day and the sessions open for registration. Read from the same services as the JSON API."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from yizhan.bookings import repository, texts
from yizhan.bookings.availability import FALLBACK_TIMEZONE, station_zone
from yizhan.bookings.context import Deps
from yizhan.bookings.peers.stations import StationInfo
from yizhan.bookings.texts import Lang
from yizhan.bookings.web.display import moment, time_range, when
from yizhan.bookings.web.forms import forum_value, slot_value

# Dates offered in the form's date list (the API accepts each point's whole horizon).
DAYS_SHOWN = 7
# Stations listed at once by the finder; more asks the worker to narrow the search.
STATIONS_SHOWN = 50


@dataclass(frozen=True)
class FoundStation:
    """A station the finder lists, with what it offers."""

    info: StationInfo
    points: int
    sessions: int


def station_name(station: StationInfo, lang: Lang) -> str:
    """The station's name in the page's language (Chinese when it has no English name)."""
    return station.name_en if lang == "en" and station.name_en else station.name_zh


async def bookable_stations(deps: Deps) -> list[FoundStation]:
    """Stations taking bookings that have a livestream point or a session open."""
    async with deps.sessions() as session:
        counts = await repository.bookable_counts(session, deps.clock())
    if not counts:
        return []
    stations = await deps.stations.list_stations(ids=sorted(counts))
    return [
        FoundStation(s, *counts[s.id])
        for s in sorted(stations, key=lambda s: (s.district, s.id))
        if s.takes_bookings
    ]


def search(found: list[FoundStation], query: str, district: str) -> list[FoundStation]:
    """Stations whose name or id contains `query`, in `district` when one is chosen."""
    needle = query.strip().casefold()
    return [
        f
        for f in found
        if (not district or f.info.district == district)
        and (
            not needle
            or needle in f.info.name_zh.casefold()
            or needle in f.info.name_en.casefold()
            or needle in f.info.id.casefold()
        )
    ]


def zone_of(station: StationInfo | None) -> ZoneInfo:
    """The station's zone (the default zone before one is chosen)."""
    return station_zone(station) if station else ZoneInfo(FALLBACK_TIMEZONE)


def day_choices(deps: Deps, tz: ZoneInfo, lang: Lang) -> list[tuple[str, str]]:
    """(value, label) of the dates offered, today first."""
    today = deps.clock().astimezone(tz).date()
    days = [today + timedelta(days=offset) for offset in range(DAYS_SHOWN)]
    return [(d.isoformat(), texts.day_label(d, lang, today)) for d in days]


async def livestream_choices(
    deps: Deps, station: StationInfo, day: date, lang: Lang
) -> list[dict[str, Any]]:
    """Per active point: its name, step, longest booking, and the free starts of `day`."""
    tz = zone_of(station)
    async with deps.sessions() as session:
        points = await repository.list_points(session, [station.id])
    listed = []
    for point in points:
        _, slots = await deps.availability.day_slots(point, day)
        listed.append(
            {
                "id": point.id,
                "name": point.name,
                "slot_minutes": point.slot_minutes,
                "max_steps": point.max_steps,
                "starts": [
                    (slot_value(point.id, s.start), time_range(s.start, s.end, tz))
                    for s in slots
                    if s.available
                ],
            }
        )
    return listed


def length_choices(points: list[dict[str, Any]], lang: Lang) -> list[tuple[int, str]]:
    """(steps, label) of the lengths a booking may have at this station."""
    if not points:
        return []
    longest = max(p["max_steps"] for p in points)
    step = min(p["slot_minutes"] for p in points)
    return [
        (n, texts.text("form.length_steps", lang, minutes=n * step)) for n in range(1, longest + 1)
    ]


async def session_choices(deps: Deps, station: StationInfo, lang: Lang) -> list[dict[str, Any]]:
    """Sessions of the station still open for registration, with their free seats."""
    tz = zone_of(station)
    now = deps.clock()
    today = now.astimezone(tz).date()
    async with deps.sessions() as session:
        rows = await repository.list_forum_sessions(session, [station.id], now)
    listed = []
    for forum, taken in rows:
        if now >= forum.registration_closes_at:
            continue
        left = max(0, forum.seats - taken)
        deadline = forum.registration_deadline
        listed.append(
            {
                "value": forum_value(forum.id),
                "kind": texts.text(f"kind.{forum.kind}", lang),
                "topic": forum.topic,
                "host": forum.host,
                "when": when(forum.starts_at, forum.ends_at, tz, today, lang),
                "seats": (
                    texts.text("form.seats_left", lang, count=left)
                    if left
                    else texts.text("form.seats_full", lang)
                ),
                "full": left == 0,
                "deadline": moment(deadline, tz, today, lang) if deadline else None,
            }
        )
    return listed


async def station_or_none(deps: Deps, station_id: str | None) -> StationInfo | None:
    """The station a worker chose, when it takes bookings (None on a bad id)."""
    if not station_id:
        return None
    station = await deps.stations.get_station(station_id)
    return station if station is not None and station.takes_bookings else None
