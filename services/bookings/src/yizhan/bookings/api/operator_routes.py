"""What operators do with bookings beyond listing them: check in by hand, cancel, export."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from yizhan.bookings import repository, texts
from yizhan.bookings.api.booking_routes import booking_out
from yizhan.bookings.api.csv_export import MAX_ROWS, csv_response
from yizhan.bookings.api.deps import DepsDep, SessionDep, acting_on, station_in_scope
from yizhan.bookings.audit import Stamp
from yizhan.bookings.codes import normalize_code
from yizhan.bookings.errors import NotFound
from yizhan.bookings.models import Booking
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.schemas import BookingOut, CheckInOut
from yizhan.common.auth import CurrentOperator, WritingOperator

router = APIRouter(prefix="/api/v1/bookings", tags=["operator"])

EXPORT_HEADER = (
    "code",
    "kind",
    "status",
    "station_id",
    "title",
    "start",
    "end",
    "name",
    "phone",
    "created_at",
    "checked_in_at",
    "checked_in_by",
    "cancelled_at",
    "no_show_at",
)


async def _booking_in_scope(
    deps: DepsDep, session: SessionDep, operator: CurrentOperator, code: str
) -> tuple[Booking, Stamp]:
    """The booking of a code in the operator's scope, and the audit stamp of acting on it.
    Absent and not-yours get the same answer, so a district operator cannot probe other
    districts' codes."""
    normalized = normalize_code(code)
    booking = await repository.get_booking_by_code(session, normalized) if normalized else None
    if booking is None:
        raise NotFound("booking_not_found")
    try:
        stamp = await acting_on(deps, operator, booking.station_id)
    except NotFound:
        raise NotFound("booking_not_found") from None
    return booking, stamp


@router.post("/{code}/check-in", response_model=CheckInOut)
async def check_in_by_hand(
    code: str, operator: WritingOperator, deps: DepsDep, session: SessionDep
) -> CheckInOut:
    """Check a booking in at its station by hand (a worker without a phone, a broken
    kiosk): the kiosk's window and reasons apply; `ok: false` with the reason otherwise."""
    booking, stamp = await _booking_in_scope(deps, session, operator, code)
    result = await deps.checkin.check_in(booking.code, booking.station_id, operator=stamp)
    return CheckInOut(
        code=booking.code,
        ok=result.ok,
        reason=result.reason,
        message={"zh": result.message_zh, "en": result.message_en},
    )


@router.post("/{code}/cancel", response_model=BookingOut)
async def cancel_for_worker(
    code: str, operator: WritingOperator, deps: DepsDep, session: SessionDep
) -> BookingOut:
    """Cancel a booking for its holder (who is told by SMS); a freed seat is promoted."""
    booking, stamp = await _booking_in_scope(deps, session, operator, code)
    return await booking_out(session, await deps.bookings.cancel_by_operator(booking.code, stamp))


@router.get("/export.csv")
async def export_bookings(
    station_id: Annotated[str, Query(max_length=64)],
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    starts_from: Annotated[datetime | None, Query(alias="from")] = None,
    starts_before: Annotated[datetime | None, Query(alias="to")] = None,
) -> Response:
    """A station's bookings as CSV (UTF-8 with BOM), phones masked, by start."""
    await station_in_scope(deps, operator, station_id)
    bookings = await repository.list_station_bookings(
        session,
        station_id,
        starts_from=starts_from,
        starts_before=starts_before,
        after=None,
        limit=MAX_ROWS,
    )
    points = await repository.names_of_points(
        session, sorted({b.livestream_point_id for b in bookings if b.livestream_point_id})
    )
    topics = await repository.topics_of_sessions(
        session, sorted({b.forum_session_id for b in bookings if b.forum_session_id})
    )
    rows = (
        (
            b.code,
            texts.text(f"kind.{b.kind}", "zh"),
            texts.text(f"status.{b.status}", "zh"),
            b.station_id,
            points.get(b.livestream_point_id or 0) or topics.get(b.forum_session_id or 0, ""),
            _iso(b.starts_at),
            _iso(b.ends_at),
            b.name,
            mask_phone(b.phone),
            _iso(b.created_at),
            _iso(b.checked_in_at),
            b.checked_in_by or b.checked_in_device,
            _iso(b.cancelled_at),
            _iso(b.no_show_at),
        )
        for b in bookings
    )
    return csv_response(f"bookings-{station_id}.csv", EXPORT_HEADER, rows)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
