"""Requests for one slot in flight together (slot_flights.py): a request that meets another
one of an overlapping range on its way to the database takes that one's answer when it names
a booking of another phone, and asks the database itself otherwise; and only an answer the
database gave after the request arrived."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from yizhan.bookings.slot_flights import Held, SlotFlights

pytestmark = pytest.mark.unit

NINE = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)
POINT = 7


async def _race(landing: Held | None, start: datetime, phone: str) -> tuple[bool, str]:
    """A leader for [NINE, NINE + 1 h) that lands on `landing`; a second request for
    [start, start + 30 min) by `phone` that comes while the leader is in flight."""
    flights = SlotFlights()
    released = asyncio.Event()

    async def ask() -> str:
        await released.wait()
        return "answer"

    leader = asyncio.create_task(
        flights.fly(POINT, NINE, NINE + 2 * HALF_HOUR, ask, lambda _: landing)
    )
    await asyncio.sleep(0)  # the leader is boarding
    follower = asyncio.create_task(
        flights.held_by_another(POINT, start, start + HALF_HOUR, phone, arrived=time.monotonic())
    )
    await asyncio.sleep(0)
    assert not follower.done(), "the follower must wait for the leader's answer"
    released.set()
    return await follower, await leader


def test_a_follower_takes_the_leaders_booking_of_another_phone() -> None:
    made = Held(NINE, NINE + 2 * HALF_HOUR, "13900000001")
    refused, answer = asyncio.run(_race(made, NINE + HALF_HOUR, "13900000002"))
    assert refused
    assert answer == "answer"


def test_a_follower_of_the_same_phone_asks_the_database() -> None:
    # It may be a retry of that very booking, which gets the booking back.
    made = Held(NINE, NINE + 2 * HALF_HOUR, "13900000001")
    refused, _ = asyncio.run(_race(made, NINE, "13900000001"))
    assert not refused


def test_a_leader_refused_for_its_own_reasons_decides_nothing() -> None:
    # A wrong code, a quota: the follower asks the database itself.
    refused, _ = asyncio.run(_race(None, NINE, "13900000002"))
    assert not refused


def test_only_the_booking_named_counts_not_the_leaders_range() -> None:
    # The database found 09:00-09:30 held: a follower for 09:30-10:00 is not refused, though
    # the leader had asked for 09:00-10:00.
    held = Held(NINE, NINE + HALF_HOUR, "13900000001")
    refused, _ = asyncio.run(_race(held, NINE + HALF_HOUR, "13900000002"))
    assert not refused


def test_other_points_and_ranges_and_landed_flights_do_not_wait() -> None:
    async def scenario() -> list[bool]:
        flights = SlotFlights()
        never = asyncio.Event()

        async def ask() -> str:
            await never.wait()
            return "answer"

        held = Held(NINE, NINE + HALF_HOUR, "13900000001")
        leader = asyncio.create_task(
            flights.fly(POINT, NINE, NINE + HALF_HOUR, ask, lambda _: held)
        )
        await asyncio.sleep(0)
        answers = [
            await flights.held_by_another(
                POINT + 1, NINE, NINE + HALF_HOUR, "13900000002", arrived=time.monotonic()
            ),
            await flights.held_by_another(
                POINT, NINE + HALF_HOUR, NINE + 2 * HALF_HOUR, "1", arrived=time.monotonic()
            ),
        ]
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        # Landed (here: cancelled): nothing is remembered.
        answers.append(
            await flights.held_by_another(POINT, NINE, NINE + HALF_HOUR, "2", arrived=0.0)
        )
        return answers

    assert asyncio.run(scenario()) == [False, False, False]


def test_a_leader_that_fails_releases_its_followers() -> None:
    async def scenario() -> bool:
        flights = SlotFlights()

        async def ask() -> str:
            await asyncio.sleep(0.01)
            raise RuntimeError("database gone")

        leader = asyncio.create_task(
            flights.fly(POINT, NINE, NINE + HALF_HOUR, ask, lambda _: None)
        )
        await asyncio.sleep(0)
        refused = await flights.held_by_another(
            POINT, NINE, NINE + HALF_HOUR, "13900000002", arrived=time.monotonic()
        )
        with pytest.raises(RuntimeError):
            await leader
        return refused

    assert asyncio.run(scenario()) is False


async def _asked_then(arrived_before_asking: bool, *, exact: bool, start: datetime) -> bool:
    """A leader for [NINE, NINE + 30 min) in flight (it has asked) that lands on a booking of
    another phone; whether a request for [start, start + 30 min) that arrived before or after
    the leader asked waits for it (True) or goes on at once (False)."""
    flights = SlotFlights()
    released = asyncio.Event()
    held = Held(NINE, NINE + HALF_HOUR, "13900000001")

    async def ask() -> str:
        await released.wait()
        return "answer"

    before = time.monotonic()
    leader = asyncio.create_task(flights.fly(POINT, NINE, NINE + HALF_HOUR, ask, lambda _: held))
    for _ in range(3):  # boarded, then asked
        await asyncio.sleep(0)
    after = time.monotonic()
    follower = asyncio.create_task(
        flights.held_by_another(
            POINT,
            start,
            start + HALF_HOUR,
            "13900000002",
            arrived=before if arrived_before_asking else after + 1,
            exact=exact,
        )
    )
    await asyncio.sleep(0)
    waited = not follower.done()
    released.set()
    await leader
    refused = await follower
    assert refused == waited, "a request that waited takes the answer; one that did not, asks"
    return waited


def test_a_request_takes_only_an_answer_asked_for_after_it_arrived() -> None:
    # The database looked after the request came: a true answer for it. Before: a cancel
    # committed in between would be missed, so it asks the database itself.
    assert asyncio.run(_asked_then(True, exact=False, start=NINE)) is True
    assert asyncio.run(_asked_then(False, exact=False, start=NINE)) is False


def test_exact_waits_only_for_the_very_same_range() -> None:
    # Before its own checks a request follows only a request for the same slot, whose checks
    # were its own; an overlapping range is checked first (its end may be off the grid).
    assert asyncio.run(_asked_then(True, exact=True, start=NINE)) is True
    later = NINE + timedelta(minutes=15)
    assert asyncio.run(_asked_then(True, exact=True, start=later)) is False
    assert asyncio.run(_asked_then(True, exact=False, start=later)) is True


class _Database:
    """Answers a flight's `ask` once released, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.released = asyncio.Event()

    async def ask(self) -> str:
        self.calls += 1
        await self.released.wait()
        return "answer"


async def _request(flights: SlotFlights, db: _Database, phone: str, landing: Held | None) -> str:
    """A request for [NINE, NINE + 30 min) as the booking service makes it: a ride if one
    answers it, else a flight of its own that lands on `landing`."""
    arrived = time.monotonic()
    if await flights.held_by_another(POINT, NINE, NINE + HALF_HOUR, phone, arrived=arrived):
        return "refused"
    await flights.fly(POINT, NINE, NINE + HALF_HOUR, db.ask, lambda _: landing)
    return "asked"


def test_a_flight_boards_while_one_over_the_range_is_in_the_air() -> None:
    async def scenario() -> tuple[int, int, list[str]]:
        flights, first, second = SlotFlights(), _Database(), _Database()
        held = Held(NINE, NINE + HALF_HOUR, "13900000001")
        leader = asyncio.create_task(_request(flights, first, "13900000001", held))
        for _ in range(3):  # boarded, then asked
            await asyncio.sleep(0)
        # Came after the leader asked: they cannot take its answer, and fly one flight.
        later = [
            asyncio.create_task(_request(flights, second, f"1390000000{n}", held))
            for n in (2, 3, 4)
        ]
        for _ in range(5):
            await asyncio.sleep(0)
        asked_while_in_the_air = second.calls
        first.released.set()
        second.released.set()
        outcomes = [await leader, *[await task for task in later]]
        return asked_while_in_the_air, second.calls, outcomes

    asked_while_in_the_air, calls, outcomes = asyncio.run(scenario())
    assert asked_while_in_the_air == 0, "the next flight waits for the one in the air"
    assert calls == 1
    assert sorted(outcomes) == ["asked", "asked", "refused", "refused"]


def test_in_a_rush_a_flight_boards_longer() -> None:
    async def scenario(rush_boarding: float) -> tuple[int, str]:
        flights = SlotFlights(rush_boarding_seconds=rush_boarding)
        db = _Database()
        db.released.set()
        held = Held(NINE, NINE + HALF_HOUR, "13900000001")
        await _request(flights, db, "13900000001", held)  # the slot is taken: a rush
        boarding = asyncio.create_task(_request(flights, db, "13900000002", held))
        await asyncio.sleep(0.02)
        # Came 20 ms later: rides the boarding flight if it still boards.
        late = await _request(flights, db, "13900000003", held)
        await boarding
        return db.calls, late

    assert asyncio.run(scenario(rush_boarding=0.2)) == (2, "refused")
    assert asyncio.run(scenario(rush_boarding=0.0)) == (3, "asked")


def test_no_rush_for_another_range_or_once_it_is_over() -> None:
    async def scenario() -> list[bool]:
        flights = SlotFlights(rush_seconds=0.05, rush_boarding_seconds=10.0)
        db = _Database()
        db.released.set()
        held = Held(NINE, NINE + HALF_HOUR, "13900000001")
        await flights.fly(POINT, NINE, NINE + HALF_HOUR, db.ask, lambda _: held)
        rushed = [
            flights._in_rush(POINT, NINE, NINE + HALF_HOUR),
            flights._in_rush(POINT, NINE + HALF_HOUR, NINE + 2 * HALF_HOUR),
            flights._in_rush(POINT + 1, NINE, NINE + HALF_HOUR),
        ]
        await asyncio.sleep(0.06)
        return [*rushed, flights._in_rush(POINT, NINE, NINE + HALF_HOUR)]

    assert asyncio.run(scenario()) == [True, False, False, False]


def test_riders_of_a_leader_refused_for_its_own_reasons_ride_the_next_flight() -> None:
    async def scenario() -> tuple[int, list[str]]:
        flights, wrong_code, next_one = SlotFlights(), _Database(), _Database()
        leader = asyncio.create_task(
            flights.fly(POINT, NINE, NINE + HALF_HOUR, wrong_code.ask, lambda _: None)
        )
        held = Held(NINE, NINE + HALF_HOUR, "13900000002")
        riders = [
            asyncio.create_task(_request(flights, next_one, f"1390000000{n}", held))
            for n in (2, 3, 4)
        ]
        await asyncio.sleep(0)
        wrong_code.released.set()  # the leader lands on nothing
        next_one.released.set()
        await leader
        outcomes = [await rider for rider in riders]
        return next_one.calls, outcomes

    calls, outcomes = asyncio.run(scenario())
    assert calls == 1, "one of the riders asks; the others ride with it, not each asking"
    assert outcomes == ["asked", "refused", "refused"]
