"""Bookings: made and managed by workers (CONTRACT §4), listed to operators."""

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.bookings import repository
from yizhan.bookings.api.deps import (
    DepsDep,
    OptionalOperator,
    SessionDep,
    get_deps,
    station_in_scope,
)
from yizhan.bookings.api.problems import booking_problem
from yizhan.bookings.booking_service import Booker
from yizhan.bookings.codes import normalize_code
from yizhan.bookings.errors import BookingError, InvalidInput, NotFound
from yizhan.bookings.idempotency import MAX_KEY_LENGTH
from yizhan.bookings.models import Booking
from yizhan.bookings.outcomes import WORKER, Outcome, record
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.schemas import (
    BookingCreated,
    BookingIn,
    BookingOut,
    BookingPage,
    OutcomeIn,
    OutcomeOut,
)
from yizhan.common.auth import CurrentOperator

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])
# The route of a rush (issue 16), alone in a router that the app includes before every other:
# routes are tried in order, and each router passed on the way cost every booking request
# time (docs/performance.md). It shadows nothing: no other route answers POST on this path.
request_router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])

IDEMPOTENCY_HEADER = "Idempotency-Key"
ManageToken = Annotated[str, Query(min_length=1, max_length=100)]


async def booking_out(session: AsyncSession, booking: Booking) -> BookingOut:
    """A booking with its title (point name or session topic) and a masked phone."""
    title = ""
    if booking.livestream_point_id is not None:
        point = await repository.get_point(session, booking.livestream_point_id)
        title = point.name if point else ""
    elif booking.forum_session_id is not None:
        forum = await repository.get_forum_session(session, booking.forum_session_id)
        title = forum.topic if forum else ""
    return _out(booking, title)


def _out(booking: Booking, title: str) -> BookingOut:
    return BookingOut(
        code=booking.code,
        kind=booking.kind,
        status=booking.status,
        station_id=booking.station_id,
        livestream_point_id=booking.livestream_point_id,
        forum_session_id=booking.forum_session_id,
        title=title,
        start=booking.starts_at,
        end=booking.ends_at,
        name=booking.name,
        phone=mask_phone(booking.phone),
        created_at=booking.created_at,
        cancelled_at=booking.cancelled_at,
        checked_in_at=booking.checked_in_at,
    )


# The body and the key are read by the handler itself (see create_booking), so FastAPI is told
# what to document.
_CREATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": BookingIn.model_json_schema()}},
    },
    "parameters": [
        {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        }
    ],
}


@request_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingCreated,
    openapi_extra=_CREATE_OPENAPI,
)
async def create_booking(request: Request) -> Response:
    """Book a livestream slot or a forum seat with a one-time code; a retry with the same
    Idempotency-Key gets the same booking."""
    # The route of a rush reads its body (pydantic) and its header itself, FastAPI's pattern
    # for a body it is not given to parse: typed parameters cost each request about a quarter
    # of its CPU in FastAPI's dependency solving (docs/performance.md). The answers are the
    # same: a 422 names the same fields (`body.phone`, `header.Idempotency-Key`).
    body, key = await _booking_request(request)
    deps = await get_deps(request)
    try:
        booker = Booker(body.phone, body.name, body.otp)
        made = await deps.bookings.create(body.choice(), booker, key)
    except BookingError as exc:
        # Answered here, not raised through the framework: in a rush, 199 of 200 requests
        # for a slot end in a 409, and the way out of FastAPI's wrappers cost each of them.
        return booking_problem(exc)
    created = BookingCreated(
        code=made.booking.code, status=made.booking.status, manage_token=made.manage_token
    )
    headers = {"Idempotent-Replayed": "true"} if made.replayed else None
    return JSONResponse(created.model_dump(), status_code=status.HTTP_201_CREATED, headers=headers)


async def _booking_request(request: Request) -> tuple[BookingIn, str]:
    """The request's body and Idempotency-Key, or RequestValidationError naming every field
    at fault, as FastAPI would (the header's first)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    body, body_errors = _read_body(await request.body(), request.headers.get("content-type"))
    errors = _key_errors(key) + body_errors
    if errors or body is None or key is None:
        raise RequestValidationError(errors)
    return body, key


def _key_errors(key: str | None) -> list[dict[str, Any]]:
    """What is wrong with an Idempotency-Key, in FastAPI's words."""
    where = ("header", IDEMPOTENCY_HEADER)
    if key is None:
        return [{"type": "missing", "loc": where, "msg": "Field required", "input": None}]
    if not key:
        message = "String should have at least 1 character"
        return [{"type": "string_too_short", "loc": where, "msg": message, "input": key}]
    if len(key) > MAX_KEY_LENGTH:
        message = f"String should have at most {MAX_KEY_LENGTH} characters"
        return [{"type": "string_too_long", "loc": where, "msg": message, "input": key}]
    return []


def _read_body(content: bytes, content_type: str | None) -> tuple[BookingIn | None, list[Any]]:
    """The booking a body asks for, or what is wrong with it, in FastAPI's words."""
    if not content:
        return None, [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
    try:
        # Not read as JSON unless it says JSON: refused then, as FastAPI refuses it.
        document = json.loads(content) if _json_media(content_type) else content
        return BookingIn.model_validate(document, from_attributes=True), []  # as FastAPI
    except json.JSONDecodeError as exc:
        return None, [
            {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        ]
    except ValidationError as exc:
        return None, [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]


def _json_media(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this type as JSON: application/json or */*+json."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


@router.get("/{code}", response_model=BookingOut)
async def get_booking(
    code: str, token: ManageToken, deps: DepsDep, session: SessionDep
) -> BookingOut:
    """A booking, for the holder of its manage token."""
    return await booking_out(session, await deps.bookings.get(code, token))


@router.delete("/{code}", response_model=BookingOut)
async def cancel_booking(
    code: str, token: ManageToken, deps: DepsDep, session: SessionDep
) -> BookingOut:
    """Cancel a booking: frees its slot or seat, and promotes the first on the waitlist."""
    return await booking_out(session, await deps.bookings.cancel(code, token))


@router.put("/{code}/outcome", response_model=OutcomeOut)
async def record_outcome(
    code: str,
    body: OutcomeIn,
    deps: DepsDep,
    session: SessionDep,
    operator: OptionalOperator,
    token: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> OutcomeOut:
    """Households served and sales of a livestream slot, after it started: by the worker
    (manage token) or an operator of its district (bearer token)."""
    if token is not None:
        booking = await deps.bookings.get(code, token)
        recorded_by = WORKER
    elif operator is not None:
        if not operator.can_write:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="read-only operator")
        normalized = normalize_code(code)
        found = await repository.get_booking_by_code(session, normalized) if normalized else None
        if found is None:
            raise NotFound("booking_not_found")
        await station_in_scope(deps, operator, found.station_id)
        booking, recorded_by = found, operator.username
    else:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="the manage token or an operator token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    outcome = Outcome(body.households, body.sales_yuan, body.note)
    stored = await record(
        deps.sessions, booking, outcome, recorded_by=recorded_by, now=deps.clock()
    )
    return OutcomeOut(
        code=booking.code,
        households=stored.households,
        sales_yuan=float(stored.sales_yuan),
        note=stored.note,
        recorded_by=stored.recorded_by,
        recorded_at=stored.recorded_at,
    )


def _encode_cursor(booking: Booking) -> str:
    raw = f"{booking.starts_at.isoformat()}|{booking.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        start, booking_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(start), int(booking_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", field="query.after") from exc


@router.get("", response_model=BookingPage)
async def list_bookings(
    station_id: Annotated[str, Query(max_length=64)],
    operator: CurrentOperator,
    deps: DepsDep,
    session: SessionDep,
    starts_from: Annotated[datetime | None, Query(alias="from")] = None,
    starts_before: Annotated[datetime | None, Query(alias="to")] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=repository.MAX_PAGE_SIZE)] = 100,
) -> BookingPage:
    """A station's bookings by start time, for operators of its district."""
    await station_in_scope(deps, operator, station_id)
    bookings = await repository.list_station_bookings(
        session,
        station_id,
        starts_from=starts_from,
        starts_before=starts_before,
        after=_decode_cursor(after) if after else None,
        limit=limit,
    )
    points = await repository.names_of_points(
        session, sorted({b.livestream_point_id for b in bookings if b.livestream_point_id})
    )
    topics = await repository.topics_of_sessions(
        session, sorted({b.forum_session_id for b in bookings if b.forum_session_id})
    )
    items = []
    for booking in bookings:
        if booking.livestream_point_id is not None:
            title = points.get(booking.livestream_point_id, "")
        else:
            title = topics.get(booking.forum_session_id or 0, "")
        items.append(_out(booking, title))
    next_cursor = _encode_cursor(bookings[-1]) if len(bookings) == limit else None
    return BookingPage(items=items, next=next_cursor)
