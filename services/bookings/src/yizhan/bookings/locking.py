"""How bookings stay correct when many workers book at once. Read this before changing
booking_service.py, otp.py or checkin.py.

The rules
---------
1. **Livestream slots: the database refuses overlaps.** The EXCLUDE constraint
   `bookings_livestream_no_overlap` (btree_gist, see migration 0001) forbids two *confirmed*
   bookings of one livestream point whose [start, end) ranges overlap. We never check "is the
   slot free?" and then insert: we insert, and PostgreSQL either accepts the row or makes the
   transaction wait for a concurrent writer of a conflicting row and then raises
   `exclusion_violation` (SQLSTATE 23P01), which becomes 409 `slot_taken`. Cancelling sets the
   status to `cancelled`, which takes the row out of the constraint and frees the slot.
   The "available" flag of the slot listing is advice for the form, never the check.
   PostgreSQL checks the constraint after adding the new row's index entry, so two
   overlapping inserts running at once wait for each other, often both ways: a deadlock,
   found only after `deadlock_timeout` (1 s) and ended by rolling one back. So the inserts of
   one point take turns under a transaction-scoped advisory lock on the point, taken just
   before the insert: in a rush the losers meet the winner's committed row at once. A slot's
   whole booking is one call of the SQL function `yz_book_slot` (migration 0008), in the order
   below; a deadlock with some other writer is still tried again (booking_service.py). Before
   anything is locked or written, the function reads whether a confirmed booking already
   overlaps the slot and refuses it then (committed rows only: what it does not see, the
   constraint still decides), and requests of one worker for one slot that are in flight
   together take the answer of the first, when the database gave it after they arrived
   (slot_flights.py).

2. **Forum seats: counted and taken under the session's row lock.** A seat booking is one
   call of the SQL function `yz_book_seat` (migration 0009): it locks the forum session row
   (`SELECT ... FOR UPDATE`), counts the confirmed seats and inserts the new booking
   `confirmed` while a seat is left, else `waitlisted`, all inside PostgreSQL, so that in a
   rush the lock is held for no round trip to the service. Cancelling a seat,
   changing a session's seats or time and cancelling a session (forum_admin.py) take the same
   lock first, so counting, taking and promoting (seats.py, oldest waitlisted first) never
   interleave. Whoever is promoted or moved is told by an SMS queued in the same transaction
   (outbox.py) and sent after commit.
   A phone holds at most one active booking per session (unique index
   `bookings_forum_one_per_phone`; a violation is 409 `already_booked`).

3. **One phone at a time.** Creating a booking takes a transaction-scoped advisory lock on the
   phone number before it consumes the one-time code and counts the phone's active bookings,
   so two requests of one phone cannot both use one code or both slip under the quota.
   Sending a code takes the same lock to count the phone's recent codes.

4. **Idempotency keys are claimed first.** A booking transaction starts by inserting its
   Idempotency-Key (`INSERT ... ON CONFLICT DO NOTHING`). A concurrent request with the same
   key waits on that row; when the first commits it finds the key taken and answers with the
   first request's booking; when the first rolls back (409, 422), the key is free again. A key
   is only ever stored together with the booking it made. A retry is "the same request" when
   it books the same thing for the same phone and name; it must still carry a code sent to
   that phone (the used one, or a newer one), so a key alone never reveals a booking.

5. **No-shows are swept, check-ins win.** The sweep (noshow.py) marks confirmed bookings whose
   check-in window closed with `SELECT ... FOR UPDATE SKIP LOCKED`: a booking being checked in
   at that moment is skipped, and a checked-in booking is never marked. `no_show` takes a slot
   out of rule 1's constraint, freeing the rest of it.

Lock order (always this order, so that transactions cannot deadlock):
idempotency key -> phone advisory lock -> one-time code row -> point advisory lock or forum
session row -> booking rows -> opinion rows. Check-in locks only the booking row; an opinion
is added under its booking's row lock (opinions.py). Calls to other services (stations, SMS)
happen outside these transactions, so no lock is held while waiting on the network.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings.models import Booking, ForumSession
from yizhan.bookings.plain_sql import Db, fetch_one

# SQLSTATEs PostgreSQL raises when a constraint refuses a row.
EXCLUSION_VIOLATION = "23P01"
UNIQUE_VIOLATION = "23505"


async def lock_phone(session: Db, phone: str) -> None:
    """Serialize this transaction with every other one working for the same phone."""
    await fetch_one(session, "SELECT yz_lock_phone(%s)", phone)


async def lock_forum_session(session: AsyncSession, session_id: int) -> ForumSession | None:
    """The forum session, locked until the transaction ends (rule 2)."""
    query = select(ForumSession).where(ForumSession.id == session_id).with_for_update()
    return await session.scalar(query)


async def lock_booking(session: AsyncSession, booking_id: int) -> Booking | None:
    """A booking row, locked until the transaction ends (freshly read, not from the cache)."""
    query = (
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(query)
