"""Bookings of one slot in flight together, answered together (issue 16: a rush on one slot).

When a popular slot opens, hundreds of requests for it reach a worker process within a few
milliseconds, and all but one will be refused. A request that finds another one of the same
point and an overlapping range on its way to the database waits for that one's answer
instead of asking too. When that answer names a confirmed booking that overlaps the waiting
request (the one just made, or the one the database found holding the slot), the waiting
request is refused at once with the same `slot_taken` the database would give. Otherwise (the
leader was refused for its own reasons, a wrong code say), it asks the database itself
(or rides a flight boarding by then).

That answer is true for the waiting request only if the database looked after that request
had arrived: a request may take the answer of a flight that asked no earlier than it arrived
(`arrived`, on the monotonic clock), never an older one (a cancel committed in between would
be missed). So a flight boards first: before it asks, the requests that this process has
already received get one turn of the event loop to join it, which in a rush is most of them;
one database call then answers a whole batch.

In a rush the requests do not come in batches but one after another, each on its own
connection, for as long as the server takes to read them all: a flight that boarded for one
turn of the event loop then carries one request, and nearly every request asks the database
itself (issue 16's benchmark with a client that sends as phones do: about 115 calls for 200
requests). Three rules keep the calls few (about 10 for 200):
- A flight boards for as long as a flight over an overlapping range is in the air: that one's
  answer is too old for the requests that came since, and they ride the next one together.
- Once a flight has landed on a booking holding a range, the range is in a rush for
  RUSH_SECONDS: a flight over it boards RUSH_BOARDING_SECONDS longer. Only requests that will
  most likely be refused wait those milliseconds; the first booking of a slot never does. What
  is remembered is the range and until when, never an answer.
- The riders of a flight whose leader was refused for its own reasons ride the next flight
  rather than each asking in a herd.

A request of the same phone as the holding booking always asks the database: it may be a retry
of that very booking, which gets the booking back (locking.py rule 4). Whatever this module
does, a booking is only ever made by the database (rule 1)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")

# How long a range stays in a rush after a flight landed on a booking holding it, and how long
# a flight over it boards meanwhile: a few milliseconds more for a request about to be refused,
# one database call for the dozens that come in that time (docs/performance.md, fifth round).
RUSH_SECONDS = 1.0
RUSH_BOARDING_SECONDS = 0.004


@dataclass(frozen=True)
class Held:
    """A confirmed booking's range of a point, and whose it is."""

    start: datetime
    end: datetime
    phone: str | None

    def refuses(self, start: datetime, end: datetime, phone: str) -> bool:
        """Whether a request for [start, end) by `phone` must be refused because of it."""
        return self.start < end and start < self.end and self.phone != phone


@dataclass
class _Flight:
    start: datetime
    end: datetime
    landed: "asyncio.Future[Held | None]"
    # When it asked the database (monotonic clock); None while it is still boarding.
    asked_at: float | None = None

    def answers(self, start: datetime, end: datetime, arrived: float, *, exact: bool) -> bool:
        """Whether its answer may do for a request for [start, end) that arrived then."""
        if exact:
            covers = (self.start, self.end) == (start, end)
        else:
            covers = self.start < end and start < self.end
        return covers and (self.asked_at is None or self.asked_at >= arrived)


class SlotFlights:
    """The slot requests of this process on their way to the database, by point."""

    def __init__(
        self,
        rush_seconds: float = RUSH_SECONDS,
        rush_boarding_seconds: float = RUSH_BOARDING_SECONDS,
    ) -> None:
        self._flights: dict[int, list[_Flight]] = {}
        # By point: the range a flight last landed on as held, and until when it is in a rush
        # (one entry per point at most, dropped when found over).
        self._rushes: dict[int, tuple[Held, float]] = {}
        self._rush_seconds = rush_seconds
        self._rush_boarding_seconds = rush_boarding_seconds

    async def held_by_another(
        self,
        point_id: int,
        start: datetime,
        end: datetime,
        phone: str,
        *,
        arrived: float,
        exact: bool = False,
    ) -> bool:
        """Wait for a flight of the point over an overlapping range (the very same range when
        `exact`) that asks the database no earlier than `arrived`, if there is one; True when
        it landed on a booking that refuses this request."""
        while True:
            flight = self._boarding(point_id, start, end, arrived, exact=exact)
            if flight is None:
                return False
            held = await asyncio.shield(flight.landed)
            if held is not None:
                return held.refuses(start, end, phone)
            # Its leader was refused for its own reasons (or met the holder only as a
            # constraint's error): one of those who rode with it may be boarding by now, and
            # its answer does as well, rather than each asking in a herd.

    def _boarding(
        self, point_id: int, start: datetime, end: datetime, arrived: float, *, exact: bool
    ) -> _Flight | None:
        """A flight whose answer may do for a request for [start, end) that arrived then."""
        for flight in self._flights.get(point_id, ()):
            if flight.answers(start, end, arrived, exact=exact):
                return flight
        return None

    async def fly(
        self,
        point_id: int,
        start: datetime,
        end: datetime,
        ask: Callable[[], Awaitable[T]],
        held: Callable[[T], Held | None],
    ) -> T:
        """`ask` the database once the requests already received have boarded, with this
        request in flight meanwhile; `held` reads the booking its answer names as holding the
        range (None: none)."""
        flight = _Flight(start, end, asyncio.get_running_loop().create_future())
        flights = self._flights.setdefault(point_id, [])
        flights.append(flight)
        try:
            await asyncio.sleep(0)  # boarding: one turn of the event loop
            ahead = self._in_the_air(point_id, start, end)
            if ahead is not None:
                # Its answer is too old for those boarding this one; it lands in a moment.
                await asyncio.shield(ahead.landed)
            if self._in_rush(point_id, start, end):
                await asyncio.sleep(self._rush_boarding_seconds)
            flight.asked_at = time.monotonic()
            answer = await ask()
        except BaseException:
            flight.landed.set_result(None)
            raise
        else:
            landing = held(answer)
            flight.landed.set_result(landing)
            if landing is not None:
                self._rushes[point_id] = (landing, time.monotonic() + self._rush_seconds)
            return answer
        finally:
            flights.remove(flight)
            if not flights:
                del self._flights[point_id]

    def _in_the_air(self, point_id: int, start: datetime, end: datetime) -> _Flight | None:
        """A flight of the point over an overlapping range that has asked and not landed."""
        for flight in self._flights.get(point_id, ()):
            asked = flight.asked_at is not None and not flight.landed.done()
            if asked and flight.start < end and start < flight.end:
                return flight
        return None

    def _in_rush(self, point_id: int, start: datetime, end: datetime) -> bool:
        """Whether [start, end) overlaps the range of the point last found held, lately."""
        rush = self._rushes.get(point_id)
        if rush is None:
            return False
        held, until = rush
        if time.monotonic() >= until:
            del self._rushes[point_id]
            return False
        return held.start < end and start < held.end
