"""Bulk import of stations and devices in the console (docs/registry-import.md): upload a
stations sheet and/or a devices sheet (CSV or XLSX), see every bad row (row, column, reason)
before anything is written, then import them all at once; the devices' passwords come back
once, as a printable sheet and a workbook to download.

The checked rows travel in the confirmation form itself (nothing is kept between the two
steps), and stations checks them again when writing, in the same transaction."""

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from yizhan.common.auth import Operator
from yizhan.console.i18n import translator
from yizhan.console.manage_base import reason, refused, writer
from yizhan.console.manage_devices import credentials_page
from yizhan.console.registry_files import (
    XLSX_TYPE,
    Sheet,
    UnreadableFile,
    read_sheet,
    template_csv,
    template_xlsx,
)
from yizhan.console.session import COOKIE, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep, DirectoryDep

router = APIRouter(prefix="/console/manage/import", include_in_schema=False)
SHEETS = ("stations", "devices")


def _page(request: Request, operator: Operator, *, status: int = 200, **values: Any) -> Response:
    defaults: dict[str, Any] = {"errors": {}, "issues": [], "checked": None, "rows_json": ""}
    return templates.TemplateResponse(
        request,
        "manage_import.html",
        page_context(request, operator, "manage_import", **{**defaults, **values}),
        status_code=status,
    )


@router.get("", response_class=HTMLResponse)
async def import_form(request: Request) -> Response:
    """The upload form, with the templates to start from."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    return _page(request, allowed)


@router.get("/template.xlsx")
async def template_workbook(request: Request) -> Response:
    """Both sheets with their columns and an example row."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    disposition = 'attachment; filename="yizhan-import-template.xlsx"'
    return Response(
        template_xlsx(), media_type=XLSX_TYPE, headers={"Content-Disposition": disposition}
    )


@router.get("/template-{kind}.csv")
async def template_sheet(request: Request, kind: str) -> Response:
    """One sheet's CSV template."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    if kind not in SHEETS:
        return HTMLResponse(status_code=404)
    disposition = f'attachment; filename="yizhan-import-{kind}.csv"'
    return Response(
        template_csv(kind),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


async def _uploaded(form: Any, name: str) -> tuple[str, bytes] | None:
    upload = form.get(f"{name}_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return upload.filename, await upload.read()


@router.post("", response_class=HTMLResponse)
async def run_import(request: Request, console: ConsoleDep, directory: DirectoryDep) -> Response:
    """`action=check`: report every bad row; `action=apply`: write everything or nothing."""
    allowed = await writer(request)
    if isinstance(allowed, Response):
        return allowed
    t = translator(request_lang(request))
    form = await request.form()
    apply = form.get("action") == "apply"
    body: dict[str, Any] = {"dry_run": not apply}
    errors: dict[str, str] = {}
    uploads = {name: await _uploaded(form, name) for name in SHEETS}
    if any(uploads.values()):
        for name, upload in uploads.items():
            sheet = Sheet()
            if upload is not None:
                try:
                    sheet = read_sheet(upload[0], upload[1], name)
                except UnreadableFile as exc:
                    errors[f"{name}_file"] = t(f"import_{exc.code}")
            body[f"{name[:-1]}_columns"] = sheet.columns
            body[name] = sheet.rows
    elif apply and form.get("rows_json"):
        # The rows of the check just made, as the confirmation form carried them back.
        try:
            carried = json.loads(str(form.get("rows_json")))
        except ValueError:
            carried = None
        if not isinstance(carried, dict):
            return _page(request, allowed, errors={"_form": t("import_no_file")}, status=422)
        body = {**carried, "dry_run": False}
    else:
        errors["stations_file"] = t("import_no_file")
    if errors:
        return _page(request, allowed, errors=errors, status=422)
    try:
        reply = await directory.import_registry(request.cookies[COOKIE], json.dumps(body))
    except SourceDown:
        return _page(request, allowed, errors={"_form": t("stations_down")}, status=503)
    refusal = refused(request, reply)
    if refusal is not None:
        return refusal
    if reply.code == "invalid":
        # Only the batch's shape can be wrong here (too many rows): rows are judged below.
        message = "; ".join(f"{e.field}: {reason(t, e.code, e.message)}" for e in reply.errors)
        return _page(request, allowed, errors={"_form": message}, status=422)
    if reply.code:
        return _page(request, allowed, errors={"_form": t("import_conflict")}, status=409)
    result = json.loads(reply.result_json)
    if result["applied"]:
        issued = [
            {
                "station_id": c["station_id"],
                "id": c["device_id"],
                "mqtt": {"username": c["username"], "password": c["password"]},
            }
            for c in result["credentials"]
        ]
        summary = {"stations": result["stations"], "devices": result["devices"]}
        return await credentials_page(request, allowed, console, issued, summary=summary)
    issues = [
        {**issue, "reason": reason(t, issue["code"], issue["message"])}
        for issue in result["issues"]
    ]
    carried_rows = {k: v for k, v in body.items() if k != "dry_run"}
    return _page(
        request,
        allowed,
        issues=issues,
        checked=result,
        rows_json="" if issues else json.dumps(carried_rows, ensure_ascii=False),
        status=422 if issues else 200,
    )
