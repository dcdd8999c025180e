"""Editing a station in the console: names, district, address, coordinates, amenities, the
weekly opening hours (one line per weekday: `08:00-12:00, 14:00-20:00`, empty = closed) and
dated exceptions (closed days, special hours). Stations applies the change as
PATCH /api/v1/stations/{id} does: same checks, the operator's districts, audited."""

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from yizhan.common.auth import Operator
from yizhan.common.hours_text import WEEKDAYS, HoursTextError, format_ranges, parse_ranges
from yizhan.console.i18n import translator
from yizhan.console.manage_base import reason, refused, writer
from yizhan.console.manage_routes import HOST_TYPES
from yizhan.console.session import COOKIE, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import DirectoryDep

router = APIRouter(prefix="/console/manage", include_in_schema=False)

STATUSES = ("active", "suspended", "closed")
TEXT_FIELDS = (
    "name_zh",
    "name_en",
    "district",
    "address",
    "latitude",
    "longitude",
    "host_type",
    "status",
    "amenities",
    "contact",
)
EXCEPTION_FIELDS = ("start", "end", "hours", "note")
# Empty exception rows offered below the existing ones (no script adds rows).
BLANK_EXCEPTIONS = 3
MAX_EXCEPTION_ROWS = 200
_AMENITY_SEPARATORS = re.compile(r"[,，、;；]")
_DAY_IN_MESSAGE = re.compile(r"^(?:Value error, )?(mon|tue|wed|thu|fri|sat|sun):")


def _values_of(station: dict[str, Any]) -> dict[str, Any]:
    """The form's values for a station as stations returned it."""
    hours = station.get("opening_hours")
    values: dict[str, Any] = {
        "name_zh": station["name"]["zh"],
        "name_en": station["name"]["en"],
        "district": station["district"],
        "address": station.get("address", ""),
        "latitude": "" if station.get("latitude") is None else str(station["latitude"]),
        "longitude": "" if station.get("longitude") is None else str(station["longitude"]),
        "host_type": station.get("host_type", "other"),
        "status": station.get("status", "active"),
        "amenities": ", ".join(station.get("amenities", [])),
        "contact": station.get("contact", ""),
        "always_open": hours is None,
    }
    for day in WEEKDAYS:
        values[f"hours_{day}"] = format_ranges((hours or {}).get(day, []))
    values["exceptions"] = [
        {
            "start": e["start"],
            "end": e.get("end") or "",
            "hours": format_ranges(e.get("hours", [])),
            "note": e.get("note", ""),
        }
        for e in station.get("opening_exceptions", [])
    ]
    return values


def _values_from(form: FormData) -> dict[str, Any]:
    """The form's values as posted (kept when showing errors)."""
    values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    values["always_open"] = form.get("always_open") == "yes"
    for day in WEEKDAYS:
        values[f"hours_{day}"] = str(form.get(f"hours_{day}", "")).strip()
    try:
        count = min(int(str(form.get("exc_count", "0"))), MAX_EXCEPTION_ROWS)
    except ValueError:
        count = 0
    rows = [
        {name: str(form.get(f"exc_{name}_{i}", "")).strip() for name in EXCEPTION_FIELDS}
        for i in range(count)
    ]
    values["exceptions"] = [row for row in rows if any(row.values())]
    return values


def patch_body(values: dict[str, Any], t: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The PATCH body, and the errors the console itself can tell (numbers, hour lines)."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "name": {"zh": values["name_zh"], "en": values["name_en"]},
        "district": values["district"],
        "address": values["address"],
        "host_type": values["host_type"],
        "status": values["status"],
        "contact": values["contact"],
        "amenities": [
            a.strip() for a in _AMENITY_SEPARATORS.split(values["amenities"]) if a.strip()
        ],
    }
    for coordinate in ("latitude", "longitude"):
        body[coordinate] = None
        if values[coordinate]:
            try:
                body[coordinate] = float(values[coordinate])
            except ValueError:
                errors[coordinate] = t("not_a_number")
    if values["always_open"]:
        body["opening_hours"] = None
    else:
        weekly: dict[str, list[tuple[str, str]]] = {}
        for day in WEEKDAYS:
            try:
                ranges = parse_ranges(values[f"hours_{day}"])
            except HoursTextError as exc:
                errors[f"hours_{day}"] = reason(t, exc.code, str(exc))
                continue
            if ranges:
                weekly[day] = ranges
        body["opening_hours"] = weekly
    exceptions = []
    for i, row in enumerate(values["exceptions"]):
        try:
            hours = parse_ranges(row["hours"])
        except HoursTextError as exc:
            errors[f"exc_hours_{i}"] = reason(t, exc.code, str(exc))
            continue
        if not row["start"]:
            errors[f"exc_start_{i}"] = t("reason_missing")
            continue
        exception: dict[str, Any] = {"start": row["start"], "hours": hours, "note": row["note"]}
        if row["end"]:
            exception["end"] = row["end"]
        exceptions.append(exception)
    body["opening_exceptions"] = exceptions
    return body, errors


def form_field_of(path: str, message: str) -> str:
    """Where on the form an error of stations (by JSON path) belongs."""
    parts = path.split(".")
    if parts[0] == "name":
        return "name_en" if parts[1:2] == ["en"] else "name_zh"
    if parts[0] == "opening_hours":
        if len(parts) > 1 and parts[1] in WEEKDAYS:
            return f"hours_{parts[1]}"
        day = _DAY_IN_MESSAGE.match(message)
        return f"hours_{day.group(1)}" if day else "hours"
    if parts[0] == "opening_exceptions":
        if len(parts) > 2 and parts[2] in EXCEPTION_FIELDS:
            return f"exc_{parts[2]}_{parts[1]}"
        return f"exc_start_{parts[1]}" if len(parts) > 1 else "exceptions"
    return parts[0]


def _page(
    request: Request,
    operator: Operator,
    station_id: str,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    rows = [*values["exceptions"], *({n: "" for n in EXCEPTION_FIELDS},) * BLANK_EXCEPTIONS]
    return templates.TemplateResponse(
        request,
        "manage_station_edit.html",
        page_context(
            request,
            operator,
            "manage",
            station_id=station_id,
            values=values,
            exception_rows=rows,
            errors=errors,
            host_types=HOST_TYPES,
            statuses=STATUSES,
            weekdays=WEEKDAYS,
            saved=request.query_params.get("saved") == "1",
        ),
        status_code=status,
    )


@router.get("/stations/{station_id}/edit", response_class=HTMLResponse)
async def edit_station(request: Request, station_id: str, directory: DirectoryDep) -> Response:
    """The station's form, filled in."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    try:
        reply = await directory.read_station(request.cookies[COOKIE], station_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)
    refusal = refused(request, reply)
    if refusal is not None:
        return refusal
    return _page(request, allowed, station_id, _values_of(json.loads(reply.result_json)), {})


@router.post("/stations/{station_id}/edit", response_class=HTMLResponse)
async def save_station(request: Request, station_id: str, directory: DirectoryDep) -> Response:
    """Save the change, or show the form again with each field's error."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    t = translator(request_lang(request))
    values = _values_from(await request.form())
    body, errors = patch_body(values, t)
    if errors:
        return _page(request, allowed, station_id, values, errors, status=422)
    try:
        reply = await directory.update_station(
            request.cookies[COOKIE], station_id, json.dumps(body)
        )
    except SourceDown:
        errors = {"_form": t("stations_down")}
        return _page(request, allowed, station_id, values, errors, status=503)
    if reply.code == "out_of_scope":
        # Moving a station to a district not one's own: that field's error.
        return _page(
            request, allowed, station_id, values, {"district": t("not_allowed")}, status=422
        )
    refusal = refused(request, reply)
    if refusal is not None:
        return refusal
    if reply.code:
        # Empty exception rows were dropped before numbering, as on the page shown again.
        mapped: dict[str, str] = {}
        for error in reply.errors:
            where = form_field_of(error.field, error.message)
            mapped.setdefault(where, reason(t, error.code, error.message))
        return _page(request, allowed, station_id, values, mapped, status=422)
    return RedirectResponse(f"/console/manage/stations/{station_id}/edit?saved=1", status_code=303)
