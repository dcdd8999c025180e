"""The notification SMS a booking change sends, queued in the outbox of the transaction that
makes the change (outbox.py). Times are written in the service's local zone."""

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings import texts
from yizhan.bookings.models import Booking
from yizhan.bookings.outbox import enqueue


def when(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """11月23日周一 15:00–16:30, as an SMS says it."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = texts.day_label(local_start.date(), "zh")
    return f"{day} {local_start:%H:%M}–{local_end:%H:%M}"


class Notices:
    """Queues the SMS that tell workers what happened to their bookings."""

    def __init__(self, tz: ZoneInfo, link: Callable[[Booking], str] = lambda b: "") -> None:
        self._tz = tz
        # The worker's link to view or cancel a booking (CONTRACT.md §4).
        self._link = link

    def _text(self, booking: Booking, key: str, **fields: object) -> str:
        return texts.sms(key, code=booking.code, link=self._link(booking), **fields)

    def _queue(
        self, session: AsyncSession, booking: Booking, key: str, now: datetime, **fields: object
    ) -> None:
        if booking.phone is None:  # erased: nobody left to tell
            return
        enqueue(session, booking.phone, self._text(booking, key, **fields), key, now)

    def confirmed_text(self, booking: Booking) -> str:
        """The text of `confirmed`, a booking confirmed at once: its code and the link to view
        or cancel it. The booking function queues it in the booking's transaction
        (yz_book_slot of migration 0008, yz_book_seat of 0009)."""
        return self._text(booking, "confirmed", when=self._when(booking))

    def reminder(self, session: AsyncSession, booking: Booking, now: datetime) -> None:
        """The booking starts soon: when, its code and the link (to cancel if plans changed)."""
        self._queue(session, booking, "reminder", now, when=self._when(booking))

    def promoted(self, session: AsyncSession, booking: Booking, title: str, now: datetime) -> None:
        """A waitlisted booking got a seat."""
        self._queue(session, booking, "promoted", now, title=title, when=self._when(booking))

    def session_cancelled(
        self, session: AsyncSession, booking: Booking, title: str, now: datetime
    ) -> None:
        """The operator cancelled the session the booking was for."""
        self._queue(
            session, booking, "session_cancelled", now, title=title, when=self._when(booking)
        )

    def session_moved(
        self, session: AsyncSession, booking: Booking, title: str, now: datetime
    ) -> None:
        """The operator moved the session to another time (the booking already carries it)."""
        self._queue(session, booking, "session_moved", now, title=title, when=self._when(booking))

    def booking_cancelled(
        self, session: AsyncSession, booking: Booking, title: str, now: datetime
    ) -> None:
        """An operator cancelled the booking."""
        self._queue(
            session, booking, "booking_cancelled", now, title=title, when=self._when(booking)
        )

    def opinion_answered(
        self, session: AsyncSession, phone: str | None, key: str, now: datetime, **fields: object
    ) -> None:
        """An opinion was resolved (with its measure) or declined (with the reason)."""
        if phone is None:  # the worker's data was erased
            return
        enqueue(session, phone, texts.sms(key, **fields), key, now)

    def _when(self, booking: Booking) -> str:
        return when(booking.starts_at, booking.ends_at, self._tz)
