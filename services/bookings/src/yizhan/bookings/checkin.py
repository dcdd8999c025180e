"""Checking a booking in: scanned at a station's kiosk (CONTRACT §2, §4) or by an operator by
hand, within the same window and with the same reasons."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.bookings import texts
from yizhan.bookings.audit import Stamp, booking_snapshot, record
from yizhan.bookings.codes import normalize_code
from yizhan.bookings.metrics import CHECKINS
from yizhan.bookings.models import CANCELLED, NO_SHOW, WAITLISTED, Booking

log = logging.getLogger(__name__)

# CONTRACT §4: check-in is open from 15 minutes before the start until 15 minutes after it.
CHECKIN_WINDOW = timedelta(minutes=15)

# The contract's reason codes.
NOT_FOUND = "not_found"
WRONG_STATION = "wrong_station"
TOO_EARLY = "too_early"
TOO_LATE = "too_late"
CANCELLED_REASON = "cancelled"
ALREADY_CHECKED_IN = "already_checked_in"


@dataclass(frozen=True)
class CheckInResult:
    """What the kiosk shows: ok, or the contract's reason, with texts in both languages."""

    ok: bool
    reason: str | None
    message_zh: str
    message_en: str


def refusal(booking: Booking | None, station_id: str, now: datetime) -> tuple[str, str] | None:
    """(reason, message key) why `booking` cannot be checked in at `station_id` now; None
    when it can. Checked in this order so that a code scanned at another station tells
    nothing about the booking, and a second scan says "already" rather than "too late"."""
    if booking is None:
        return NOT_FOUND, NOT_FOUND
    if booking.station_id != station_id:
        return WRONG_STATION, WRONG_STATION
    if booking.status == CANCELLED:
        return CANCELLED_REASON, CANCELLED_REASON
    if booking.checked_in_at is not None:
        return ALREADY_CHECKED_IN, ALREADY_CHECKED_IN
    if booking.status == NO_SHOW:
        # Marked when the window closed (noshow.py): it is simply too late now.
        return TOO_LATE, TOO_LATE
    if booking.status == WAITLISTED:
        # The contract has no reason for "on the waiting list": without a seat there is no
        # admission to find, so it answers not_found with a message that says why.
        return NOT_FOUND, "waitlisted"
    if now < booking.starts_at - CHECKIN_WINDOW:
        return TOO_EARLY, TOO_EARLY
    if now > booking.starts_at + CHECKIN_WINDOW:
        return TOO_LATE, TOO_LATE
    return None


class CheckInDesk:
    """Checks bookings in, one row lock at a time."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def check_in(
        self, code: str, station_id: str, device_id: str = "", operator: Stamp | None = None
    ) -> CheckInResult:
        """Check the booking with `code` in at `station_id`, or say why not; `device_id` for a
        kiosk scan, `operator` for a check-in by hand (audited when it succeeds)."""
        normalized = normalize_code(code)
        async with self._sessions.begin() as session:
            booking = None
            if normalized is not None:
                query = select(Booking).where(Booking.code == normalized).with_for_update()
                booking = await session.scalar(query)
            now = self._clock()
            refused = refusal(booking, station_id, now)
            if refused is None:
                assert booking is not None
                before = booking_snapshot(booking)
                booking.checked_in_at = now
                booking.checked_in_device = device_id[:64] or None
                booking.checked_in_by = operator.actor[:64] if operator else None
                if operator is not None:
                    record(
                        session,
                        operator,
                        action="check_in",
                        entity="booking",
                        entity_id=booking.code,
                        station_id=booking.station_id,
                        before=before,
                        after=booking_snapshot(booking),
                    )
        if refused is not None:
            reason, key = refused
            CHECKINS.labels(reason).inc()
            zh, en = texts.checkin_message(key)
            return CheckInResult(False, reason, zh, en)
        CHECKINS.labels("ok").inc()
        log.info(
            "checked in",
            extra={
                "code": normalized,
                "station": station_id,
                "by": operator.actor if operator else device_id,
            },
        )
        zh, en = texts.checkin_message("ok")
        return CheckInResult(True, None, zh, en)
