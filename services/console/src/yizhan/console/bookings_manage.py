"""Bookings-side management pages of the console (issue 14): a station's livestream points
(add, change, retire) and forum sessions (schedule, change, cancel), checking a booking in by
hand, the station's opinions (record one raised in the room, group many under one measure,
move them through their states) and the station's recent audited actions.

Bookings does the work over gRPC BookingAdmin on the operator's behalf (token, write role,
district, validation, audit); the console renders forms and field errors, and refuses
stations outside the operator's districts (403) before asking. Cross-site posts are refused
for every form by yizhan.common.csrf."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from yizhan.common.auth import Operator
from yizhan.console.i18n import LANGS, translator
from yizhan.console.peers.bookings import Action, BookingsAdmin, Reply
from yizhan.console.peers.stations import Station
from yizhan.console.session import COOKIE, cookie_operator, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.wiring import BookingsAdminDep, DirectoryDep

router = APIRouter(prefix="/console/manage/stations/{station_id}", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

POINT_FIELDS = ("name", "slot_minutes", "min_notice_minutes", "max_days_ahead", "max_steps")
POINT_NUMBERS = frozenset(POINT_FIELDS) - {"name"}
SESSION_FIELDS = ("topic", "kind", "host", "start", "end", "seats")
SESSION_KINDS = ("forum", "training", "health_check")
OPINION_CATEGORIES = (
    "parking",
    "rest_space",
    "charging",
    "water_food",
    "pay_insurance",
    "platform_rules",
    "traffic_safety",
    "other",
)
# Where an operator may move an opinion from each state (bookings' opinions.py decides; the
# page only offers these).
NEXT_STATES = {
    "received": ("in_progress", "declined"),
    "in_progress": ("resolved", "declined"),
    "resolved": (),
    "declined": (),
}
AUDIT_SHOWN = 20
# Bookings refusals that are not a field's fault, and what the page answers.
_REFUSED = {"read_only": 403, "station_not_found": 403, "unauthorized": 401}


def _context(
    request: Request, operator: Operator, station: Station, **values: Any
) -> dict[str, Any]:
    lang = request_lang(request)
    tz = ZoneInfo(station.timezone or "Asia/Shanghai")
    return {
        "t": translator(lang),
        "lang": lang,
        "other_lang": LANGS[1 - LANGS.index(lang)],
        "operator": operator,
        "kind": "manage",
        "here": request.url.path,
        "station": station,
        "station_name": station.name_zh if lang == "zh" else station.name_en,
        "when": lambda iso: _local(iso, tz, " "),
        **values,
    }


def _local(iso: str | None, tz: ZoneInfo, sep: str) -> str:
    """An ISO instant from bookings as the station's local `YYYY-MM-DD HH:MM`."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(tz).strftime(f"%Y-%m-%d{sep}%H:%M")


def _refusal(request: Request, status: int) -> Response:
    return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=status)


async def _gate(
    request: Request, directory: DirectoryDep, station_id: str
) -> tuple[Operator, Station] | Response:
    """The signed-in operator who may change this station's bookings, and the station; or
    the answer instead: sign in, 403 for a viewer or a station outside their districts."""
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    if not operator.can_write:
        return _refusal(request, 403)
    try:
        station = await directory.get_station(station_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)
    if station is None:
        return _refusal(request, 404)
    if not operator.can_see_district(station.district):
        return _refusal(request, 403)
    return operator, station


def _errors(reply: Reply, t: Any, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Bookings' field errors by form field; a refusal without a field is the form's."""
    errors: dict[str, str] = {}
    for error in reply.errors:
        name = error.field.split(".")[-1] if error.field else ""
        name = (aliases or {}).get(name, name) or "_form"
        # Bookings' own refusals have a key the console words; a malformed field gets the
        # validator's (English) detail beside the console's words.
        if reply.code == "invalid":
            message = t("check_field", detail=error.message)
        else:
            message = t(f"bk_code_{reply.code}")
        errors.setdefault(name, message)
    if not errors:
        errors["_form"] = t(f"bk_code_{reply.code}") if reply.code else t("form_invalid")
    return errors


async def _act(
    request: Request,
    admin: BookingsAdmin,
    action: Action,
    *,
    station_id: str,
    target: str = "",
    body: dict[str, Any] | None = None,
) -> Reply | Response:
    """Ask bookings; a refusal that is nobody's field becomes the page's answer."""
    try:
        reply = await admin.call(
            action, request.cookies[COOKIE], station_id=station_id, target=target, body=body
        )
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    status = _REFUSED.get(reply.code)
    if status is not None:
        return _refusal(request, status)
    return reply


def _numbers(
    values: dict[str, str], names: frozenset[str], t: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """Whole numbers of a form (empty: left out), and the fields that are not one."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        if not values.get(name):
            continue
        try:
            parsed[name] = int(values[name])
        except ValueError:
            errors[name] = t("not_a_whole_number")
    return parsed, errors


def _instant(value: str, tz: ZoneInfo) -> str:
    """A `datetime-local` value in the station's zone as an ISO instant; ValueError if bad."""
    return datetime.fromisoformat(value).replace(tzinfo=tz).isoformat()


# --- the station's bookings page: points, sessions, check-in, audit ---------------------


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
    }
    errors: dict[str, dict[str, str]] = {"point": {}, "session": {}, "checkin": {}}
    for form, (form_values, form_errors) in forms.items():
        values[form] = form_values
        errors[form] = form_errors
    context = _context(
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    return await _bookings_page(request, *gate, admin)


def _point_body(values: dict[str, str], t: Any) -> tuple[dict[str, Any], dict[str, str]]:
    body, errors = _numbers(values, POINT_NUMBERS, t)
    body["name"] = values["name"]
    return body, errors


@router.post("/bookings/points", response_class=HTMLResponse)
async def create_point(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Add a livestream point, or show the form again with each field's error."""
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in POINT_FIELDS}
    body, errors = _point_body(values, t)
    if not errors:
        reply = await _act(
            request, admin, "CreateLivestreamPoint", station_id=station_id, body=body
        )
        if isinstance(reply, Response):
            return reply
        if not reply.code:
            return RedirectResponse(f"{_base(station_id)}?done=point_created", status_code=303)
        errors = _errors(reply, t)
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    try:
        points = await admin.items("ListLivestreamPoints", request.cookies[COOKIE], station_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    point = next((p for p in points if p["id"] == point_id), None)
    if point is None:
        return _refusal(request, 404)
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
    context = _context(request, operator, station, point=point, values=values, errors=errors)
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
    gate = await _gate(request, directory, station_id)
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
        reply = await _act(
            request,
            admin,
            "UpdateLivestreamPoint",
            station_id=station_id,
            target=str(point_id),
            body=body,
        )
        if isinstance(reply, Response):
            return reply
        if not reply.code:
            return RedirectResponse(f"{_base(station_id)}?done=point_saved", status_code=303)
        errors = _errors(reply, t)
    point = {"id": point_id, "active": True}
    return _point_form(request, *gate, point, values, errors, 422)


def _session_body(
    values: dict[str, str], tz: ZoneInfo, t: Any, *, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    body, errors = _numbers(values, frozenset({"seats"}), t)
    for name in ("topic", "kind", "host"):
        if values[name] or not partial:
            body[name] = values[name]
    for name in ("start", "end"):
        if not values[name]:
            if not partial:
                errors[name] = t("required")
            continue
        try:
            body[name] = _instant(values[name], tz)
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in SESSION_FIELDS}
    tz = ZoneInfo(gate[1].timezone or "Asia/Shanghai")
    body, errors = _session_body(values, tz, t, partial=False)
    if not errors:
        reply = await _act(request, admin, "CreateForumSession", station_id=station_id, body=body)
        if isinstance(reply, Response):
            return reply
        if not reply.code:
            return RedirectResponse(f"{_base(station_id)}?done=session_created", status_code=303)
        # The times' own check names no field: it is the end that is wrong.
        errors = _errors(reply, t, {"": "end"} if reply.code == "invalid" else None)
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    try:
        sessions = await admin.items("ListForumSessions", request.cookies[COOKIE], station_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    found = next((s for s in sessions if s["id"] == session_id), None)
    if found is None:
        return _refusal(request, 404)
    tz = ZoneInfo(gate[1].timezone or "Asia/Shanghai")
    values = {name: str(found[name]) for name in ("topic", "kind", "host", "seats")}
    values["start"] = _local(found["start"], tz, "T")
    values["end"] = _local(found["end"], tz, "T")
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
    context = _context(
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in SESSION_FIELDS}
    tz = ZoneInfo(gate[1].timezone or "Asia/Shanghai")
    body, errors = _session_body(values, tz, t, partial=True)
    if not errors:
        reply = await _act(
            request,
            admin,
            "UpdateForumSession",
            station_id=station_id,
            target=str(session_id),
            body=body,
        )
        if isinstance(reply, Response):
            return reply
        if not reply.code:
            return RedirectResponse(f"{_base(station_id)}?done=session_saved", status_code=303)
        aliases = {"": "end", "seats_below_confirmed": "seats"}
        errors = _errors(reply, t, aliases)
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    reply = await _act(
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
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {"code": str(form.get("code", "")).strip()}
    if not values["code"]:
        return await _bookings_page(
            request, *gate, admin, 422, checkin=(values, {"code": t("required")})
        )
    reply = await _act(
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


def _base(station_id: str) -> str:
    return f"/console/manage/stations/{station_id}/bookings"


# --- the station's opinions page ---------------------------------------------------------


async def _opinions_page(
    request: Request,
    operator: Operator,
    station: Station,
    admin: BookingsAdmin,
    status: int = 200,
    **forms: Any,
) -> Response:
    token = request.cookies[COOKIE]
    try:
        opinions = await admin.items("ListOpinions", token, station.id)
        sessions = await admin.items("ListForumSessions", token, station.id)
        measures = await admin.items("ListMeasures", token, station.id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    values: dict[str, Any] = {
        "record": {"forum_session_id": "", "category": "other", "text": ""},
        "group": {"opinion_ids": [], "text": "", "measure_id": ""},
        "move": {},
    }
    errors: dict[str, dict[str, str]] = {"record": {}, "group": {}, "move": {}}
    for form, (form_values, form_errors) in forms.items():
        values[form] = form_values
        errors[form] = form_errors
    topics = {s["id"]: s["topic"] for s in sessions}
    context = _context(
        request,
        operator,
        station,
        opinions=opinions,
        sessions=[s for s in sessions if s["status"] == "scheduled"],
        topics=topics,
        measures=measures,
        measure_texts={m["id"]: m["text"] for m in measures},
        values=values,
        errors=errors,
        categories=OPINION_CATEGORIES,
        next_states=NEXT_STATES,
        done=request.query_params.get("done", ""),
    )
    return templates.TemplateResponse(request, "manage_opinions.html", context, status_code=status)


def _opinions(station_id: str) -> str:
    return f"/console/manage/stations/{station_id}/opinions"


@router.get("/opinions", response_class=HTMLResponse)
async def opinions_page(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """A station's opinions and measures, with the forms that record and move them."""
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    return await _opinions_page(request, *gate, admin)


@router.post("/opinions", response_class=HTMLResponse)
async def record_opinion(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Record an opinion raised in the room at one of the station's sessions."""
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {
        name: str(form.get(name, "")).strip() for name in ("forum_session_id", "category", "text")
    }
    errors: dict[str, str] = {}
    if not values["forum_session_id"].isdigit():
        errors["forum_session_id"] = t("required")
    if not values["text"]:
        errors["text"] = t("required")
    if not errors:
        body = {
            "forum_session_id": int(values["forum_session_id"]),
            "category": values["category"],
            "text": values["text"],
        }
        reply = await _act(request, admin, "RecordOpinion", station_id=station_id, body=body)
        if isinstance(reply, Response):
            return reply
        if not reply.code:
            return RedirectResponse(f"{_opinions(station_id)}?done=opinion_recorded", 303)
        errors = _errors(reply, t, {"session_unknown": "forum_session_id"})
    return await _opinions_page(request, *gate, admin, 422, record=(values, errors))


@router.post("/opinions/group", response_class=HTMLResponse)
async def group_opinions(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Group the ticked opinions under a new measure, or an existing one."""
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    ids = [str(v) for v in form.getlist("opinion_ids") if str(v).isdigit()]
    values: dict[str, Any] = {
        "opinion_ids": ids,
        "text": str(form.get("text", "")).strip(),
        "measure_id": str(form.get("measure_id", "")).strip(),
    }
    errors: dict[str, str] = {}
    if not ids:
        errors["opinion_ids"] = t("pick_opinions")
    body: dict[str, Any] = {"opinion_ids": [int(i) for i in ids]}
    if values["measure_id"].isdigit():
        body["measure_id"] = int(values["measure_id"])
    elif values["text"]:
        body["text"] = values["text"]
    else:
        errors["text"] = t("measure_or_existing")
    if not errors:
        reply = await _act(request, admin, "GroupOpinions", station_id=station_id, body=body)
        if isinstance(reply, Response):
            return reply
        if not reply.code:
            return RedirectResponse(f"{_opinions(station_id)}?done=opinions_grouped", 303)
        errors = _errors(reply, t)
    return await _opinions_page(request, *gate, admin, 422, group=(values, errors))


@router.post("/opinions/{opinion_id}/move", response_class=HTMLResponse)
async def move_opinion(
    request: Request,
    station_id: str,
    opinion_id: int,
    directory: DirectoryDep,
    admin: BookingsAdminDep,
) -> Response:
    """Move an opinion on: resolving needs the measure (or its group's), declining why."""
    gate = await _gate(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    status = str(form.get("status", ""))
    note = str(form.get("note", "")).strip()
    body: dict[str, Any] = {"status": status}
    if note and status == "resolved":
        body["measure"] = note
    if note and status == "declined":
        body["reason"] = note
    reply = await _act(
        request, admin, "MoveOpinion", station_id=station_id, target=str(opinion_id), body=body
    )
    if isinstance(reply, Response):
        return reply
    if not reply.code:
        return RedirectResponse(f"{_opinions(station_id)}?done=opinion_moved", 303)
    errors = {str(opinion_id): t(f"bk_code_{reply.code}")}
    values = {str(opinion_id): note}
    return await _opinions_page(request, *gate, admin, 422, move=(values, errors))
