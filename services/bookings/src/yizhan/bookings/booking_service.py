"""Taking, reading and cancelling bookings: the transactions that locking.py describes."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import idempotency, quotas, repository, seats
from yizhan.bookings.audit import Stamp, booking_snapshot, record
from yizhan.bookings.availability import Availability
from yizhan.bookings.codes import manage_token, new_booking_code, normalize_code, token_matches
from yizhan.bookings.errors import Busy, Conflict, InvalidInput, NotFound
from yizhan.bookings.idempotency import StoredKey
from yizhan.bookings.locking import (
    lock_booking,
    lock_forum_session,
    lock_phone,
    violated_constraint,
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
    NO_OVERLAP_CONSTRAINT,
    ONE_SEAT_PER_PHONE_INDEX,
    SESSION_CANCELLED,
    Booking,
    ForumSession,
    LivestreamPoint,
)
from yizhan.bookings.notices import Notices
from yizhan.bookings.otp import OtpService
from yizhan.bookings.outbox import Outbox
from yizhan.bookings.plain_sql import Db, fetch_one
from yizhan.bookings.quotas import BookingLimits

log = logging.getLogger(__name__)

# A fresh code is drawn when one is already used; with 32^8 codes a second try is already rare.
CODE_ATTEMPTS = 5
# Tries of a slot's transaction that PostgreSQL rolled back to break a deadlock (see _book).
DEADLOCK_ATTEMPTS = 4
# Every column of a booking, as the plain INSERT returns them.
_BOOKING_FIELDS = tuple(column.key for column in Booking.__table__.columns)
_INSERT_SLOT = sql.SQL(
    "INSERT INTO bookings (code, phone, name, created_at, kind, station_id,"
    " livestream_point_id, starts_at, ends_at, status)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (code) DO NOTHING RETURNING {}"
).format(sql.SQL(", ").join(map(sql.Identifier, _BOOKING_FIELDS)))


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


class _KeyTaken(Exception):
    """Another request committed a booking under the same Idempotency-Key meanwhile."""


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
    ) -> None:
        self._sessions = sessions
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
        return await self._create(choice, booker, idempotency_key)

    async def _create(self, choice: Choice, booker: Booker, idempotency_key: str) -> NewBooking:
        digest = idempotency.fingerprint(_request_fields(choice, booker))
        # One short transaction: a booking already made under this key (a retry), else the
        # code judged under its row lock (a wrong guess counted: committed whatever the
        # verdict), then what is booked.
        stored: StoredKey | None = None
        refusal: InvalidInput | None = None
        point: LivestreamPoint | None = None
        forum: ForumSession | None = None
        with booking_phase("precheck"):
            # The pool's block commits at its end (a wrong guess stays counted).
            async with self._pool.connection() as session:
                stored = await idempotency.find(session, idempotency_key)
                if stored is None:
                    refusal = await self._otp.judge_in(session, booker.phone, booker.otp)
                if stored is None and refusal is None:
                    if isinstance(choice, LivestreamChoice):
                        point = await repository.detached(session, LivestreamPoint, choice.point_id)
                    else:
                        forum = await repository.detached(session, ForumSession, choice.session_id)
        if stored is not None:
            return await self._replay_stored(stored, digest, booker)
        if refusal is not None:
            raise refusal
        # What needs other services is checked first, while no lock is held.
        if isinstance(choice, LivestreamChoice):
            if point is None:
                raise InvalidInput("point_unknown", field="livestream_point_id")
            with booking_phase("opening_hours"):
                await self._availability.check_bookable(point, choice.start, choice.end)
            starts_at = choice.start
        else:
            if forum is None:
                raise InvalidInput("session_unknown", field="forum_session_id")
            # Read without the lock, for the weekly quota; the seat is taken under the lock.
            starts_at = forum.starts_at
        kind = LIVESTREAM if point is not None else FORUM
        now = self._clock()
        try:
            with booking_phase("transaction"):
                booking = await self._book(
                    choice, point, booker, idempotency_key, digest, now, starts_at
                )
        except _KeyTaken:
            replay = await self._replay(idempotency_key, digest, booker)
            if replay is None:
                raise RuntimeError("idempotency key claimed but not stored") from None
            return replay
        except Conflict as exc:
            BOOKING_CONFLICTS.labels(kind, exc.key).inc()
            raise
        BOOKINGS_CREATED.labels(kind, booking.status).inc()
        self._outbox.wake()
        log.info(
            "booking made",
            extra={"code": booking.code, "kind": kind, "status": booking.status},
        )
        return NewBooking(booking, self.manage_token(booking), replayed=False)

    async def _book(
        self,
        choice: Choice,
        point: LivestreamPoint | None,
        booker: Booker,
        idempotency_key: str,
        digest: str,
        now: datetime,
        starts_at: datetime,
    ) -> Booking:
        """The booking's transaction, in locking.py's order; plain statements, one round trip
        each, so that the locks are held for as little time as possible. A slot's runs on a
        pooled connection; a seat's on a session (the seat is counted with the ORM)."""
        if isinstance(choice, LivestreamChoice):
            assert point is not None
            for _ in range(DEADLOCK_ATTEMPTS):
                try:
                    async with self._pool.connection() as db:
                        return await self._book_in(
                            db, choice, point, booker, idempotency_key, digest, now, starts_at
                        )
                except psycopg.errors.DeadlockDetected:
                    # Rule 1 of locking.py: PostgreSQL checks an exclusion constraint after
                    # adding the row's index entry, so two overlapping inserts can each wait
                    # for the other; it rolls one back, which tries again and then meets the
                    # other's committed row (409) or finds the slot free.
                    BOOKING_DEADLOCKS.inc()
            raise Busy("database_busy")
        async with self._sessions.begin() as session:
            return await self._book_in(
                session, choice, point, booker, idempotency_key, digest, now, starts_at
            )

    async def _book_in(
        self,
        session: Db,
        choice: Choice,
        point: LivestreamPoint | None,
        booker: Booker,
        idempotency_key: str,
        digest: str,
        now: datetime,
        starts_at: datetime,
    ) -> Booking:
        """The statements of `_book`, in the transaction of `session`."""
        if not await idempotency.claim(session, idempotency_key, digest, now):
            raise _KeyTaken
        await lock_phone(session, booker.phone)
        await self._otp.consume(session, booker.phone, booker.otp, now)
        await quotas.check(session, self._limits, booker.phone, starts_at, now)
        if isinstance(choice, LivestreamChoice):
            assert point is not None
            booking = await self._take_slot(session, point, choice, booker, now)
        else:
            assert isinstance(session, AsyncSession)
            booking = await self._take_seat(session, choice, booker, now)
        await idempotency.attach(session, idempotency_key, booking.id)
        if booking.status == CONFIRMED:
            await self._notices.confirmed(session, booking, now)
        return booking

    async def _replay(self, key: str, digest: str, booker: Booker) -> NewBooking | None:
        """The booking made earlier with `key`, None when there is none."""
        async with self._sessions() as session:
            stored = await idempotency.find(session, key)
        if stored is None:
            return None
        return await self._replay_stored(stored, digest, booker)

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

    async def _take_slot(
        self,
        session: Db,
        point: LivestreamPoint,
        choice: LivestreamChoice,
        booker: Booker,
        now: datetime,
    ) -> Booking:
        # Rule 1 of locking.py: the EXCLUDE constraint decides whether the slot is free.
        # Plain SQL (plain_sql.py): the one insert every booking of a rush makes.
        for _ in range(CODE_ATTEMPTS):
            try:
                row = await fetch_one(
                    session,
                    _INSERT_SLOT,
                    new_booking_code(),
                    booker.phone,
                    booker.name,
                    now,
                    LIVESTREAM,
                    point.station_id,
                    point.id,
                    choice.start,
                    choice.end,
                    CONFIRMED,
                )
            except psycopg.errors.IntegrityError as exc:
                if exc.diag.constraint_name == NO_OVERLAP_CONSTRAINT:
                    raise Conflict("slot_taken") from exc
                raise
            if row is not None:
                return Booking(**dict(zip(_BOOKING_FIELDS, row, strict=True)))
        raise RuntimeError("could not draw an unused booking code")

    async def _take_seat(
        self, session: AsyncSession, choice: ForumChoice, booker: Booker, now: datetime
    ) -> Booking:
        # Rule 2 of locking.py: count and take seats under the session's row lock.
        forum = await lock_forum_session(session, choice.session_id)
        if forum is None:
            raise InvalidInput("session_unknown", field="forum_session_id")
        if forum.status == SESSION_CANCELLED:
            raise InvalidInput("session_cancelled", field="forum_session_id")
        if now >= forum.registration_closes_at:
            raise InvalidInput("registration_closed", field="forum_session_id")
        values = {
            "kind": FORUM,
            "station_id": forum.station_id,
            "forum_session_id": forum.id,
            "starts_at": forum.starts_at,
            "ends_at": forum.ends_at,
            # Counted by the INSERT itself: one round trip less while the lock is held.
            "status": seats.status_expression(forum),
        }
        return await _insert(session, values, booker, now)

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


async def _insert(
    session: AsyncSession, values: dict[str, Any], booker: Booker, now: datetime
) -> Booking:
    """Insert a booking under a fresh code, in one statement (no savepoint: a refusal by a
    constraint ends the transaction anyway); a code already used is drawn again."""
    for _ in range(CODE_ATTEMPTS):
        statement = (
            insert(Booking)
            .values(
                code=new_booking_code(),
                phone=booker.phone,
                name=booker.name,
                created_at=now,
                **values,
            )
            .on_conflict_do_nothing(index_elements=[Booking.code])
            .returning(Booking)
        )
        try:
            booking = await session.scalar(statement, execution_options={"populate_existing": True})
        except IntegrityError as exc:
            _, constraint = violated_constraint(exc)
            if constraint == NO_OVERLAP_CONSTRAINT:
                raise Conflict("slot_taken") from exc
            if constraint == ONE_SEAT_PER_PHONE_INDEX:
                raise Conflict("already_booked") from exc
            raise
        if booking is not None:
            return booking
    raise RuntimeError("could not draw an unused booking code")
