"""Exports: any table of a page as CSV (UTF-8 with BOM, for Excel), and whole pages as JSON,
built by the same code as the page itself (pages.py)."""

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.i18n import translator
from yizhan.console.pages import Page, PageKind, PageQuery, build_page
from yizhan.console.peers.stations import StationsDirectory
from yizhan.console.period import PeriodError
from yizhan.console.scope import OutOfScope
from yizhan.console.session import request_lang
from yizhan.console.wiring import ConsoleDeps


def query_from(request: Request) -> PageQuery:
    """The picker's parameters of a request (`from`/`to` are local dates)."""
    params = request.query_params
    return PageQuery(
        district=params.get("district") or None,
        period=params.get("period") or None,
        bucket=params.get("bucket") or None,
        first=params.get("from") or None,
        last=params.get("to") or None,
    )


async def page_for(
    request: Request,
    kind: PageKind,
    directory: StationsDirectory,
    console: ConsoleDeps,
    operator: Operator,
    station_id: str | None,
) -> Page:
    """The page a request asks for; 404 outside the operator's scope, 422 for a bad period."""
    lang = request_lang(request)
    try:
        return await build_page(
            kind,
            directory,
            console,
            operator,
            query_from(request),
            lang,
            translator(lang),
            station_id,
        )
    except OutOfScope as exc:
        raise HTTPException(404, detail="no such station or district") from exc
    except PeriodError as exc:
        raise HTTPException(422, detail=[{"field": exc.field, "message": str(exc)}]) from exc


async def export_table(
    request: Request,
    kind: PageKind,
    table: str,
    directory: StationsDirectory,
    console: ConsoleDeps,
    operator: Operator,
    station_id: str | None = None,
) -> Response:
    """One table of a page as a CSV download."""
    page = await page_for(request, kind, directory, console, operator, station_id)
    found = page.view.tables.get(table)
    if found is None:
        raise HTTPException(404, detail=f"no table {table} on this page")
    day = datetime.now(page.view.period.zone).date().isoformat()
    subject = station_id or (page.scope.district if page.scope and page.scope.district else kind)
    filename = f"yizhan-{subject}-{table}-{day}.csv"
    return Response(
        found.csv_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={
            # RFC 6266: an ASCII fallback and the UTF-8 name (district names are Chinese).
            "Content-Disposition": (
                f"attachment; filename=\"yizhan-{table}.csv\"; filename*=UTF-8''{quote(filename)}"
            )
        },
    )


async def export_json(
    request: Request,
    kind: PageKind,
    directory: StationsDirectory,
    console: ConsoleDeps,
    operator: Operator,
    station_id: str | None = None,
) -> Response:
    """A whole page's figures as JSON."""
    page = await page_for(request, kind, directory, console, operator, station_id)
    body: dict[str, Any] = page.view.as_json()
    if page.scope is not None:
        body["scope"] = {
            "district": page.scope.district,
            "whole_network": page.scope.whole_network,
            "stations": page.scope.station_ids,
        }
    if page.station is not None:
        body["station"] = {"id": page.station.id, "district": page.station.district}
    return JSONResponse(body)
