"""A station's devices in the console: the list with each one's state, new credentials
(rotate: the old password stops working and its connection is dropped), revoke (for good:
the broker deletes the account and disconnects it), and the printable credentials sheet
shown once after provisioning, a rotation or an import."""

import base64
import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.credentials import CredentialsCard
from yizhan.console.i18n import translator
from yizhan.console.manage_base import refused, writer
from yizhan.console.registry_files import XLSX_TYPE, credentials_xlsx
from yizhan.console.session import COOKIE, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep, ConsoleDeps, DirectoryDep

router = APIRouter(prefix="/console/manage", include_in_schema=False)


def _devices_path(station_id: str) -> str:
    return f"/console/manage/stations/{station_id}/devices"


async def credentials_page(
    request: Request,
    operator: Operator,
    console: ConsoleDeps,
    issued: Sequence[dict[str, Any]],
    *,
    summary: dict[str, int] | None = None,
) -> Response:
    """The credentials sheet of devices just given a password (never cached: the password
    is shown only now). `issued`: station_id, id, kind, mqtt.username, mqtt.password each.
    With more than one device (an import) the page offers them as a workbook too."""
    lang = request_lang(request)
    host, port = console.settings.broker_for_devices()
    names: dict[str, str] = {}
    for station_id in sorted({d["station_id"] for d in issued}):
        station = await console.directory.get_station(station_id)
        names[station_id] = (
            (station.name_zh if lang == "zh" else station.name_en) if station else station_id
        )
    cards = [
        CredentialsCard(
            station_id=d["station_id"],
            station_name=names[d["station_id"]],
            device_id=d["id"],
            kind=d.get("kind", ""),
            host=host,
            port=port,
            username=d["mqtt"]["username"],
            password=d["mqtt"]["password"],
        )
        for d in issued
    ]
    workbook = None
    if summary is not None and cards:
        rows = [
            {
                "station_id": c.station_id,
                "device_id": c.device_id,
                "username": c.username,
                "password": c.password,
            }
            for c in cards
        ]
        # Inline, so that the passwords never need a second request (nothing keeps them).
        data = base64.b64encode(credentials_xlsx(rows, host, port)).decode()
        workbook = f"data:{XLSX_TYPE};base64,{data}"
    response = templates.TemplateResponse(
        request,
        "device_credentials.html",
        page_context(
            request,
            operator,
            "manage",
            cards=cards,
            workbook=workbook,
            summary=summary,
            # The language switch cannot show the password again: it leads to a page that
            # can be had with GET (the station's devices, or the import form).
            here=_devices_path(issued[0]["station_id"])
            if summary is None and issued
            else "/console/manage/import",
        ),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _devices_page(
    request: Request,
    operator: Operator,
    directory: DirectoryDep,
    station_id: str,
    *,
    error: str = "",
    error_device: str = "",
    status: int = 200,
) -> Response:
    t = translator(request_lang(request))
    try:
        station = await directory.get_station(station_id)
        if station is None or not operator.can_see_district(station.district):
            return HTMLResponse(t("not_allowed"), status_code=404)
        found = await directory.devices_of([station_id])
    except SourceDown:
        return HTMLResponse(t("stations_down"), status_code=503)
    return templates.TemplateResponse(
        request,
        "manage_devices.html",
        page_context(
            request,
            operator,
            "manage",
            here=_devices_path(station_id),
            station=station,
            devices=found,
            revoked=request.query_params.get("revoked", ""),
            error=error,
            error_device=error_device,
        ),
        status_code=status,
    )


@router.get("/stations/{station_id}/devices", response_class=HTMLResponse)
async def station_devices(request: Request, station_id: str, directory: DirectoryDep) -> Response:
    """A station's devices with their state, and what can be done with each."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    return await _devices_page(request, allowed, directory, station_id)


@router.post("/stations/{station_id}/devices/{device_id}/rotate", response_class=HTMLResponse)
async def rotate_device(
    request: Request, station_id: str, device_id: str, console: ConsoleDep
) -> Response:
    """New credentials, shown on a fresh sheet; the old password is refused from now on."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    try:
        reply = await console.directory.rotate_device(
            request.cookies[COOKIE], station_id, device_id
        )
        refusal = refused(request, reply)
        if refusal is not None:
            return refusal
        if reply.code:  # revoked meanwhile: nothing to rotate
            return await _devices_page(
                request,
                allowed,
                console.directory,
                station_id,
                error="device_revoked",
                error_device=device_id,
                status=409,
            )
        return await credentials_page(request, allowed, console, [json.loads(reply.result_json)])
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)


@router.post("/stations/{station_id}/devices/{device_id}/revoke", response_class=HTMLResponse)
async def revoke_device(
    request: Request, station_id: str, device_id: str, directory: DirectoryDep
) -> Response:
    """Revoke for good, once the operator ticked that they mean it."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    form = await request.form()
    if form.get("confirm") != "yes":
        return await _devices_page(
            request,
            allowed,
            directory,
            station_id,
            error="revoke_confirm_missing",
            error_device=device_id,
            status=422,
        )
    try:
        reply = await directory.revoke_device(request.cookies[COOKIE], station_id, device_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)
    refusal = refused(request, reply)
    if refusal is not None:
        return refusal
    return RedirectResponse(f"{_devices_path(station_id)}?revoked={device_id}", status_code=303)
