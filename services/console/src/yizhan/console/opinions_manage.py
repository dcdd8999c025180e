"""The console's page of a station's opinions (issue 14): record an opinion raised in the
room, group many under one improvement measure, move each through its states. Bookings does
the work over gRPC BookingAdmin on the operator's behalf (its opinions.py decides which moves
are allowed, and audits each); the console renders forms and field errors
(bookings_pages.py)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.bookings_pages import (
    allowed_station,
    field_errors,
    station_context,
    submit,
)
from yizhan.console.i18n import translator
from yizhan.console.peers.bookings import BookingsAdmin
from yizhan.console.peers.stations import Station
from yizhan.console.session import COOKIE, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import templates
from yizhan.console.wiring import BookingsAdminDep, DirectoryDep

router = APIRouter(prefix="/console/manage/stations/{station_id}", include_in_schema=False)

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
    context = station_context(
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
    gate = await allowed_station(request, directory, station_id)
    if isinstance(gate, Response):
        return gate
    return await _opinions_page(request, *gate, admin)


@router.post("/opinions", response_class=HTMLResponse)
async def record_opinion(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Record an opinion raised in the room at one of the station's sessions."""
    gate = await allowed_station(request, directory, station_id)
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
        done = f"{_opinions(station_id)}?done=opinion_recorded"
        reply = await submit(
            request, admin, "RecordOpinion", done, station_id=station_id, body=body
        )
        if isinstance(reply, Response):
            return reply
        errors = field_errors(reply, t, {"session_unknown": "forum_session_id"})
    return await _opinions_page(request, *gate, admin, 422, record=(values, errors))


@router.post("/opinions/group", response_class=HTMLResponse)
async def group_opinions(
    request: Request, station_id: str, directory: DirectoryDep, admin: BookingsAdminDep
) -> Response:
    """Group the ticked opinions under a new measure, or an existing one."""
    gate = await allowed_station(request, directory, station_id)
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
        done = f"{_opinions(station_id)}?done=opinions_grouped"
        reply = await submit(
            request, admin, "GroupOpinions", done, station_id=station_id, body=body
        )
        if isinstance(reply, Response):
            return reply
        errors = field_errors(reply, t)
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
    gate = await allowed_station(request, directory, station_id)
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
    reply = await submit(
        request,
        admin,
        "MoveOpinion",
        f"{_opinions(station_id)}?done=opinion_moved",
        station_id=station_id,
        target=str(opinion_id),
        body=body,
    )
    if isinstance(reply, Response):
        return reply
    errors = {str(opinion_id): t(f"bk_code_{reply.code}")}
    values = {str(opinion_id): note}
    return await _opinions_page(request, *gate, admin, 422, move=(values, errors))
