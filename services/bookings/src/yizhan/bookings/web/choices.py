"""What the form offers: stations to find, and at one station the free livestream starts of a
day and the sessions open for registration. Read from the same services as the JSON API."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from yizhan.bookings import repository, search_text, texts
from yizhan.bookings.availability import FALLBACK_TIMEZONE, station_zone
from yizhan.bookings.context import Deps
from yizhan.bookings.peers.stations import StationInfo
from yizhan.bookings.texts import Lang
from yizhan.bookings.web.display import moment, when
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
    """Stations whose name (Chinese, pinyin, English) or id contains `query`, in `district`
    when one is chosen."""
    needle = search_text.needle_of(query)
    return [
        f
        for f in found
        if (not district or f.info.district == district)
        and search_text.matches(
            needle, search_text.searchable(f.info.name_zh, f.info.name_en, f.info.id)
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
    deps: Deps, station: StationInfo, day: date, lang: Lang, chosen: str = ""
) -> list[dict[str, Any]]:
    """Per active point: its name, step, longest booking, and the free starts of `day`
    (also grouped by part of the day)."""
    tz = zone_of(station)
    async with deps.sessions() as session:
        points = await repository.list_points(session, [station.id])
    listed = []
    for point in points:
        _, slots = await deps.availability.day_slots(point, day)
        free = [s for s in slots if s.available]
        # The start alone ("14:00"): the legend says these are starts, and three fit a row.
        starts = [(slot_value(point.id, s.start), f"{s.start.astimezone(tz):%H:%M}") for s in free]
        hours = [s.start.astimezone(tz).hour for s in free]
        listed.append(
            {
                "id": point.id,
                "name": point.name,
                "slot_minutes": point.slot_minutes,
                "max_steps": point.max_steps,
                "starts": starts,
                "parts": day_parts(starts, hours, chosen, lang),
            }
        )
    return listed


# Parts of the day the slot buttons are grouped in (start hour, key), so that a station
# open round the clock shows four lines, not 48 buttons, until the worker opens one.
DAY_PARTS = ((0, "night"), (6, "morning"), (12, "afternoon"), (18, "evening"))
# Up to this many free starts in a day, every part is open from the start.
OPEN_ALL_UP_TO = 12


def day_parts(
    starts: list[tuple[str, str]], hours: list[int], chosen: str, lang: Lang
) -> list[dict[str, Any]]:
    """The starts grouped by part of the day (empty parts left out), each part folded
    (<details>, no JavaScript needed) unless the day is short or it holds the chosen start."""
    parts: list[dict[str, Any]] = []
    for (value, label), hour in zip(starts, hours, strict=True):
        key = next(k for start, k in reversed(DAY_PARTS) if hour >= start)
        if not parts or parts[-1]["key"] != key:
            parts.append({"key": key, "label": texts.text(f"form.part_{key}", lang), "starts": []})
        parts[-1]["starts"].append((value, label))
    for part in parts:
        # A short day shows whole; a long one opens only the part of the worker's choice.
        part["open"] = len(starts) <= OPEN_ALL_UP_TO or any(
            value == chosen for value, _ in part["starts"]
        )
    return parts


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
