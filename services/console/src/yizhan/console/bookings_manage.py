"""The console's page of a station's bookings (issue 14): its livestream points (add,
change, retire) and forum sessions (schedule, change, cancel), checking a booking in by hand,
and the station's recent audited actions. Bookings does the work over gRPC BookingAdmin on
the operator's behalf (token, write role, district, validation, audit); the console renders
forms and field errors (bookings_pages.py). Cross-site posts are refused for every form by
yizhan.common.csrf."""

import json
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.bookings_pages import (
    allowed_station,
    ask,
    field_errors,
    instant,
    local_minute,
    one_item,
    station_context,
    submit,
    whole_numbers,
)
from yizhan.console.i18n import translator
from yizhan.console.peers.bookings import BookingsAdmin
from yizhan.console.peers.stations import Station
from yizhan.console.session import COOKIE, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import templates
from yizhan.console.wiring import BookingsAdminDep, DirectoryDep

router = APIRouter(prefix="/console/manage/stations/{station_id}", include_in_schema=False)

POINT_FIELDS = ("name", "slot_minutes", "min_notice_minutes", "max_days_ahead", "max_steps")
POINT_NUMBERS = frozenset(POINT_FIELDS) - {"name"}
SESSION_FIELDS = ("topic", "kind", "host", "start", "end", "seats")
SESSION_KINDS = ("forum", "training", "health_check")
AUDIT_SHOWN = 20


async def _bookings_page(
    request: Request,
    operator: Operator,
    station: Station,
    admin: BookingsAdmin,
    status: int = 200,
    **forms: Any,
) -> Response:
    token = request.cookies[COOKIE]
    try:
        points = await admin.items("ListLivestreamPoints", token, station.id)
        sessions = await admin.items("ListForumSessions", token, station.id)
        audit = (await admin.items("ListAudit", token, station.id))[:AUDIT_SHOWN]
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    values = {
        "point": dict.fromkeys(POINT_FIELDS, "")
        | {"slot_minutes": "30", "max_days_ahead": "30", "max_steps": "4"},
        "session": dict.fromkeys(SESSION_FIELDS, "") | {"kind": "forum"},
        "checkin": {"code": ""},
        "cancel": {"code": ""},
    }
    errors: dict[str, dict[str, str]] = {"point": {}, "session": {}, "checkin": {}, "cancel": {}}
    for form, (form_values, form_errors) in forms.items():
        values[form] = form_values
        errors[form] = form_errors
    context = station_context(
        request,
        operator,
        station,
        points=points,
        sessions=sessions,
        audit=audit,
        values=values,
        errors=errors,
        kinds=SESSION_KINDS,
        done=request.query_params.get("done", ""),
        checkin=forms.get("checkin_result"),
    )
    return templates.TemplateResponse(request, "manage_bookings.html", context, status_code=status)


@router.get("/bookings", response_class=HTMLResponse)
async def bookings_page(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """A station's livestream points, forum sessions, check-in by hand and recent actions."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    return await _bookings_page(request, *gate, admin)


def _point_body(values: dict[str, str], t: Any) -> tuple[dict[str, Any], dict[str, str]]:
    body, errors = whole_numbers(values, POINT_NUMBERS, t)
    body["name"] = values["name"]
    return body, errors


@router.post("/bookings/points", response_class=HTMLResponse)
async def create_point(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Add a livestream point, or show the form again with each field's error."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in POINT_FIELDS}
    body, errors = _point_body(values, t)
    if not errors:
        done = f"{_base(station_id)}?done=point_created"
        reply = await submit(
            request, admin, "CreateLivestreamPoint", done, station_id=station_id, body=body
        )
        if isinstance(reply, Response):
            return reply
        errors = field_errors(reply, t)
    return await _bookings_page(request, *gate, admin, 422, point=(values, errors))


@router.get("/bookings/points/{point_id}", response_class=HTMLResponse)
async def edit_point(
    request: Request,
    station_id: str,
    point_id: int,
    directory: DirectoryDep,
    admin: BookingsAdminDep,
) -> Response:
    """The form of one livestream point of the station."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    point = await one_item(request, admin, "ListLivestreamPoints", station_id, point_id)
    if isinstance(point, Response):
        return point
    values = {name: str(point[name]) for name in POINT_FIELDS}
    return _point_form(request, *gate, point, values, {})


def _point_form(
    request: Request,
    operator: Operator,
    station: Station,
    point: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = station_context(request, operator, station, point=point, values=values, errors=errors)
    return templates.TemplateResponse(request, "manage_point.html", context, status_code=status)


@router.post("/bookings/points/{point_id}", response_class=HTMLResponse)
async def update_point(
    request: Request,
    station_id: str,
    point_id: int,
    directory: DirectoryDep,
    admin: BookingsAdminDep,
) -> Response:
    """Change a point (or retire it with `active=0`, bring it back with `active=1`)."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    if "active" in form:
        body: dict[str, Any] = {"active": form.get("active") == "1"}
        values: dict[str, str] = {}
        errors: dict[str, str] = {}
    else:
        values = {name: str(form.get(name, "")).strip() for name in POINT_FIELDS}
        body, errors = _point_body(values, t)
    if not errors:
        reply = await submit(
            request,
            admin,
            "UpdateLivestreamPoint",
            f"{_base(station_id)}?done=point_saved",
            station_id=station_id,
            target=str(point_id),
            body=body,
        )
        if isinstance(reply, Response):
            return reply
        errors = field_errors(reply, t)
    point = {"id": point_id, "active": True}
    return _point_form(request, *gate, point, values, errors, 422)


def _session_body(
    values: dict[str, str], tz: ZoneInfo, t: Any, *, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    body, errors = whole_numbers(values, frozenset({"seats"}), t)
    for name in ("topic", "kind", "host"):
        if values[name] or not partial:
            body[name] = values[name]
    for name in ("start", "end"):
        if not values[name]:
            if not partial:
                errors[name] = t("required")
            continue
        try:
            body[name] = instant(values[name], tz)
        except ValueError:
            errors[name] = t("not_a_time")
    if not partial and "seats" not in body and "seats" not in errors:
        errors["seats"] = t("required")
    return body, errors


@router.post("/bookings/sessions", response_class=HTMLResponse)
async def create_session(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Schedule a forum session, or show the form again with each field's error."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in SESSION_FIELDS}
    tz = ZoneInfo(gate[1].timezone or "Asia/Shanghai")
    body, errors = _session_body(values, tz, t, partial=False)
    if not errors:
        done = f"{_base(station_id)}?done=session_created"
        reply = await submit(
            request, admin, "CreateForumSession", done, station_id=station_id, body=body
        )
        if isinstance(reply, Response):
            return reply
        # The times' own check names no field: it is the end that is wrong.
        errors = field_errors(reply, t, {"": "end"} if reply.code == "invalid" else None)
    return await _bookings_page(request, *gate, admin, 422, session=(values, errors))


@router.get("/bookings/sessions/{session_id}", response_class=HTMLResponse)
async def edit_session(
    request: Request,
    station_id: str,
    session_id: int,
    directory: DirectoryDep,
    admin: BookingsAdminDep,
) -> Response:
    """The form of one forum session of the station."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    found = await one_item(request, admin, "ListForumSessions", station_id, session_id)
    if isinstance(found, Response):
        return found
    tz = ZoneInfo(gate[1].timezone or "Asia/Shanghai")
    values = {name: str(found[name]) for name in ("topic", "kind", "host", "seats")}
    values["start"] = local_minute(found["start"], tz, "T")
    values["end"] = local_minute(found["end"], tz, "T")
    return _session_form(request, *gate, found, values, {})


def _session_form(
    request: Request,
    operator: Operator,
    station: Station,
    found: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = station_context(
        request,
        operator,
        station,
        session=found,
        values=values,
        errors=errors,
        kinds=SESSION_KINDS,
    )
    return templates.TemplateResponse(request, "manage_session.html", context, status_code=status)


@router.post("/bookings/sessions/{session_id}", response_class=HTMLResponse)
async def update_session(
    request: Request,
    station_id: str,
    session_id: int,
    directory: DirectoryDep,
    admin: BookingsAdminDep,
) -> Response:
    """Change a session that has not started (its holders are told by SMS)."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in SESSION_FIELDS}
    tz = ZoneInfo(gate[1].timezone or "Asia/Shanghai")
    body, errors = _session_body(values, tz, t, partial=True)
    if not errors:
        reply = await submit(
            request,
            admin,
            "UpdateForumSession",
            f"{_base(station_id)}?done=session_saved",
            station_id=station_id,
            target=str(session_id),
            body=body,
        )
        if isinstance(reply, Response):
            return reply
        aliases = {"": "end", "seats_below_confirmed": "seats"}
        errors = field_errors(reply, t, aliases)
        if reply.code == "seats_below_confirmed":
            errors = {"seats": t("bk_code_seats_below_confirmed")}
    found = {"id": session_id, "status": "scheduled"}
    return _session_form(request, *gate, found, values, errors, 422)


@router.post("/bookings/sessions/{session_id}/cancel", response_class=HTMLResponse)
async def cancel_session(
    request: Request,
    station_id: str,
    session_id: int,
    directory: DirectoryDep,
    admin: BookingsAdminDep,
) -> Response:
    """Cancel a session that has not started, with its bookings (holders told by SMS)."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    reply = await ask(
        request, admin, "CancelForumSession", station_id=station_id, target=str(session_id)
    )
    if isinstance(reply, Response):
        return reply
    done = "session_cancelled" if not reply.code else f"refused_{reply.code}"
    return RedirectResponse(f"{_base(station_id)}?done={done}", status_code=303)


@router.post("/bookings/check-in", response_class=HTMLResponse)
async def check_in(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Check a booking of this station in by its code; the kiosk's window and reasons."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {"code": str(form.get("code", "")).strip()}
    if not values["code"]:
        return await _bookings_page(
            request, *gate, admin, 422, checkin=(values, {"code": t("required")})
        )
    reply = await ask(
        request, admin, "CheckInBooking", station_id=station_id, target=values["code"]
    )
    if isinstance(reply, Response):
        return reply
    if reply.code:
        # Another district's code answers as an unknown one (bookings tells nothing of it).
        errors = {"code": t(f"bk_code_{reply.code}")}
        return await _bookings_page(request, *gate, admin, 422, checkin=(values, errors))
    result = json.loads(reply.result_json)
    if not result["ok"]:
        message = result["message"][request_lang(request)]
        return await _bookings_page(request, *gate, admin, 409, checkin=(values, {"code": message}))
    return RedirectResponse(f"{_base(station_id)}?done=checked_in#checkin", status_code=303)


@router.post("/bookings/cancel", response_class=HTMLResponse)
async def cancel_booking(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Cancel a booking of this station for its holder, by its code (they are told by SMS;
    a freed seat goes to the waitlist)."""
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {"code": str(form.get("code", "")).strip()}
    errors: dict[str, str] = {} if values["code"] else {"code": t("required")}
    if not errors:
        done = f"{_base(station_id)}?done=booking_cancelled"
        reply = await submit(
            request, admin, "CancelBooking", done, station_id=station_id, target=values["code"]
        )
        if isinstance(reply, Response):
            return reply
        errors = {"code": t(f"bk_code_{reply.code}")}
    return await _bookings_page(request, *gate, admin, 422, cancel=(values, errors))


def _base(station_id: str) -> str:
    return f"/console/manage/stations/{station_id}/bookings"
