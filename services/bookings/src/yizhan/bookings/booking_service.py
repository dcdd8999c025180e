"""Taking, reading and cancelling bookings: the transactions that locking.py describes."""

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import idempotency, quotas, repository, seats
from yizhan.bookings.audit import Stamp, booking_snapshot, record
from yizhan.bookings.availability import Availability
from yizhan.bookings.codes import manage_token, new_booking_code, normalize_code, token_matches
from yizhan.bookings.errors import BookingError, Busy, Conflict, InvalidInput, NotFound
from yizhan.bookings.idempotency import StoredKey
from yizhan.bookings.locking import (
    lock_booking,
    lock_forum_session,
)
from yizhan.bookings.metrics import (
    BOOKING_CONFLICTS,
    BOOKING_DEADLOCKS,
    BOOKING_REPLAYS,
    BOOKINGS_CANCELLED,
    BOOKINGS_CREATED,
    booking_phase,
)
from yizhan.bookings.models import (
    CANCELLED,
    CONFIRMED,
    FORUM,
    LIVESTREAM,
    Booking,
    ForumSession,
    LivestreamPoint,
)
from yizhan.bookings.notices import Notices
from yizhan.bookings.otp import OtpService, otp_refusal
from yizhan.bookings.outbox import Outbox, clipped
from yizhan.bookings.plain_sql import fetch_one
from yizhan.bookings.quotas import BookingLimits, quota_refusal
from yizhan.bookings.slot_flights import Held, SlotFlights
from yizhan.common.ttl_cache import TtlCache

log = logging.getLogger(__name__)

# A fresh code is drawn when one is already used; with 32^8 codes a second try is already rare.
CODE_ATTEMPTS = 5
# Tries of a slot's transaction that PostgreSQL rolled back to break a deadlock (see _book).
DEADLOCK_ATTEMPTS = 4
# One slot's booking (migration 0008).
_BOOK_SLOT = (
    "SELECT outcome, booking_id, station_id, stored_fingerprint, stored_booking_id,"
    " taken_start, taken_end, taken_phone"
    " FROM yz_book_slot(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)

# One forum seat's booking (migration 0009).
_BOOK_SEAT = (
    "SELECT outcome, booking_id, status, station_id, stored_fingerprint, stored_booking_id"
    " FROM yz_book_seat(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
# Reads of a forum session moved while it was being booked, before giving up.
SESSION_READS = 3


def _held(answer: tuple[Any, ...], asked: Held) -> Held | None:
    """The confirmed booking a yz_book_slot answer names (slot_flights.py): the one `asked`
    for, made, or the one found holding the slot."""
    outcome, _, _, _, _, taken_start, taken_end, taken_phone = answer
    if outcome == "booked":
        return asked
    if outcome == "slot_taken" and taken_start is not None:
        return Held(taken_start, taken_end, taken_phone)
    return None


def _refusal(key: str) -> BookingError:
    """The error for a refusal of yz_book_slot or yz_book_seat, counted like the same
    refusal elsewhere."""
    if key in ("slot_taken", "already_booked"):
        return Conflict(key)
    if key == "station_closed":
        return InvalidInput(key, field="livestream_point_id")
    if key in ("session_unknown", "session_cancelled", "registration_closed"):
        return InvalidInput(key, field="forum_session_id")
    otp = otp_refusal(key) if key.startswith("otp_") else None
    refusal = otp or quota_refusal(key)
    assert refusal is not None
    return refusal


@dataclass(frozen=True)
class LivestreamChoice:
    """One slot of a livestream point."""

    point_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ForumChoice:
    """A seat in a forum session."""

    session_id: int


Choice = LivestreamChoice | ForumChoice


@dataclass(frozen=True)
class Booker:
    """Who books, and the one-time code that proves the phone is theirs."""

    phone: str
    name: str
    otp: str


@dataclass(frozen=True)
class NewBooking:
    """The answer to a booking request; `replayed` when an earlier request made it."""

    booking: Booking
    manage_token: str
    replayed: bool


def _request_fields(choice: Choice, booker: Booker) -> dict[str, object]:
    """What makes two requests "the same": what is booked and by whom. The one-time code is
    left out: it proves the phone, and a retry may come with a newer code (see _replay)."""
    fields: dict[str, object] = {"phone": booker.phone, "name": booker.name}
    if isinstance(choice, LivestreamChoice):
        fields.update(
            livestream_point_id=choice.point_id,
            start=choice.start.timestamp(),
            end=choice.end.timestamp(),
        )
    else:
        fields["forum_session_id"] = choice.session_id
    return fields


class BookingService:
    """Creates, reads and cancels bookings."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        pool: AsyncConnectionPool[AsyncConnection[TupleRow]],
        availability: Availability,
        otp: OtpService,
        outbox: Outbox,
        notices: Notices,
        token_key: bytes,
        clock: Callable[[], datetime],
        limits: BookingLimits,
        points_cache_seconds: float = 0,
    ) -> None:
        self._sessions = sessions
        # Livestream points as a booking reads them before its checks (_point).
        self._points = TtlCache(points_cache_seconds)
        # Slot bookings on their way to the database (slot_flights.py).
        self._flights = SlotFlights()
        # The booking path's own connections (plain_sql.py): no ORM session around them.
        self._pool = pool
        self._availability = availability
        self._otp = otp
        self._outbox = outbox
        self._notices = notices
        self._token_key = token_key
        self._clock = clock
        self._limits = limits

    def manage_token(self, booking: Booking) -> str:
        """The token of a booking's view-and-cancel link."""
        return manage_token(self._token_key, booking.code)

    async def create(self, choice: Choice, booker: Booker, idempotency_key: str) -> NewBooking:
        """Book a slot or a seat, or replay the booking an earlier request with the same
        Idempotency-Key made."""
        arrived = time.monotonic()
        kind = LIVESTREAM if isinstance(choice, LivestreamChoice) else FORUM
        try:
            if isinstance(choice, LivestreamChoice) and await self._flights.held_by_another(
                choice.point_id, choice.start, choice.end, booker.phone, arrived=arrived, exact=True
            ):
                # A rush on one slot: a request for this very slot, boarding as this one came,
                # was refused or made the booking that refuses this one; its checks were this
                # one's, so they are not done again (slot_flights.py).
                raise Conflict("slot_taken")
            digest = idempotency.fingerprint(_request_fields(choice, booker))
            if isinstance(choice, LivestreamChoice):
                made = await self._create_slot(choice, booker, idempotency_key, digest, arrived)
            else:
                made = await self._create_seat(choice, booker, idempotency_key, digest)
        except Conflict as exc:
            BOOKING_CONFLICTS.labels(kind, exc.key).inc()
            raise
        if isinstance(made, StoredKey):
            return await self._replay_stored(made, digest, booker)
        BOOKINGS_CREATED.labels(kind, made.status).inc()
        self._outbox.wake()
        log.info("booking made", extra={"code": made.code, "kind": kind, "status": made.status})
        return NewBooking(made, self.manage_token(made), replayed=False)

    async def _create_slot(
        self, choice: LivestreamChoice, booker: Booker, key: str, digest: str, arrived: float
    ) -> Booking | StoredKey:
        """A slot: the point (kept a few seconds per process) and the opening hours checked
        while no lock is held, then one call of yz_book_slot (migration 0008) does the rest in
        locking.py's order, a retry's stored key included, and confirms that the point is
        still what was checked (else it is read again and checked again). A request that
        meets another for an overlapping range in flight since it `arrived` waits for that
        one's answer first (slot_flights.py)."""
        for fresh in (False, True):
            point = await self._checked_point(choice, key, fresh=fresh)
            if isinstance(point, StoredKey):
                return point
            # In a rush, the answer of a request for the slot already on its way may do.
            if await self._flights.held_by_another(
                point.id, choice.start, choice.end, booker.phone, arrived=arrived
            ):
                raise Conflict("slot_taken")
            with booking_phase("transaction"):
                made = await self._book_checked_slot(point, choice, booker, key, digest)
            if made is not None:
                return made
        raise RuntimeError(f"livestream point {choice.point_id} keeps changing")

    async def _checked_point(
        self, choice: LivestreamChoice, key: str, *, fresh: bool
    ) -> LivestreamPoint | StoredKey:
        """The point, once the slot was found bookable by its rules and the station's
        hours; a retry of a booking already made gets that booking's key instead, whatever
        the slot is now (started, or no longer on the grid). A slot refused by a kept point's
        rules is checked again against the point read now."""
        try:
            with booking_phase("precheck"):
                point = await self._point(choice.point_id, fresh=fresh)
            if point is None:
                raise InvalidInput("point_unknown", field="livestream_point_id")
            with booking_phase("opening_hours"):
                await self._availability.check_bookable(point, choice.start, choice.end)
        except InvalidInput:
            if not fresh:
                return await self._checked_point(choice, key, fresh=True)
            async with self._pool.connection() as db:
                stored = await idempotency.find(db, key)
            if stored is not None:
                return stored
            raise
        return point

    async def _point(self, point_id: int, *, fresh: bool) -> LivestreamPoint | None:
        """A livestream point as read at most `points_cache_seconds` ago (`fresh`: now). The
        booking itself confirms the facts its checks used (yz_book_slot's point_changed)."""

        async def read() -> LivestreamPoint | None:
            async with self._pool.connection() as db:
                return await repository.detached(db, LivestreamPoint, point_id)

        if fresh:
            self._points.forget(point_id)
        point = await self._points.get(point_id, read)
        if point is None:  # not kept: it may be created in a moment
            self._points.forget(point_id)
        return point

    async def _book_checked_slot(
        self,
        point: LivestreamPoint,
        choice: LivestreamChoice,
        booker: Booker,
        key: str,
        digest: str,
    ) -> Booking | StoredKey | None:
        """The booking of a checked slot; None when the point changed since it was read."""
        for _ in range(CODE_ATTEMPTS):
            booking = Booking(
                code=new_booking_code(),
                phone=booker.phone,
                name=booker.name,
                created_at=self._clock(),
                kind=LIVESTREAM,
                station_id=point.station_id,
                livestream_point_id=point.id,
                starts_at=choice.start,
                ends_at=choice.end,
                status=CONFIRMED,
            )
            answer = await self._flights.fly(
                point.id,
                choice.start,
                choice.end,
                functools.partial(self._book_slot, booking, point, key, digest, booker.otp),
                lambda answer: _held(answer, Held(choice.start, choice.end, booker.phone)),
            )
            outcome, booking_id, station_id, fingerprint, stored_id = answer[:5]
            if outcome == "booked":
                booking.id, booking.station_id = booking_id, station_id
                return booking
            if outcome == "replay":
                return StoredKey(key, fingerprint, stored_id)
            if outcome == "point_changed":
                return None
            if outcome != "code_taken":  # else a code already used: draw another
                raise _refusal(outcome)
        raise RuntimeError("could not draw an unused booking code")

    async def _book_slot(
        self, booking: Booking, point: LivestreamPoint, key: str, digest: str, otp: str
    ) -> tuple[Any, ...]:
        """One call of yz_book_slot: (outcome, booking id, station id, stored fingerprint,
        stored booking id)."""
        assert booking.phone is not None
        arguments = (
            key,
            digest,
            booking.created_at,
            booking.phone,
            booking.name,
            self._otp.code_hash(booking.phone, otp),
            self._otp.max_attempts,
            booking.livestream_point_id,
            [point.slot_minutes, point.max_steps, point.min_notice_minutes, point.max_days_ahead],
            booking.starts_at,
            booking.ends_at,
            booking.code,
            clipped(self._notices.confirmed_text(booking)),
            *quotas.sql_arguments(self._limits),
        )
        return await self._call_booking_function(_BOOK_SLOT, arguments)

    async def _call_booking_function(
        self, statement: str, arguments: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        """The one row of a booking function's call (yz_book_slot, yz_book_seat), tried
        again when PostgreSQL broke a deadlock by rolling it back."""
        for _ in range(DEADLOCK_ATTEMPTS):
            try:
                async with self._pool.connection() as db:
                    row = await fetch_one(db, statement, *arguments)
            except psycopg.errors.DeadlockDetected:
                # Rule 1 of locking.py: slot inserts of a point take turns, but another
                # writer of the point's bookings may still meet one in a deadlock, which
                # PostgreSQL breaks by rolling one back: that one is tried again.
                BOOKING_DEADLOCKS.inc()
                continue
            assert row is not None  # a function's call has its one row
            return row
        raise Busy("database_busy")

    async def _create_seat(
        self, choice: ForumChoice, booker: Booker, key: str, digest: str
    ) -> Booking | StoredKey:
        """A seat: the session read, then one call of yz_book_seat (migration 0009) does the
        rest in locking.py's order under the session's row lock, a retry's stored key
        included; a session moved meanwhile is read again."""
        for _ in range(SESSION_READS):
            with booking_phase("precheck"):
                async with self._pool.connection() as db:
                    forum = await repository.detached(db, ForumSession, choice.session_id)
                    stored = None if forum is not None else await idempotency.find(db, key)
            if stored is not None:
                return stored
            if forum is None:
                raise InvalidInput("session_unknown", field="forum_session_id")
            with booking_phase("transaction"):
                made = await self._book_seat(forum, booker, key, digest)
            if made is not None:
                return made
        raise RuntimeError(f"forum session {choice.session_id} keeps moving")

    async def _book_seat(
        self, forum: ForumSession, booker: Booker, key: str, digest: str
    ) -> Booking | StoredKey | None:
        """The booking of a seat of `forum` as read; None when it has moved since."""
        now = self._clock()
        for _ in range(CODE_ATTEMPTS):
            booking = Booking(
                code=new_booking_code(),
                phone=booker.phone,
                name=booker.name,
                created_at=now,
                kind=FORUM,
                station_id=forum.station_id,
                forum_session_id=forum.id,
                starts_at=forum.starts_at,
                ends_at=forum.ends_at,
                status=CONFIRMED,
            )
            arguments = (
                key,
                digest,
                now,
                booker.phone,
                booker.name,
                self._otp.code_hash(booker.phone, booker.otp),
                self._otp.max_attempts,
                forum.id,
                forum.starts_at,
                forum.ends_at,
                booking.code,
                # Queued by the function only if the seat is confirmed.
                clipped(self._notices.confirmed_text(booking)),
                *quotas.sql_arguments(self._limits),
            )
            answer = await self._call_booking_function(_BOOK_SEAT, arguments)
            outcome, booking_id, status, station_id, fingerprint, stored_id = answer
            if outcome == "booked":
                booking.id, booking.status, booking.station_id = booking_id, status, station_id
                return booking
            if outcome == "replay":
                return StoredKey(key, fingerprint, stored_id)
            if outcome == "session_changed":
                return None
            if outcome != "code_taken":  # else a code already used: draw another
                raise _refusal(outcome)
        raise RuntimeError("could not draw an unused booking code")

    async def _replay_stored(self, stored: StoredKey, digest: str, booker: Booker) -> NewBooking:
        """The booking an earlier request made under a stored key. The retry must come
        from the phone's holder: its code must be one sent to that phone (the first request's
        own code, already used, or a newer one)."""
        if stored.fingerprint != digest:
            raise InvalidInput("idempotency_key_reused", field="header.Idempotency-Key")
        booking = None
        if stored.booking_id is not None:
            async with self._sessions() as session:
                booking = await repository.get_booking(session, stored.booking_id)
        if booking is None:
            raise RuntimeError(f"idempotency key {stored.key!r} has no booking")
        await self._otp.judge(booker.phone, booker.otp, any_recent=True)
        BOOKING_REPLAYS.inc()
        return NewBooking(booking, self.manage_token(booking), replayed=True)

    async def get(self, code: str, token: str) -> Booking:
        """The booking a manage link points to; NotFound unless code and token match."""
        normalized = self._authorized_code(code, token)
        async with self._sessions() as session:
            booking = await repository.get_booking_by_code(session, normalized)
        if booking is None:
            raise NotFound("booking_not_found")
        return booking

    def _authorized_code(self, code: str, token: str) -> str:
        normalized = normalize_code(code)
        if normalized is None or not token_matches(self._token_key, normalized, token):
            # A wrong token looks like an unknown code: links cannot be guessed from codes.
            raise NotFound("booking_not_found")
        return normalized

    async def cancel(self, code: str, token: str) -> Booking:
        """Cancel a booking (again is fine); a freed forum seat goes to the first waitlisted."""
        return await self._cancel(self._authorized_code(code, token), operator=None)

    async def cancel_by_operator(self, code: str, stamp: Stamp) -> Booking:
        """Cancel a booking for an operator (the caller checked the station is theirs); the
        worker is told by SMS, and the cancel is audited."""
        normalized = normalize_code(code)
        if normalized is None:
            raise NotFound("booking_not_found")
        return await self._cancel(normalized, operator=stamp)

    async def _cancel(self, code: str, *, operator: Stamp | None) -> Booking:
        # An operator's cancel tells the worker by SMS and is audited; the worker's own is not.
        queued = False
        async with self._sessions.begin() as session:
            found = await repository.get_booking_by_code(session, code)
            if found is None:
                raise NotFound("booking_not_found")
            # Lock order of locking.py: the forum session before its bookings.
            forum: ForumSession | None = None
            if found.forum_session_id is not None:
                forum = await lock_forum_session(session, found.forum_session_id)
            booking = await lock_booking(session, found.id)
            assert booking is not None
            if booking.status == CANCELLED:
                return booking
            now = self._clock()
            if booking.checked_in_at is not None or now >= booking.starts_at:
                raise Conflict("booking_started")
            freed_seat = booking.status == CONFIRMED
            before = booking_snapshot(booking)
            booking.status = CANCELLED
            booking.cancelled_at = now
            await session.flush()
            if operator is not None:
                record(
                    session,
                    operator,
                    action="cancel",
                    entity="booking",
                    entity_id=booking.code,
                    station_id=booking.station_id,
                    before=before,
                    after=booking_snapshot(booking),
                )
            if operator is not None:
                title = await _title(session, booking, forum)
                self._notices.booking_cancelled(session, booking, title, now)
                queued = True
            if forum is not None and freed_seat:
                promoted = await seats.promote_waitlisted(session, forum, now, self._notices)
                queued = queued or bool(promoted)
        if queued:
            self._outbox.wake()
        BOOKINGS_CANCELLED.labels(booking.kind).inc()
        return booking


async def _title(session: AsyncSession, booking: Booking, forum: ForumSession | None) -> str:
    """What the booking is for, as an SMS names it."""
    if forum is not None:
        return forum.topic
    if booking.livestream_point_id is not None:
        point = await repository.get_point(session, booking.livestream_point_id)
        return point.name if point is not None else ""
    return ""
