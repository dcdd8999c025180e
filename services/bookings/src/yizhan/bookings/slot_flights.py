"""Bookings of one slot in flight together, answered together (issue 16: a rush on one slot).

When a popular slot opens, hundreds of requests for it reach a worker process within a few
milliseconds, and all but one will be refused. A request that finds another one of the same
point and an overlapping range on its way to the database waits for that one's answer
instead of asking too. When that answer names a confirmed booking that overlaps the waiting
request (the one just made, or the one the database found holding the slot), the waiting
request is refused at once with the same `slot_taken` the database would give. Otherwise (the
leader was refused for its own reasons, a wrong code say), it asks the database itself.

That answer is true for the waiting request only if the database looked after that request
had arrived: a request may take the answer of a flight that asked no earlier than it arrived
(`arrived`, on the monotonic clock), never an older one (a cancel committed in between would
be missed). So a flight boards first: before it asks, the requests that this process has
already received get one turn of the event loop to join it, which in a rush is most of them;
one database call then answers a whole batch. Nothing is remembered once a flight has landed.

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

    def __init__(self) -> None:
        self._flights: dict[int, list[_Flight]] = {}

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
        for flight in self._flights.get(point_id, ()):
            if flight.answers(start, end, arrived, exact=exact):
                held = await asyncio.shield(flight.landed)
                return held is not None and held.refuses(start, end, phone)
        return False

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
            flight.asked_at = time.monotonic()
            answer = await ask()
        except BaseException:
            flight.landed.set_result(None)
            raise
        else:
            flight.landed.set_result(held(answer))
            return answer
        finally:
            flights.remove(flight)
            if not flights:
                del self._flights[point_id]
