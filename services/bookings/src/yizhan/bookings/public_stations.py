"""The public station finder (CONTRACT.md §5): active stations, nearest first, with whether
they are open now and what their equipment can offer. Answers come from a snapshot in memory:
station facts refreshed every `stations_seconds`, device availability every `live_seconds`.
A request that finds only the device state due starts one refresh in the background and is
answered from the snapshot in hand; station facts due, or device state older than
`max_stale_seconds` (an idle process), make requests wait for the refresh, so an answer is
never more than that behind telemetry, and a station added shows in the next answer once its
facts are due, whichever worker answers.

The snapshot is built for speed (issue 15, 2,000 requests a second on two cores): each
station's item is serialized once per refresh (only its distance is added per request), and
positioned stations sit in a grid of cells, so nearest-first looks at the few cells around
the worker instead of measuring all 5,600 stations. The rebuild yields to the event loop
every few hundred stations, so that requests are not held up behind it."""

import asyncio
import dataclasses
import hashlib
import heapq
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from yizhan.bookings import search_text
from yizhan.bookings.errors import PeerUnavailable
from yizhan.bookings.peers.telemetry import LiveDevice, TelemetryClient
from yizhan.common.stations_directory import Station, StationsDirectory, StationsUnavailable

log = logging.getLogger(__name__)

# CONTRACT.md §5: a station is `live` when one of its devices was heard in the last 3 minutes.
HEARD_WITHIN = timedelta(minutes=3)
EARTH_RADIUS_M = 6_371_000.0
# Grid cells of the nearest-first search, in degrees (about 2 km of latitude).
CELL_DEGREES = 0.02
# Stations built into the snapshot between two yields to the event loop.
REBUILD_CHUNK = 256


@dataclass
class Availability:
    """What a station's equipment can offer now (all zero when unknown)."""

    status: str = "unknown"
    last_report: datetime | None = None
    chargers: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "free": 0, "in_use": 0, "out_of_order": 0}
    )
    water: dict[str, int] = field(default_factory=lambda: {"total": 0, "working": 0})

    def as_json(self) -> dict[str, Any]:
        """The contract's `availability` object."""
        return {
            "status": self.status,
            "last_report": self.last_report.isoformat() if self.last_report else None,
            "chargers": dict(self.chargers),
            "water": dict(self.water),
        }


def station_availability(
    kinds: dict[str, str], devices: Sequence[LiveDevice], now: datetime
) -> Availability:
    """A station's availability from its registered devices' kinds and their live state."""
    heard = [d for d in devices if d.device_id in kinds]
    last = max((d.last_seen for d in heard), default=None)
    if last is None or now - last > HEARD_WITHIN:
        return Availability()
    found = Availability(status="live", last_report=last)
    live = {d.device_id: d for d in heard}
    for device_id, kind in kinds.items():
        device = live.get(device_id)
        online = device is not None and device.online
        if kind == "charger":
            found.chargers["total"] += 1
            if not online or (device is not None and device.critical_alarm):
                found.chargers["out_of_order"] += 1
            elif device is not None and device.charging:
                found.chargers["in_use"] += 1
            else:
                found.chargers["free"] += 1
        elif kind == "water":
            found.water["total"] += 1
            if online and device is not None and not device.any_alarm:
                found.water["working"] += 1
    return found


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(a)))


@dataclass(frozen=True)
class Query:
    """A search: position, district, text, how many."""

    lat: float | None = None
    lng: float | None = None
    district: str | None = None
    q: str | None = None
    limit: int = 20


@dataclass(frozen=True)
class _Entry:
    station: Station
    item: dict[str, Any]  # without distance_m
    text: str  # names and address, with their pinyin, for `q` (search_text.py)
    position: tuple[float, float] | None
    # The item serialized up to its distance: `prefix + b"1234}"` is the whole item.
    prefix: bytes


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return (math.floor(lat / CELL_DEGREES), math.floor(lng / CELL_DEGREES))


@dataclass
class _Snapshot:
    stations: list[Station] = field(default_factory=list)
    kinds: dict[str, dict[str, str]] = field(default_factory=dict)  # station -> device -> kind
    stations_at: float = -math.inf
    live: dict[str, list[LiveDevice]] = field(default_factory=dict)
    live_known: bool = False
    live_at: float = -math.inf
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Built once per refresh, so that a request only filters, measures and sorts.
    entries: list[_Entry] = field(default_factory=list)
    grid: dict[tuple[int, int], list[_Entry]] = field(default_factory=dict)
    unplaced: list[_Entry] = field(default_factory=list)  # no coordinates, by id
    by_district: dict[str, list[_Entry]] = field(default_factory=dict)

    def index(self, entries: list[_Entry]) -> None:
        """Keep `entries` and their grid, district and unplaced lists."""
        grid: dict[tuple[int, int], list[_Entry]] = defaultdict(list)
        by_district: dict[str, list[_Entry]] = defaultdict(list)
        unplaced = []
        for entry in entries:
            by_district[entry.station.district].append(entry)
            if entry.position is None:
                unplaced.append(entry)
            else:
                grid[_cell(*entry.position)].append(entry)
        self.entries, self.grid, self.by_district = entries, dict(grid), dict(by_district)
        self.unplaced = sorted(unplaced, key=lambda e: e.station.id)


class StationFinder:
    """Searches the active stations and tells their availability, from a fresh snapshot."""

    def __init__(
        self,
        directory: StationsDirectory,
        telemetry: TelemetryClient | None,
        *,
        stations_seconds: float = 30.0,
        live_seconds: float = 2.0,
        max_stale_seconds: float = 4.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._directory = directory
        self._telemetry = telemetry
        self._stations_seconds = stations_seconds
        self._live_seconds = live_seconds
        self._clock = clock
        self._max_stale = max(max_stale_seconds, live_seconds)
        self._snapshot = _Snapshot()
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self._warming: asyncio.Future[int] | None = None

    def _due(self, snap: _Snapshot, now: float) -> bool:
        return (
            now - snap.stations_at >= self._stations_seconds
            or now - snap.live_at >= self._live_seconds
        )

    async def _fresh(self) -> _Snapshot:
        snap = self._snapshot
        now = time.monotonic()
        if not self._due(snap, now):
            return snap
        stations_due = now - snap.stations_at >= self._stations_seconds
        if not stations_due and now - snap.live_at < self._max_stale:
            # Only the device state is due, and it is recent enough: answer from it, and
            # refresh once in the background.
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh_logged())
            return snap
        # Station facts due (a station added or changed shows on the next answer, from
        # whichever worker), or the device state too old (an idle worker): wait for it.
        await self._refresh()
        return self._snapshot

    async def _refresh_logged(self) -> None:
        try:
            await self._refresh()
        except Exception:  # the snapshot in hand keeps answering; the next request retries
            log.exception("station finder refresh failed")

    async def _refresh(self) -> None:
        """Load what is due and rebuild the snapshot (once, however many ask)."""
        async with self._lock:
            # A copy: requests keep reading the snapshot in hand until the new one is whole.
            snap = dataclasses.replace(self._snapshot)
            now = time.monotonic()
            if not self._due(snap, now):
                return
            if now - snap.stations_at >= self._stations_seconds:
                snap = await self._load_stations(snap, now)
            if now - snap.live_at >= self._live_seconds:
                snap = await self._load_live(snap, now)
            entries = []
            for start in range(0, len(snap.stations), REBUILD_CHUNK):
                entries += [
                    self._entry(snap, s) for s in snap.stations[start : start + REBUILD_CHUNK]
                ]
                await asyncio.sleep(0)
            snap.index(entries)
            self._snapshot = snap

    async def _load_stations(self, snap: _Snapshot, now: float) -> _Snapshot:
        try:
            stations = [s for s in await self._directory.list_stations() if s.status == "active"]
            devices = await self._directory.list_devices([s.id for s in stations])
        except StationsUnavailable as exc:
            if snap.stations_at == -math.inf:
                raise PeerUnavailable("stations_unavailable") from exc
            log.warning("stations unavailable; the finder keeps its last list: %s", exc)
            return snap
        self._warm_search(stations)
        kinds: dict[str, dict[str, str]] = {}
        for device in devices:
            if device.status == "active":
                kinds.setdefault(device.station_id, {})[device.id] = device.kind
        return _Snapshot(
            stations=stations,
            kinds=kinds,
            stations_at=now,
            live=snap.live,
            live_known=snap.live_known,
            live_at=snap.live_at,
            generated_at=snap.generated_at,
        )

    def _warm_search(self, stations: list[Station]) -> None:
        """Build the stations' pinyin in a worker thread; entries pick it up once there."""
        if self._warming is not None and not self._warming.done():
            return
        parts = [(s.name_zh, s.name_en, s.address) for s in stations]
        self._warming = asyncio.ensure_future(asyncio.to_thread(search_text.warm, parts))

    async def _load_live(self, snap: _Snapshot, now: float) -> _Snapshot:
        live: dict[str, list[LiveDevice]] = {}
        known = False
        if self._telemetry is not None:
            try:
                for device in await self._telemetry.live_devices():
                    live.setdefault(device.station_id, []).append(device)
                known = True
            except PeerUnavailable:
                # A degraded peer: the finder still answers, availability `unknown`.
                log.warning("telemetry unavailable; availability unknown")
        snap.live, snap.live_known, snap.live_at = live, known, now
        snap.generated_at = self._clock()
        return snap

    def _entry(self, snap: _Snapshot, station: Station) -> _Entry:
        has_position = station.HasField("latitude") and station.HasField("longitude")
        item = self._item(snap, station, Query())
        without_distance = {k: v for k, v in item.items() if k != "distance_m"}
        return _Entry(
            station=station,
            item=item,
            text=search_text.known_or_plain(station.name_zh, station.name_en, station.address),
            position=(station.latitude, station.longitude) if has_position else None,
            prefix=orjson.dumps(without_distance)[:-1] + b',"distance_m":',
        )

    async def search(self, query: Query) -> dict[str, Any]:
        """The contract's answer: `generated_at` and the matching stations' items."""
        snap = await self._fresh()
        items = [{**e.item, "distance_m": d} for e, d in _select(snap, query)]
        return {"generated_at": snap.generated_at.isoformat(), "items": items}

    async def answer(self, query: Query) -> tuple[bytes, str]:
        """`search`'s answer as JSON bytes, and a weak ETag of its items (the same stations
        in the same state: the same tag, whatever `generated_at` says)."""
        snap = await self._fresh()
        items = (
            b"["
            + b",".join(
                e.prefix + (b"null" if d is None else str(d).encode()) + b"}"
                for e, d in _select(snap, query)
            )
            + b"]"
        )
        tag = hashlib.blake2b(items, digest_size=16).hexdigest()
        generated = orjson.dumps(snap.generated_at.isoformat())
        return b'{"generated_at":' + generated + b',"items":' + items + b"}", f'W/"{tag}"'

    async def one(self, station_id: str) -> tuple[dict[str, Any], str] | None:
        """One active station as an item of the answer (no distance) and its time zone."""
        snap = await self._fresh()
        for station in snap.stations:
            if station.id == station_id:
                return self._item(snap, station, Query()), station.timezone or "Asia/Shanghai"
        return None

    async def week_hours(
        self, station_id: str, timezone: str
    ) -> list[tuple[date, list[tuple[datetime, datetime]]]]:
        """The station's open intervals for today and the six days after, by local day."""
        zone = ZoneInfo(timezone)
        today = self._clock().astimezone(zone).date()
        days = [today + timedelta(days=n) for n in range(7)]
        start = datetime.combine(days[0], datetime.min.time(), zone)
        end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), zone)
        try:
            intervals = await self._directory.opening_hours(station_id, start, end)
        except StationsUnavailable as exc:
            raise PeerUnavailable("stations_unavailable") from exc
        week: dict[date, list[tuple[datetime, datetime]]] = {day: [] for day in days}
        for a, b in intervals:
            # An interval past midnight shows on each local day it covers.
            cursor = a.astimezone(zone)
            b = b.astimezone(zone)
            while cursor < b:
                midnight = datetime.combine(
                    cursor.date() + timedelta(days=1), datetime.min.time(), zone
                )
                piece_end = min(b, midnight)
                if cursor.date() in week:
                    week[cursor.date()].append((cursor, piece_end))
                cursor = piece_end
        return list(week.items())

    async def districts(self) -> list[str]:
        """The districts that have an active station, sorted."""
        snap = await self._fresh()
        return sorted({s.district for s in snap.stations})

    def _item(self, snap: _Snapshot, station: Station, query: Query) -> dict[str, Any]:
        has_position = station.HasField("latitude") and station.HasField("longitude")
        kinds = snap.kinds.get(station.id, {})
        availability = (
            station_availability(kinds, snap.live.get(station.id, []), snap.generated_at)
            if snap.live_known
            else Availability()
        )
        open_now: bool | None = station.open_now
        if station.open_now and availability.status == "unknown":
            open_now = None
        distance = None
        if has_position and query.lat is not None and query.lng is not None:
            distance = distance_m(query.lat, query.lng, station.latitude, station.longitude)
        return {
            "id": station.id,
            "name": {"zh": station.name_zh, "en": station.name_en},
            "district": station.district,
            "address": station.address,
            "latitude": station.latitude if has_position else None,
            "longitude": station.longitude if has_position else None,
            "distance_m": distance,
            "open_now": open_now,
            "amenities": list(station.amenities),
            "availability": availability.as_json(),
        }


def _select(snap: _Snapshot, query: Query) -> list[tuple[_Entry, int | None]]:
    """The entries a query asks for, in order, each with its distance (None without a
    position)."""
    needle = search_text.needle_of(query.q)
    filtered = bool(query.district or needle)
    if filtered:
        pool = snap.by_district.get(query.district, []) if query.district else snap.entries
        entries = [e for e in pool if search_text.matches(needle, e.text)]
    else:
        entries = snap.entries
    if query.lat is None or query.lng is None:
        return [(e, None) for e in entries[: query.limit]]
    lat, lng = query.lat, query.lng
    if filtered:
        chosen = heapq.nsmallest(query.limit, entries, key=_rough_key(lat, lng))
    else:
        chosen = _nearest(snap, lat, lng, query.limit)
    return [
        (e, distance_m(lat, lng, e.position[0], e.position[1]) if e.position else None)
        for e in chosen
    ]


def _rough_key(lat: float, lng: float) -> Callable[[_Entry], tuple[int, float, str]]:
    """Sort key: a flat-earth measure (cheap, the same order at city scale), stations without
    coordinates last, ties by id."""
    scale = math.cos(math.radians(lat)) ** 2

    def rough(e: _Entry) -> tuple[int, float, str]:
        if e.position is None:
            return (1, 0.0, e.station.id)
        dlat, dlng = e.position[0] - lat, e.position[1] - lng
        return (0, dlat * dlat + scale * dlng * dlng, e.station.id)

    return rough


def _nearest(snap: _Snapshot, lat: float, lng: float, limit: int) -> list[_Entry]:
    """The `limit` nearest stations (by `_rough_key`), from the grid: rings of cells around
    the worker's, until no station beyond the rings can be nearer than the `limit`-th found;
    stations without coordinates fill up the rest."""
    key = _rough_key(lat, lng)
    # A station beyond ring r is at least r cells away along one axis: in the flat measure,
    # at least r * reach (a cell along a parallel is the shorter, by cos(lat)).
    reach = math.cos(math.radians(lat)) * CELL_DEGREES
    centre_lat, centre_lng = _cell(lat, lng)
    found: list[_Entry] = []
    visited = 0
    ring = 0
    while visited < len(snap.grid):
        for cell in _ring(centre_lat, centre_lng, ring):
            entries = snap.grid.get(cell)
            if entries:
                found += entries
                visited += 1
        if len(found) >= limit:
            best = heapq.nsmallest(limit, found, key=key)
            if key(best[-1])[1] < (ring * reach) ** 2:
                return best
        ring += 1
        if ring * ring > 4 * len(snap.grid) + 64:
            # Far from every station (the rings would be many and empty): measure them all.
            found = [e for cell in snap.grid.values() for e in cell]
            break
    best = heapq.nsmallest(limit, found, key=key)
    return best + snap.unplaced[: limit - len(best)]


def _ring(lat_cell: int, lng_cell: int, ring: int) -> list[tuple[int, int]]:
    """The cells exactly `ring` steps (Chebyshev) from the centre cell."""
    if ring == 0:
        return [(lat_cell, lng_cell)]
    cells = []
    for d in range(-ring, ring + 1):
        cells += [(lat_cell - ring, lng_cell + d), (lat_cell + ring, lng_cell + d)]
    for d in range(-ring + 1, ring):
        cells += [(lat_cell + d, lng_cell - ring), (lat_cell + d, lng_cell + ring)]
    return cells
