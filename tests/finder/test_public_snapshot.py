"""The public API's snapshot without any service (issue 15 item 6): the grid's nearest-first
answer is the one measuring every station would give, and the serialized answer is the same
JSON as the items the finder pages use."""

import json
import random
from datetime import UTC, datetime

import pytest

from yizhan.api.stations.v1 import stations_pb2
from yizhan.bookings.public_stations import (
    Query,
    StationFinder,
    _Entry,
    _rough_key,
    _select,
    _Snapshot,
)

pytestmark = pytest.mark.unit


def _station(n: int, rng: random.Random, *, placed: bool = True) -> stations_pb2.Station:
    station = stations_pb2.Station(
        id=f"S-{n:05d}",
        name_zh=f"驿站{n}",
        name_en=f"Station {n}",
        district=f"区{n % 7}",
        address=f"路{n}号",
        status="active",
        timezone="Asia/Shanghai",
    )
    if placed:
        station.latitude = 29.56 + (rng.random() - 0.5) * 0.35
        station.longitude = 106.55 + (rng.random() - 0.5) * 0.35
    return station


def _snapshot(stations: list[stations_pb2.Station]) -> _Snapshot:
    finder = StationFinder(directory=None, telemetry=None)  # type: ignore[arg-type]
    snap = _Snapshot(stations=stations, generated_at=datetime(2026, 11, 30, tzinfo=UTC))
    snap.index([finder._entry(snap, s) for s in stations])
    return snap


def _brute_force(snap: _Snapshot, lat: float, lng: float, limit: int) -> list[str]:
    ordered = sorted(snap.entries, key=_rough_key(lat, lng))
    return [e.station.id for e in ordered[:limit]]


def test_grid_nearest_first_matches_measuring_every_station() -> None:
    rng = random.Random(16)
    stations = [_station(n, rng) for n in range(3000)]
    stations += [_station(n, rng, placed=False) for n in range(3000, 3010)]
    snap = _snapshot(stations)
    # Inside the city, at its edge, far away (every station measured), and asking for more
    # stations than have coordinates nearby.
    points = [
        (29.56 + (rng.random() - 0.5) * 0.4, 106.55 + (rng.random() - 0.5) * 0.4)
        for _ in range(200)
    ]
    points += [(29.38, 106.37), (39.9, 116.4), (-33.9, 151.2)]
    for lat, lng in points:
        for limit in (1, 20, 200):
            got = [e.station.id for e, _ in _select(snap, Query(lat=lat, lng=lng, limit=limit))]
            assert got == _brute_force(snap, lat, lng, limit), (lat, lng, limit)


def test_unplaced_stations_come_last_once_the_placed_run_out() -> None:
    rng = random.Random(3)
    snap = _snapshot([_station(1, rng), _station(3, rng, placed=False), _station(2, rng)])
    got = _select(snap, Query(lat=29.5, lng=106.5, limit=20))
    assert [e.station.id for e, _ in got][-1] == "S-00003"
    assert got[-1][1] is None


def test_serialized_answer_is_the_items_json() -> None:
    rng = random.Random(5)
    snap = _snapshot([_station(n, rng) for n in range(50)])
    query = Query(lat=29.56, lng=106.55, limit=5)
    items = b",".join(e.prefix + str(d).encode() + b"}" for e, d in _select(snap, query))
    parsed = json.loads(b"[" + items + b"]")
    expected = [{**e.item, "distance_m": d} for e, d in _select(snap, query)]
    assert parsed == expected
    assert all(isinstance(i["distance_m"], int) for i in parsed)


def test_entry_prefix_holds_no_distance() -> None:
    rng = random.Random(7)
    entry: _Entry = _snapshot([_station(1, rng)]).entries[0]
    assert entry.prefix.endswith(b',"distance_m":')
    assert entry.prefix.count(b"distance_m") == 1
