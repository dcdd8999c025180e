"""The worker's way through the form at `/`: no JavaScript, one plain HTML form per step.

1. GET /            find a station (search by name, filter by district);
   GET /?station=   pick a free livestream start (and a length) or a session, give phone and
                    name;
2. POST /book/code  check the choice, send the one-time code, ask for it;
3. POST /book/confirm  book with the code (a double submit finds the same booking: the page
                    carries one Idempotency-Key), then on to the booking's page (pages.py).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from yizhan.bookings import repository, texts
from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.booking_service import Booker, ForumChoice, LivestreamChoice
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import BookingError, InvalidInput, PeerUnavailable, RateLimited
from yizhan.bookings.idempotency import MAX_KEY_LENGTH
from yizhan.bookings.models import SESSION_CANCELLED
from yizhan.bookings.peers.stations import StationInfo
from yizhan.bookings.phones import mask_phone
from yizhan.bookings.texts import Lang
from yizhan.bookings.web import choices
from yizhan.bookings.web.display import when
from yizhan.bookings.web.forms import (
    FieldErrors,
    SlotStart,
    check_booker,
    check_otp,
    parse_choice,
    parse_day,
    parse_steps,
)
from yizhan.bookings.web.pages import booking_url
from yizhan.bookings.web.render import render, request_lang
from yizhan.common.clients import client_address

router = APIRouter(include_in_schema=False)

FormField = Annotated[str, Form(max_length=500)]
# Errors about how long a livestream booking is belong to the length field.
LENGTH_ERRORS = frozenset({"slot_too_long"})


@dataclass(frozen=True)
class Target:
    """What the worker chose, checked: the booking to make and how to describe it."""

    choice: LivestreamChoice | ForumChoice
    station: StationInfo
    title: str
    start: datetime
    end: datetime
    waitlist: bool


async def _resolve(deps: Deps, value: str, length: str) -> Target:
    """The choice of the form's radio button and length field, checked as the API would;
    a BookingError naming what is wrong otherwise."""
    parsed = parse_choice(value)
    if parsed is None:
        raise InvalidInput("choice_required", field="choice")
    if isinstance(parsed, SlotStart):
        return await _resolve_slot(deps, parsed, parse_steps(length))
    async with deps.sessions() as session:
        forum = await repository.get_forum_session(session, parsed.session_id)
        taken = await repository.confirmed_seats(session, forum.id) if forum else 0
    if forum is None:
        raise InvalidInput("session_unknown", field="choice")
    if forum.status == SESSION_CANCELLED:
        raise InvalidInput("session_cancelled", field="choice")
    if deps.clock() >= forum.registration_closes_at:
        raise InvalidInput("registration_closed", field="choice")
    station = await deps.stations.get_station(forum.station_id)
    if station is None or not station.takes_bookings:
        raise InvalidInput("station_closed", field="choice")
    return Target(
        parsed, station, forum.topic, forum.starts_at, forum.ends_at, taken >= forum.seats
    )


async def _resolve_slot(deps: Deps, start: SlotStart, steps: int | None) -> Target:
    if steps is None:
        raise InvalidInput("length_invalid", field="length")
    async with deps.sessions() as session:
        point = await repository.get_point(session, start.point_id)
    if point is None:
        raise InvalidInput("point_unknown", field="choice")
    if steps > point.max_steps:
        raise InvalidInput("slot_too_long", field="length")
    choice = start.choice(steps, point.slot_minutes)
    station = await deps.availability.check_bookable(point, choice.start, choice.end)
    return Target(choice, station, point.name, choice.start, choice.end, waitlist=False)


def _error_field(exc: BookingError) -> str:
    return "length" if exc.key in LENGTH_ERRORS or exc.field == "length" else "choice"


async def _page(
    deps: Deps,
    lang: Lang,
    *,
    station_id: str | None,
    day_value: str | None,
    query: str = "",
    district: str = "",
    chosen: str = "",
) -> tuple[str, dict[str, Any]]:
    """The finder, or the chosen station's page of free slots and sessions."""
    try:
        station = await choices.station_or_none(deps, station_id)
        if station is None:
            return "find.html", await _finder(deps, lang, query, district)
        return "station.html", await _station_page(deps, lang, station, day_value, chosen)
    except PeerUnavailable:
        context = {"notice": texts.text("form.unavailable", lang), "found": [], "districts": []}
        return "find.html", {**context, "query": query, "district": district, "more": False}


async def _finder(deps: Deps, lang: Lang, query: str, district: str) -> dict[str, Any]:
    found = await choices.bookable_stations(deps)
    matching = choices.search(found, query, district)
    return {
        "found": [
            {
                "id": f.info.id,
                "name": choices.station_name(f.info, lang),
                "district": f.info.district,
                "offers": texts.text(
                    "form.station_offers", lang, points=f.points, sessions=f.sessions
                ),
            }
            for f in matching[: choices.STATIONS_SHOWN]
        ],
        "count": len(matching),
        "more": len(matching) > choices.STATIONS_SHOWN,
        "districts": sorted({f.info.district for f in found}),
        "query": query,
        "district": district,
    }


async def _station_page(
    deps: Deps, lang: Lang, station: StationInfo, day_value: str | None, choice_value: str = ""
) -> dict[str, Any]:
    tz = choices.zone_of(station)
    days = choices.day_choices(deps, tz, lang)
    chosen = parse_day(day_value)
    day = chosen if chosen is not None and chosen.isoformat() in dict(days) else None
    day = day or parse_day(days[0][0])
    assert day is not None
    points = await choices.livestream_choices(deps, station, day, lang, choice_value)
    return {
        "station": station,
        "station_name": choices.station_name(station, lang),
        "days": days,
        "day": day.isoformat(),
        "points": points,
        "lengths": choices.length_choices(points, lang),
        "sessions": await choices.session_choices(deps, station, lang),
        "form": {"choice": "", "length": "1", "phone": "", "name": ""},
        "retention_days": deps.settings.phone_retention_days,
    }


def _station_link(station: str, day: str) -> str:
    return "/?" + urlencode({"station": station, "date": day})


REMEMBER_SCRIPT = (Path(__file__).parent / "remember.js").read_bytes


@router.get("/remember.js")
async def remember_script() -> Response:
    """The booking form's only script: remembers name and phone on the device, if asked."""
    return Response(
        REMEMBER_SCRIPT(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/")
async def index(
    request: Request,
    deps: DepsDep,
    station: Annotated[str | None, Query(max_length=64)] = None,
    day: Annotated[str | None, Query(alias="date", max_length=10)] = None,
    q: Annotated[str, Query(max_length=50)] = "",
    district: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Step 1: find a station, then pick a slot or a session there."""
    lang = request_lang(request)
    template, context = await _page(
        deps, lang, station_id=station, day_value=day, query=q, district=district
    )
    return render(request, template, context, 503 if context.get("notice") else 200)


async def _back_to_station(
    request: Request,
    deps: Deps,
    *,
    station: str,
    day: str,
    form: dict[str, str],
    errors: FieldErrors,
    status_code: int,
) -> Response:
    template, context = await _page(
        deps, errors.lang, station_id=station, day_value=day, chosen=form.get("choice", "")
    )
    context.update(errors=errors, form=form)
    return render(request, template, context, status_code, back_to=_station_link(station, day))


@router.post("/book/code")
async def request_code(
    request: Request,
    deps: DepsDep,
    station: FormField = "",
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
    choice: FormField = "",
    length: FormField = "1",
    phone: FormField = "",
    name: FormField = "",
    key: FormField = "",
) -> Response:
    """Step 2: check the choice, send the one-time code, ask for it. The confirm page's
    "resend" button comes here too, with its idempotency key."""
    lang = request_lang(request)
    errors = FieldErrors(lang)
    form = {"choice": choice, "length": length, "phone": phone, "name": name}
    target: Target | None = None
    status_code = 422
    try:
        target = await _resolve(deps, choice, length)
    except BookingError as exc:
        errors.add(_error_field(exc), exc.key)
        status_code = exc.status
    booker = check_booker(phone, name, errors)
    if errors or target is None:
        return await _back_to_station(
            request,
            deps,
            station=station,
            day=day,
            form=form,
            errors=errors,
            status_code=status_code,
        )
    resending = 0 < len(key) <= MAX_KEY_LENGTH
    hidden = {**form, "station": station, "date": day, "phone": booker.phone, "name": booker.name}
    context = _confirm_context(deps, lang, target, hidden, key if resending else uuid.uuid4().hex)
    try:
        wait = await deps.otp_wait(client_address(request))
        if wait is not None:
            raise RateLimited("otp_rate", retry_after=wait)
        await deps.otp.issue(booker.phone)
    except BookingError as exc:
        if resending:
            # The earlier code may still arrive: stay on the page where it is typed in.
            errors.add("otp", exc.key)
            context["errors"] = errors
            return render(
                request, "confirm.html", context, exc.status, back_to=_station_link(station, day)
            )
        errors.add("phone", exc.key)
        return await _back_to_station(
            request,
            deps,
            station=station,
            day=day,
            form=form,
            errors=errors,
            status_code=exc.status,
        )
    return render(request, "confirm.html", context, back_to=_station_link(station, day))


def _confirm_context(
    deps: Deps, lang: Lang, target: Target, hidden: dict[str, str], key: str
) -> dict[str, Any]:
    tz = choices.zone_of(target.station)
    today = deps.clock().astimezone(tz).date()
    minutes = max(1, deps.settings.otp_ttl_seconds // 60)
    return {
        "station_name": choices.station_name(target.station, lang),
        "title": target.title,
        "when": when(target.start, target.end, tz, today, lang),
        "waitlist": target.waitlist,
        "intro": texts.text(
            "form.confirm_intro", lang, phone=mask_phone(hidden["phone"]), minutes=minutes
        ),
        "hidden": {**hidden, "key": key},
        "back_link": _station_link(hidden["station"], hidden["date"]),
        "dev_link": "/api/v1/dev/otp?" + urlencode({"phone": hidden["phone"]}),
    }


@router.post("/book/confirm")
async def confirm(
    request: Request,
    deps: DepsDep,
    station: FormField = "",
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
    choice: FormField = "",
    length: FormField = "1",
    phone: FormField = "",
    name: FormField = "",
    key: FormField = "",
    otp: FormField = "",
) -> Response:
    """Step 3: book with the code; then the booking's page."""
    lang = request_lang(request)
    errors = FieldErrors(lang)
    form = {"choice": choice, "length": length, "phone": phone, "name": name}
    booker = check_booker(phone, name, errors)
    try:
        target = await _resolve(deps, choice, length)
    except BookingError as exc:
        errors.add(_error_field(exc), exc.key)
        return await _back_to_station(
            request,
            deps,
            station=station,
            day=day,
            form=form,
            errors=errors,
            status_code=exc.status,
        )
    if errors:
        # The hidden fields were changed: start again from the choice.
        return await _back_to_station(
            request, deps, station=station, day=day, form=form, errors=errors, status_code=422
        )
    code = check_otp(otp, errors)
    idempotency_key = key if 0 < len(key) <= MAX_KEY_LENGTH else uuid.uuid4().hex
    if not errors:
        try:
            made = await deps.bookings.create(
                target.choice, Booker(booker.phone, booker.name, code), idempotency_key
            )
        except BookingError as exc:
            if exc.field != "otp":
                errors.add(_error_field(exc), exc.key)
                return await _back_to_station(
                    request,
                    deps,
                    station=station,
                    day=day,
                    form=form,
                    errors=errors,
                    status_code=exc.status,
                )
            errors.add("otp", exc.key)
        else:
            target_url = booking_url(made.booking.code, made.manage_token, new=True)
            return RedirectResponse(target_url, status_code=303)
    hidden = {**form, "station": station, "date": day, "phone": booker.phone, "name": booker.name}
    context = _confirm_context(deps, lang, target, hidden, idempotency_key)
    context["errors"] = errors
    return render(request, "confirm.html", context, 422, back_to=_station_link(station, day))
