"""The worker booking form at `/`: server-rendered, no JavaScript needed, Chinese by default.

Steps: pick a station, a date and a free slot, give phone and name (GET / then POST
/book/code, which sends the one-time code); type the code (POST /book/confirm); see the booking
code with a link to view or cancel it (/b/{code}?token=...). Each step is a plain HTML form and
uses the same services as the JSON API.
"""

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from yizhan.bookings import repository, texts
from yizhan.bookings.api.deps import DepsDep, client_address
from yizhan.bookings.availability import FALLBACK_TIMEZONE, station_zone
from yizhan.bookings.booking_service import Booker, LivestreamChoice
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import (
    BookingError,
    InvalidInput,
    NotFound,
    PeerUnavailable,
    RateLimited,
)
from yizhan.bookings.idempotency import MAX_KEY_LENGTH
from yizhan.bookings.models import CANCELLED, Booking, LivestreamPoint
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.rpc.stations_client import StationInfo
from yizhan.bookings.web.display import day_label, time_range, when
from yizhan.bookings.web.forms import (
    BookerFields,
    FieldErrors,
    check_booker,
    check_otp,
    parse_day,
    parse_slot,
    slot_value,
)

router = APIRouter(include_in_schema=False)

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Dates offered in the form's date list (the API accepts the whole booking horizon).
DAYS_SHOWN = 7

FormField = Annotated[str, Form(max_length=500)]


def build_templates() -> Jinja2Templates:
    """The form's Jinja2 templates, escaping everything by default."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["t"] = texts.FORM
    return Jinja2Templates(env=env)


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    deps: Deps = request.app.state.deps
    templates: Jinja2Templates = request.app.state.templates
    full = {"dev": deps.settings.exposes_dev_tools, "errors": FieldErrors(), "notice": None}
    full.update(context)
    return templates.TemplateResponse(request, template, full, status_code=status_code)


async def _bookable_stations(deps: Deps) -> list[StationInfo]:
    async with deps.sessions() as session:
        ids = await repository.stations_with_points(session)
    stations = await deps.stations.list_stations(ids=ids)
    return sorted((s for s in stations if s.takes_bookings), key=lambda s: s.id)


async def _index_context(
    deps: Deps, station_id: str | None, day_value: str | None
) -> dict[str, Any]:
    """Stations to choose from and, once one is chosen, the free slots of the chosen day."""
    context: dict[str, Any] = {
        "stations": [],
        "station": None,
        "days": [],
        "day": "",
        "points": [],
        "form": {"slot": "", "phone": "", "name": ""},
    }
    try:
        stations = await _bookable_stations(deps)
    except PeerUnavailable:
        context["notice"] = texts.FORM["unavailable"]
        return context
    station = next((s for s in stations if s.id == station_id), None)
    tz = station_zone(station) if station else ZoneInfo(FALLBACK_TIMEZONE)
    today = deps.clock().astimezone(tz).date()
    days = [today + timedelta(days=offset) for offset in range(DAYS_SHOWN)]
    chosen_day = parse_day(day_value)
    day = chosen_day if chosen_day in days else today
    context.update(
        stations=stations,
        station=station,
        days=[(d.isoformat(), day_label(d, today)) for d in days],
        day=day.isoformat(),
    )
    if station is not None:
        try:
            context["points"] = await _free_slots(deps, station, day, tz)
        except PeerUnavailable:
            context["notice"] = texts.FORM["unavailable"]
    return context


async def _free_slots(
    deps: Deps, station: StationInfo, day: date, tz: ZoneInfo
) -> list[dict[str, Any]]:
    async with deps.sessions() as session:
        points = await repository.list_points(session, [station.id])
    listed = []
    for point in points:
        _, slots = await deps.availability.day_slots(point, day)
        free = [
            (slot_value(point.id, s.start, s.end), time_range(s.start, s.end, tz))
            for s in slots
            if s.available
        ]
        listed.append({"name": point.name, "slots": free})
    return listed


@router.get("/")
async def index(
    request: Request,
    deps: DepsDep,
    station: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[str | None, Query(alias="date", max_length=10)] = None,
) -> Response:
    """Step 1: station, date and free slots, with the phone and name fields."""
    context = await _index_context(deps, station, day)
    return _render(request, "index.html", context, 503 if context.get("notice") else 200)


async def _back_to_index(
    request: Request,
    deps: Deps,
    *,
    station: str,
    day: str,
    form: dict[str, str],
    errors: FieldErrors,
    status_code: int,
) -> Response:
    context = await _index_context(deps, station, day)
    context.update(errors=errors, form=form)
    return _render(request, "index.html", context, status_code)


async def _chosen_point(deps: Deps, choice: LivestreamChoice) -> LivestreamPoint:
    async with deps.sessions() as session:
        point = await repository.get_point(session, choice.point_id)
    if point is None:
        raise InvalidInput("point_unknown", field="slot")
    return point


@router.post("/book/code")
async def request_code(
    request: Request,
    deps: DepsDep,
    station: FormField = "",
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
    slot: FormField = "",
    phone: FormField = "",
    name: FormField = "",
    key: FormField = "",
) -> Response:
    """Step 2: check the choice, send the one-time code, ask for it. The confirm page's
    "resend" button comes here too, with its idempotency key."""
    errors = FieldErrors()
    choice = parse_slot(slot) if slot else None
    if choice is None:
        errors.add("slot", "slot_required")
    booker = check_booker(phone, name, errors)
    form = {"slot": slot, "phone": phone, "name": name}
    if errors or choice is None:
        return await _back_to_index(
            request, deps, station=station, day=day, form=form, errors=errors, status_code=422
        )
    try:
        point = await _chosen_point(deps, choice)
        station_info = await deps.availability.check_bookable(point, choice.start, choice.end)
    except BookingError as exc:
        errors.add("slot", exc.key)
        return await _back_to_index(
            request,
            deps,
            station=station,
            day=day,
            form=form,
            errors=errors,
            status_code=exc.status,
        )
    resending = 0 < len(key) <= MAX_KEY_LENGTH
    context = _confirm_context(
        deps,
        station_info,
        point,
        choice,
        slot=slot,
        day=day,
        booker=booker,
        key=key if resending else uuid.uuid4().hex,
    )
    try:
        wait = deps.otp_client_limiter.hit(client_address(request))
        if wait is not None:
            raise RateLimited("otp_rate", retry_after=wait)
        await deps.otp.issue(booker.phone)
    except BookingError as exc:
        if resending:
            # The earlier code may still arrive: stay on the page where it is typed in.
            errors.add("otp", exc.key)
            context["errors"] = errors
            return _render(request, "confirm.html", context, exc.status)
        errors.add("phone", exc.key)
        return await _back_to_index(
            request,
            deps,
            station=station,
            day=day,
            form=form,
            errors=errors,
            status_code=exc.status,
        )
    return _render(request, "confirm.html", context)


def _confirm_context(
    deps: Deps,
    station: StationInfo,
    point: LivestreamPoint,
    choice: LivestreamChoice,
    *,
    slot: str,
    day: str,
    booker: BookerFields,
    key: str,
) -> dict[str, Any]:
    tz = station_zone(station)
    today = deps.clock().astimezone(tz).date()
    minutes = max(1, deps.settings.otp_ttl_seconds // 60)
    return {
        "station": station,
        "point": point,
        "when": when(choice.start, choice.end, tz, today),
        "intro": texts.FORM["confirm_intro"].format(
            phone=mask_phone(booker.phone), minutes=minutes
        ),
        "hidden": {
            "station": station.id,
            "date": day,
            "slot": slot,
            "phone": booker.phone,
            "name": booker.name,
            "key": key,
        },
        "dev_link": "/api/v1/dev/otp?" + urlencode({"phone": booker.phone}),
    }


@router.post("/book/confirm")
async def confirm(
    request: Request,
    deps: DepsDep,
    station: FormField = "",
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
    slot: FormField = "",
    phone: FormField = "",
    name: FormField = "",
    key: FormField = "",
    otp: FormField = "",
) -> Response:
    """Step 3: book with the code; a double submit finds the same booking (same key)."""
    errors = FieldErrors()
    choice = parse_slot(slot)
    booker = check_booker(phone, name, errors)
    form = {"slot": slot, "phone": phone, "name": name}
    if choice is None or errors:
        # The hidden fields were changed: start again from the choice.
        errors.add("slot", "slot_required")
        return await _back_to_index(
            request, deps, station=station, day=day, form=form, errors=errors, status_code=422
        )
    code = check_otp(otp, errors)
    idempotency_key = key if 0 < len(key) <= MAX_KEY_LENGTH else uuid.uuid4().hex
    if not errors:
        try:
            made = await deps.bookings.create(
                choice, Booker(booker.phone, booker.name, code), idempotency_key
            )
        except InvalidInput as exc:
            if exc.field != "otp":
                errors.add("slot", exc.key)
                return await _back_to_index(
                    request,
                    deps,
                    station=station,
                    day=day,
                    form=form,
                    errors=errors,
                    status_code=exc.status,
                )
            errors.add("otp", exc.key)
        except BookingError as exc:
            errors.add("slot", exc.key)
            return await _back_to_index(
                request,
                deps,
                station=station,
                day=day,
                form=form,
                errors=errors,
                status_code=exc.status,
            )
        else:
            target = _booking_url(made.booking.code, made.manage_token, new=True)
            return RedirectResponse(target, status_code=303)
    try:
        point = await _chosen_point(deps, choice)
        station_info = await deps.stations.get_station(point.station_id)
    except BookingError as exc:
        errors.add("slot", exc.key)
        return await _back_to_index(
            request, deps, station=station, day=day, form=form, errors=errors, status_code=422
        )
    if station_info is None:
        errors.add("slot", "station_closed")
        return await _back_to_index(
            request, deps, station=station, day=day, form=form, errors=errors, status_code=422
        )
    context = _confirm_context(
        deps, station_info, point, choice, slot=slot, day=day, booker=booker, key=idempotency_key
    )
    context["errors"] = errors
    return _render(request, "confirm.html", context, 422)


def _booking_url(code: str, token: str, *, new: bool = False) -> str:
    query = {"token": token, **({"new": "1"} if new else {})}
    return f"/b/{quote(code)}?{urlencode(query)}"


async def _booking_context(deps: Deps, booking: Booking, token: str) -> dict[str, Any]:
    try:
        station = await deps.stations.get_station(booking.station_id)
    except PeerUnavailable:
        station = None
    tz = station_zone(station) if station else ZoneInfo(FALLBACK_TIMEZONE)
    async with deps.sessions() as session:
        if booking.livestream_point_id is not None:
            point = await repository.get_point(session, booking.livestream_point_id)
            title = point.name if point else ""
        else:
            forum = await repository.get_forum_session(session, booking.forum_session_id or 0)
            title = forum.topic if forum else ""
    now = deps.clock()
    return {
        "booking": booking,
        "token": token,
        "station_name": station.name_zh if station else booking.station_id,
        "title": title,
        "when": when(booking.starts_at, booking.ends_at, tz, now.astimezone(tz).date()),
        "status_label": texts.FORM[f"status_{booking.status}"],
        "can_cancel": booking.status != CANCELLED
        and booking.checked_in_at is None
        and now < booking.starts_at,
    }


@router.get("/b/{code}")
async def view_booking(
    request: Request,
    code: str,
    deps: DepsDep,
    token: Annotated[str, Query(max_length=100)] = "",
    new: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """The booking code to show at the kiosk, with the cancel button."""
    try:
        booking = await deps.bookings.get(code, token)
    except NotFound:
        return _render(request, "not_found.html", {}, 404)
    context = await _booking_context(deps, booking, token)
    context["new"] = new == "1" and booking.status != CANCELLED
    return _render(request, "booking.html", context)


@router.post("/b/{code}/cancel")
async def cancel_booking(
    request: Request, code: str, deps: DepsDep, token: FormField = ""
) -> Response:
    """Cancel from the booking page, then show it again."""
    try:
        booking = await deps.bookings.cancel(code, token)
    except NotFound:
        return _render(request, "not_found.html", {}, 404)
    except BookingError as exc:
        booking = await deps.bookings.get(code, token)
        context = await _booking_context(deps, booking, token)
        context.update(new=False, notice=texts.message(exc.key))
        return _render(request, "booking.html", context, exc.status)
    return RedirectResponse(_booking_url(booking.code, token), status_code=303)
