"""The district report in the console (issue 14 item 3): a printable page at /console/reports
and the same report as XLSX at /console/reports/report.xlsx, for a district of the operator
(or their whole scope) over a month or any period (`period`, `from`, `to` as the picker sends
them; last month when none is given)."""

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.formatting import local_time
from yizhan.console.i18n import Lang, translator
from yizhan.console.period import PERIODS, Period, PeriodError, parse_period
from yizhan.console.report import Report, build_report
from yizhan.console.scope import OutOfScope, resolve_scope
from yizhan.console.session import cookie_operator, request_lang
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep, ConsoleDeps
from yizhan.console.xlsx import workbook_bytes

router = APIRouter(prefix="/console/reports", include_in_schema=False)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_PERIOD = "last_month"


def report_period(request: Request, tz: str) -> Period:
    """The period a report request asks for (last month by default); PeriodError if bad."""
    params = request.query_params
    return parse_period(
        params.get("period") or DEFAULT_PERIOD,
        None,
        params.get("from") or None,
        params.get("to") or None,
        tz,
    )


def report_query(report: Report) -> dict[str, str]:
    """The URL parameters that make this report again."""
    params: dict[str, str] = {"period": report.period.kind}
    if report.period.kind == "custom":
        params |= {"from": report.period.first.isoformat(), "to": report.period.last.isoformat()}
    if report.district:
        params["district"] = report.district
    return params


async def make_report(
    console: ConsoleDeps,
    operator: Operator,
    district: str | None,
    period: Period,
    lang: Lang,
    now: datetime | None = None,
) -> Report:
    """The report of one of the operator's districts (None: their whole scope)."""
    scope = await resolve_scope(console.directory, operator, district)
    return await build_report(
        console.sources,
        scope,
        period,
        lang,
        translator(lang),
        now or datetime.now(period.zone),
    )


def report_xlsx(report: Report, lang: Lang) -> bytes:
    """The report as an Excel workbook: its facts on a cover sheet, one sheet per table."""
    t = translator(lang)
    facts = [
        (t("report_subject"), report.subject),
        (t("this_period"), f"{report.period.first.isoformat()} – {report.period.last.isoformat()}"),
        (
            t("previous_period"),
            f"{report.previous.first.isoformat()} – {report.previous.last.isoformat()}",
        ),
        (t("timezone"), report.period.tz),
        (t("report_generated"), local_time(report.generated_at, report.period.tz)),
        *((t("unavailable"), problem) for problem in report.problems),
    ]
    return workbook_bytes(t("report_title"), facts, list(report.tables.values()))


def report_filename(report: Report) -> str:
    """`yizhan-report-<district>-<first>-<last>.xlsx`."""
    subject = report.district or "all"
    return f"yizhan-report-{subject}-{report.period.first}-{report.period.last}.xlsx"


async def _operator_report(
    request: Request, console: ConsoleDeps, operator: Operator, period: Period
) -> Report:
    district = request.query_params.get("district") or None
    try:
        return await make_report(console, operator, district, period, request_lang(request))
    except OutOfScope as exc:
        raise HTTPException(404, detail="no such district") from exc


@router.get("", response_class=HTMLResponse)
async def report_page(request: Request, console: ConsoleDep) -> Response:
    """The printable report with its picker (district, period)."""
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    lang = request_lang(request)
    t = translator(lang)
    tz = console.settings.timezone
    error = None
    try:
        period = report_period(request, tz)
    except PeriodError as exc:
        error = f"{t('invalid_period')}: {exc}"
        period = parse_period(DEFAULT_PERIOD, None, None, None, tz)
    try:
        report = await _operator_report(request, console, operator, period)
    except HTTPException:
        return HTMLResponse(t("no_stations"), status_code=404)
    scope = await resolve_scope(console.directory, operator, None)
    params = report_query(report)
    context = page_context(
        request,
        operator,
        "reports",
        report=report,
        districts=scope.districts,
        periods=PERIODS,
        error=error,
        here=request.url.path + "?" + urlencode(params),
        query_string="",
        xlsx_url="/console/reports/report.xlsx?" + urlencode({**params, "lang": lang}),
        local_time=lambda moment: local_time(moment, report.period.tz),
        open_problems=("open_alarms", "open_opinions"),
    )
    return templates.TemplateResponse(request, "report.html", context)


async def report_xlsx_response(
    request: Request, console: ConsoleDeps, operator: Operator
) -> Response:
    """The report a request asks for as an XLSX download (422 for a bad period, 404 for a
    district not the operator's): the console's link and the API share it."""
    report = await _checked_report(request, console, operator)
    filename = report_filename(report)
    return Response(
        report_xlsx(report, request_lang(request)),
        media_type=XLSX_TYPE,
        headers={
            # RFC 6266: an ASCII fallback and the UTF-8 name (district names are Chinese).
            "Content-Disposition": (
                f"attachment; filename=\"yizhan-report.xlsx\"; filename*=UTF-8''{quote(filename)}"
            )
        },
    )


async def report_json(request: Request, console: ConsoleDeps, operator: Operator) -> dict[str, Any]:
    """The report a request asks for as JSON: its facts and every table."""
    report = await _checked_report(request, console, operator)
    return {
        "subject": report.subject,
        "district": report.district,
        "period": {
            "from": report.period.first.isoformat(),
            "to": report.period.last.isoformat(),
            "tz": report.period.tz,
        },
        "previous_period": {
            "from": report.previous.first.isoformat(),
            "to": report.previous.last.isoformat(),
        },
        "generated_at": report.generated_at.isoformat(),
        "problems": report.problems,
        "tables": {name: table.as_json() for name, table in report.tables.items()},
    }


async def _checked_report(request: Request, console: ConsoleDeps, operator: Operator) -> Report:
    try:
        period = report_period(request, console.settings.timezone)
    except PeriodError as exc:
        raise HTTPException(422, detail=[{"field": exc.field, "message": str(exc)}]) from exc
    return await _operator_report(request, console, operator, period)


@router.get("/report.xlsx")
async def report_download(request: Request, console: ConsoleDep) -> Response:
    """The report as XLSX, for the signed-in operator."""
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    return await report_xlsx_response(request, console, operator)
