"""The console's figures through the API (bearer token, like the rest of /api/v1): each page
as JSON and each of its tables as CSV, exactly as the console shows them."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from yizhan.common.auth import CurrentOperator, WritingOperator
from yizhan.console.alarm_messages import AlarmId, alarm_json
from yizhan.console.exports import export_json, export_table
from yizhan.console.report_routes import report_json, report_xlsx_response
from yizhan.console.scope import resolve_scope
from yizhan.console.sources import SourceDown
from yizhan.console.wiring import ConsoleDep, DirectoryDep

router = APIRouter(prefix="/api/v1/console", tags=["console"])

PICKER = (
    "Query: `district` (narrow the scope), `period` (today, 7d, 30d, month, custom), "
    "`from`/`to` (local dates of a custom period), `bucket` (hour, day, week, month), "
    "`lang` (zh, en: the labels)."
)


REPORT_QUERY = (
    "Query: `district` (one of yours; none: your whole scope), `period` (last_month by "
    "default, month, 7d, 30d, custom), `from`/`to` (local dates of a custom period), "
    "`lang` (zh, en: the labels)."
)


class Acknowledgement(BaseModel):
    """An operator has seen the alarm."""

    note: str = Field(default="", max_length=500)


@router.get("/overview", description=PICKER)
async def overview(
    request: Request, operator: CurrentOperator, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """The overview's figures and tables."""
    return await export_json(request, "overview", directory, console, operator)


@router.get("/overview/{table}.csv", description=PICKER)
async def overview_csv(
    request: Request,
    table: str,
    operator: CurrentOperator,
    directory: DirectoryDep,
    console: ConsoleDep,
) -> Response:
    """One table of the overview as CSV (series, stations, peak_hours, availability, alarms)."""
    return await export_table(request, "overview", table, directory, console, operator)


@router.get("/stations/{station_id}", description=PICKER)
async def station(
    request: Request,
    station_id: str,
    operator: CurrentOperator,
    directory: DirectoryDep,
    console: ConsoleDep,
) -> Response:
    """A station page's figures and tables (in the station's time zone)."""
    return await export_json(request, "station", directory, console, operator, station_id)


@router.get("/stations/{station_id}/{table}.csv", description=PICKER)
async def station_csv(
    request: Request,
    station_id: str,
    table: str,
    operator: CurrentOperator,
    directory: DirectoryDep,
    console: ConsoleDep,
) -> Response:
    """One table of a station page as CSV (series, devices, peak_hours, alarms, ...)."""
    return await export_table(request, "station", table, directory, console, operator, station_id)


@router.get("/alarms")
async def alarms(
    request: Request, operator: CurrentOperator, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """Open alarms and recent dead letters of the scope."""
    return await export_json(request, "alarms", directory, console, operator)


@router.get("/alarms/{table}.csv")
async def alarms_csv(
    request: Request,
    table: str,
    operator: CurrentOperator,
    directory: DirectoryDep,
    console: ConsoleDep,
) -> Response:
    """Open alarms (`alarms`) or dead letters (`dead_letters`) as CSV."""
    return await export_table(request, "alarms", table, directory, console, operator)


@router.post("/alarms/{alarm_id}/acknowledge")
async def acknowledge(
    alarm_id: AlarmId,
    body: Acknowledgement,
    operator: WritingOperator,
    directory: DirectoryDep,
    console: ConsoleDep,
) -> dict[str, object]:
    """Acknowledge an open alarm of one's scope (it stays open until the device clears it)."""
    scope = await resolve_scope(directory, operator, None)
    try:
        alarm = await console.sources.acknowledge(
            alarm_id, scope.station_set(), operator.username, body.note
        )
    except SourceDown as exc:
        raise HTTPException(503, detail="telemetry does not answer") from exc
    if alarm is None:
        raise HTTPException(404, detail="no such open alarm in your scope")
    return alarm_json(alarm)


@router.get("/report", description=REPORT_QUERY)
async def district_report(
    request: Request, operator: CurrentOperator, console: ConsoleDep
) -> Response:
    """The district report (issue 14): its facts and every table, as the page shows them."""
    return JSONResponse(await report_json(request, console, operator))


@router.get("/report.xlsx", description=REPORT_QUERY)
async def district_report_xlsx(
    request: Request, operator: CurrentOperator, console: ConsoleDep
) -> Response:
    """The district report as the XLSX the page's link downloads."""
    return await report_xlsx_response(request, console, operator)
