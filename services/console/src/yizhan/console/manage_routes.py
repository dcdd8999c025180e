"""Management pages of the console: create a station, register (provision) a device and
show its credentials once. Stations does the work over gRPC StationAdmin on the operator's
behalf (scope, validation, audit); the console only renders forms and field errors.
Cross-site posts are refused for every form by yizhan.common.csrf (issue 9's middleware)."""

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.i18n import translator
from yizhan.console.manage_base import by_top_field, field_errors, refused, writer
from yizhan.console.manage_devices import credentials_page
from yizhan.console.peers.stations import AdminReply, FieldError
from yizhan.console.session import COOKIE, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep, DirectoryDep

router = APIRouter(prefix="/console/manage", include_in_schema=False)

HOST_TYPES = (
    "bank_branch",
    "petrol_station",
    "battery_swap",
    "community_centre",
    "scenic_area",
    "other",
)
DEVICE_KINDS = ("charger", "water", "heater", "counter", "kiosk", "other")
STATION_FIELDS = (
    "id",
    "name_zh",
    "name_en",
    "district",
    "address",
    "latitude",
    "longitude",
    "host_type",
    "amenities",
)
# Stations names a field by its JSON path; the form by its input.
_FORM_FIELD = by_top_field({"name.zh": "name_zh", "name.en": "name_en", "name": "name_zh"})


@router.get("/stations/new", response_class=HTMLResponse)
async def new_station(request: Request) -> Response:
    """The empty station form (a district operator's district preselected)."""
    gate = await writer(request)
    if isinstance(gate, Response):
        return gate
    values = dict.fromkeys(STATION_FIELDS, "")
    values["host_type"] = "other"
    values["district"] = gate.districts[0] if gate.districts else ""
    return templates.TemplateResponse(
        request,
        "manage_station.html",
        page_context(request, gate, "manage", values=values, errors={}, host_types=HOST_TYPES),
    )


@router.post("/stations", response_class=HTMLResponse)
async def create_station(request: Request, directory: DirectoryDep) -> Response:
    """Create the station, or show the form again with each field's error."""
    gate = await writer(request)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in STATION_FIELDS}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "id": values["id"],
        "name": {"zh": values["name_zh"], "en": values["name_en"]},
        "district": values["district"],
        "address": values["address"],
        "host_type": values["host_type"],
        "amenities": [a.strip() for a in values["amenities"].split(",") if a.strip()],
    }
    for coordinate in ("latitude", "longitude"):
        if values[coordinate]:
            try:
                body[coordinate] = float(values[coordinate])
            except ValueError:
                errors[coordinate] = t("not_a_number")
    status = 422
    if not errors:
        try:
            reply = await directory.create_station(request.cookies[COOKIE], json.dumps(body))
        except SourceDown:
            errors["_form"] = t("stations_down")
            status = 503
        else:
            if reply.code == "out_of_scope":
                # A district outside one's own: an error of that field, not a dead end.
                reply = AdminReply(
                    code="invalid", errors=[FieldError(field="district", message=t("not_allowed"))]
                )
            refusal = refused(request, reply)
            if refusal is not None:
                return refusal
            if not reply.code:
                return RedirectResponse(
                    f"/console/manage/stations/{values['id']}/devices/new?created=1",
                    status_code=303,
                )
            errors = (
                {"id": t("id_taken")}
                if reply.code == "conflict"
                else field_errors(t, reply, _FORM_FIELD)
            )
            status = 409 if reply.code == "conflict" else 422
    return templates.TemplateResponse(
        request,
        "manage_station.html",
        page_context(request, gate, "manage", values=values, errors=errors, host_types=HOST_TYPES),
        status_code=status,
    )


async def _device_form(
    request: Request,
    operator: Operator,
    directory: DirectoryDep,
    station_id: str,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    station = await directory.get_station(station_id)
    if station is None or not operator.can_see_district(station.district):
        return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=404)
    return templates.TemplateResponse(
        request,
        "manage_device.html",
        page_context(
            request,
            operator,
            "manage",
            station=station,
            values=values,
            errors=errors,
            kinds=DEVICE_KINDS,
            created=request.query_params.get("created") == "1",
        ),
        status_code=status,
    )


@router.get("/stations/{station_id}/devices/new", response_class=HTMLResponse)
async def new_device(request: Request, station_id: str, directory: DirectoryDep) -> Response:
    """The device form of a station in scope."""
    gate = await writer(request)
    if isinstance(gate, Response):
        return gate
    try:
        return await _device_form(
            request, gate, directory, station_id, {"id": "", "kind": "kiosk"}, {}
        )
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)


@router.post("/stations/{station_id}/devices", response_class=HTMLResponse)
async def provision_device(
    request: Request, station_id: str, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """Register the device and show its credentials this once (never cached)."""
    gate = await writer(request)
    if isinstance(gate, Response):
        return gate
    t = translator(request_lang(request))
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in ("id", "kind")}
    try:
        reply = await directory.provision_device(
            request.cookies[COOKIE], station_id, json.dumps(values)
        )
        refusal = refused(request, reply)
        if refusal is not None:
            return refusal
        if reply.code:
            errors = (
                {"id": t("id_taken")}
                if reply.code == "conflict"
                else field_errors(t, reply, _FORM_FIELD)
            )
            status = 409 if reply.code == "conflict" else 422
            return await _device_form(request, gate, directory, station_id, values, errors, status)
    except SourceDown:
        return HTMLResponse(t("stations_down"), status_code=503)
    return await credentials_page(request, gate, console, [json.loads(reply.result_json)])
