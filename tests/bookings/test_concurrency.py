"""Rushes against real PostgreSQL through the HTTP API: hundreds of workers at once for one
slot or one session. Exactly one gets the slot, exactly the seats are confirmed, overlapping
spans never both win, and nobody sees a 5xx.

The service instance of this module raises only what stands in the way of a test sending
every request from one address (the per-client SMS limit); the per-phone limits stay as in
production, which is why every request comes from a phone of its own."""

import itertools
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bookings.conftest import BOOKINGS_TEST_ENV, Network, new_phone, tomorrow
from tests.support.services import RunningService, run_service

pytestmark = pytest.mark.integration

SLOT_RUSH = 200
SEAT_RUSH = 300
SEATS = 30
# Threads that fetch one-time codes before a rush (not part of the rush itself).
PREPARE_THREADS = 16


@pytest.fixture(scope="module")
def rush(
    new_database: Callable[[str], str],
    stations: RunningService,
    admin_token: str,
    workdir: Path,
) -> Iterator[Network]:
    env = {"YZ_STATIONS_GRPC": stations.grpc_address, **BOOKINGS_TEST_ENV}
    database = new_database("bk_rush")
    with run_service("bookings", database, workdir, env=env) as service:
        yield Network(stations, service, admin_token, database)


def _bodies(network: Network, target: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Booking requests of `count` distinct phones, each with its own fresh code."""
    phones = [new_phone() for _ in range(count)]
    with ThreadPoolExecutor(PREPARE_THREADS) as pool:
        codes = list(pool.map(network.otp, phones))
    return [
        {**target, "phone": phone, "name": "骑手", "otp": code}
        for phone, code in zip(phones, codes, strict=True)
    ]


def _race(network: Network, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """Send every request at once (a barrier releases them together), each on a connection
    of its own: one client shared by the threads, fresh, so that no connection it reuses
    was meanwhile closed by the server's keep-alive timeout."""
    barrier = threading.Barrier(len(bodies))
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    # Generous: the assertion is about who wins, and a loaded CI machine may be slow.
    with httpx.Client(base_url=network.bookings.base_url, timeout=180, limits=limits) as client:

        def post(body: dict[str, Any]) -> httpx.Response:
            barrier.wait()
            return client.post(
                "/api/v1/bookings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
            )

        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(post, bodies))


def _statuses(replies: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for reply in replies:
        counts[reply.status_code] = counts.get(reply.status_code, 0) + 1
    return counts


def test_200_workers_one_slot_exactly_one_wins(rush: Network) -> None:
    point = rush.point(rush.station())
    free = next(s for s in rush.slots(point, tomorrow()) if s["available"])
    target = {"livestream_point_id": point, "start": free["start"], "end": free["end"]}
    replies = _race(rush, _bodies(rush, target, SLOT_RUSH))

    assert _statuses(replies) == {201: 1, 409: SLOT_RUSH - 1}
    assert {r.json()["code"] for r in replies if r.status_code == 409} == {"slot_taken"}
    rows = rush.sql(
        "SELECT count(*) FROM bookings WHERE livestream_point_id = %s AND status = 'confirmed'",
        point,
    )
    assert rows == [(1,)]


def test_300_workers_30_seats_exactly_30_confirmed(rush: Network) -> None:
    session_id = rush.forum_session(rush.station(), seats=SEATS, starts_in=timedelta(days=2))
    replies = _race(rush, _bodies(rush, {"forum_session_id": session_id}, SEAT_RUSH))

    assert _statuses(replies) == {201: SEAT_RUSH}
    statuses = [r.json()["status"] for r in replies]
    assert statuses.count("confirmed") == SEATS
    assert statuses.count("waitlisted") == SEAT_RUSH - SEATS
    rows = rush.sql(
        "SELECT status, count(*) FROM bookings WHERE forum_session_id = %s GROUP BY status",
        session_id,
    )
    assert dict(rows) == {"confirmed": SEATS, "waitlisted": SEAT_RUSH - SEATS}


def test_overlapping_spans_never_both_win(rush: Network) -> None:
    point = rush.point(rush.station(), max_steps=3)
    steps = [s for s in rush.slots(point, tomorrow()) if s["available"]][:8]
    rng = random.Random(5)  # a fixed mix of spans
    targets = []
    for _ in range(60):
        first = rng.randrange(len(steps))
        last = min(len(steps) - 1, first + rng.randrange(3))
        targets.append(
            {
                "livestream_point_id": point,
                "start": steps[first]["start"],
                "end": steps[last]["end"],
            }
        )
    bodies = [b for t in targets for b in _bodies(rush, t, 1)]
    replies = _race(rush, bodies)

    counts = _statuses(replies)
    assert set(counts) <= {201, 409}, counts
    assert counts.get(201, 0) >= 1
    won = sorted(
        (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
        for b, r in zip(bodies, replies, strict=True)
        if r.status_code == 201
    )
    for (_, end), (next_start, _) in itertools.pairwise(won):
        assert end <= next_start, won
    (stored,) = rush.sql(
        "SELECT count(*) FROM bookings WHERE livestream_point_id = %s AND status = 'confirmed'",
        point,
    )
    assert stored == (len(won),)
