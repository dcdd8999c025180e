"""What operators do to forum sessions (and trainings, health checks): schedule, change,
cancel. Changes that touch seats or bookings run under the session's row lock (locking.py
rule 2), and the workers concerned are told by SMS through the outbox. Each change is
audited (audit.py) in its own transaction."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import repository, seats
from yizhan.bookings.audit import Stamp, record, session_snapshot
from yizhan.bookings.errors import Conflict, InvalidInput, NotFound
from yizhan.bookings.locking import lock_forum_session
from yizhan.bookings.models import (
    ACTIVE_STATUSES,
    CANCELLED,
    SESSION_CANCELLED,
    SESSION_SCHEDULED,
    Booking,
    ForumSession,
)
from yizhan.bookings.notices import Notices
from yizhan.bookings.outbox import Outbox

# Fields an operator may change; anything else in a change set is a programming error.
EDITABLE = frozenset(
    {"topic", "host", "kind", "starts_at", "ends_at", "seats", "registration_deadline"}
)


@dataclass(frozen=True)
class SessionView:
    """A session with its confirmed seats."""

    forum: ForumSession
    taken: int


def _check_times(forum: ForumSession, now: datetime | None = None) -> None:
    """InvalidInput unless the times are in order (and, given `now`, the start is after it)."""
    deadline = forum.registration_deadline
    if forum.ends_at <= forum.starts_at or (deadline is not None and deadline > forum.starts_at):
        raise InvalidInput("times_invalid", field="end")
    if now is not None and forum.starts_at <= now:
        raise InvalidInput("session_started", field="start")


class ForumAdmin:
    """Schedules, changes and cancels capacity sessions."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        notices: Notices,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._notices = notices
        self._outbox = outbox
        self._clock = clock

    async def create(self, station_id: str, fields: dict[str, Any], stamp: Stamp) -> SessionView:
        """Schedule a session at a station (the caller checked the station is the operator's).
        A session in the past is accepted: operators record meetings held to log opinions."""
        forum = ForumSession(station_id=station_id, status=SESSION_SCHEDULED, **fields)
        _check_times(forum)
        async with self._sessions.begin() as session:
            session.add(forum)
            await session.flush()
            record(
                session,
                stamp,
                action="create",
                entity="forum_session",
                entity_id=forum.id,
                station_id=station_id,
                before=None,
                after=session_snapshot(forum),
            )
        return SessionView(forum, 0)

    async def get(self, session_id: int) -> SessionView:
        """A session with its confirmed seats; NotFound when there is none."""
        async with self._sessions() as session:
            forum = await repository.get_forum_session(session, session_id)
            if forum is None:
                raise NotFound("session_unknown")
            return SessionView(forum, await repository.confirmed_seats(session, forum.id))

    async def update(self, session_id: int, changes: dict[str, Any], stamp: Stamp) -> SessionView:
        """Change a session that has not started. Fewer seats than confirmed bookings is
        refused; more seats promote the waitlist; a new time moves every booking with it and
        tells their holders."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        now = self._clock()
        async with self._sessions.begin() as session:
            forum = await self._locked_open_session(session, session_id, now)
            before = session_snapshot(forum)
            moved = any(
                key in changes and changes[key] != getattr(forum, key)
                for key in ("starts_at", "ends_at")
            )
            for key, value in changes.items():
                setattr(forum, key, value)
            _check_times(forum, now)
            taken = await repository.confirmed_seats(session, forum.id)
            if forum.seats < taken:
                raise Conflict("seats_below_confirmed")
            forum.updated_at = now
            await session.flush()
            queued = False
            if moved:
                await session.execute(
                    update(Booking)
                    .where(Booking.forum_session_id == forum.id)
                    .values(starts_at=forum.starts_at, ends_at=forum.ends_at)
                    .execution_options(synchronize_session=False)
                )
                for booking in await repository.bookings_of_session(session, forum.id):
                    if booking.status in ACTIVE_STATUSES:
                        self._notices.session_moved(session, booking, forum.topic, now)
                        queued = True
            promoted = await seats.promote_waitlisted(session, forum, now, self._notices)
            taken += len(promoted)
            record(
                session,
                stamp,
                action="update",
                entity="forum_session",
                entity_id=forum.id,
                station_id=forum.station_id,
                before=before,
                after=session_snapshot(forum),
            )
        if queued or promoted:
            self._outbox.wake()
        return SessionView(forum, taken)

    async def cancel(self, session_id: int, stamp: Stamp) -> SessionView:
        """Cancel a session that has not started, and every booking of it; tell the holders."""
        now = self._clock()
        async with self._sessions.begin() as session:
            forum = await lock_forum_session(session, session_id)
            if forum is None:
                raise NotFound("session_unknown")
            if forum.status == SESSION_CANCELLED:
                return SessionView(forum, 0)
            if forum.starts_at <= now:
                raise Conflict("session_started")
            before = session_snapshot(forum)
            forum.status = SESSION_CANCELLED
            forum.cancelled_at = now
            forum.updated_at = now
            for booking in await repository.bookings_of_session(session, forum.id):
                if booking.status in ACTIVE_STATUSES:
                    booking.status = CANCELLED
                    booking.cancelled_at = now
                    self._notices.session_cancelled(session, booking, forum.topic, now)
            record(
                session,
                stamp,
                action="cancel",
                entity="forum_session",
                entity_id=forum.id,
                station_id=forum.station_id,
                before=before,
                after=session_snapshot(forum),
            )
        self._outbox.wake()
        return SessionView(forum, 0)

    async def _locked_open_session(
        self, session: AsyncSession, session_id: int, now: datetime
    ) -> ForumSession:
        forum = await lock_forum_session(session, session_id)
        if forum is None:
            raise NotFound("session_unknown")
        if forum.status == SESSION_CANCELLED:
            raise Conflict("session_cancelled")
        if forum.starts_at <= now:
            raise Conflict("session_started")
        return forum
