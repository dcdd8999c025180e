"""The operator console at /console/: login, the overview, station pages, alarms and dead
letters, CSV exports of every table on screen. Figures come from telemetry (and bookings)
over gRPC; the console owns none of them (see sources.py)."""

import json
import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.common.clients import client_address
from yizhan.console import assets
from yizhan.console.alarm_messages import AlarmId
from yizhan.console.exports import export_table, query_from
from yizhan.console.formatting import local_time, opening_hours_text
from yizhan.console.i18n import LANG_COOKIE, translator
from yizhan.console.pages import Page, PageKind, PageQuery, build_page
from yizhan.console.period import BUCKETS, PERIODS, PeriodError
from yizhan.console.scope import OutOfScope, resolve_scope
from yizhan.console.session import (
    COOKIE,
    COOKIE_PATH,
    cookie_operator,
    request_lang,
    safe_next,
    set_session_cookie,
)
from yizhan.console.sources import SourceDown
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep, DirectoryDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
LANG_COOKIE_DAYS = 365


def _to_login() -> Response:
    return RedirectResponse("/console/login", status_code=303)


def _page_context(
    request: Request, operator: Operator, page: Page, kind: PageKind, error: str | None
) -> dict[str, Any]:
    lang = request_lang(request)
    t = translator(lang)
    view = page.view
    params = view.period.query()
    if page.scope is not None and page.scope.district:
        params["district"] = page.scope.district
    export_base = {
        "overview": "/console/export/overview",
        "alarms": "/console/export/alarms",
        "station": f"/console/export/stations/{page.station.id if page.station else ''}",
    }[kind]
    tz = view.period.tz
    return page_context(
        request,
        operator,
        kind,
        page=page,
        view=view,
        scope=page.scope,
        station=page.station,
        periods=PERIODS,
        buckets=BUCKETS,
        params=params,
        query_string=urlencode(params),
        here=request.url.path + "?" + urlencode(params),
        error=error,
        export=lambda table: f"{export_base}/{table}.csv?{urlencode({**params, 'lang': lang})}",
        local_time=lambda moment: local_time(moment, tz),
        # The chart library's content-named URL, or "" when it is not installed.
        echarts=_echarts_url(request.app.state.console.settings.assets_dir),
        week_hours=lambda hours_json: opening_hours_text(json.loads(hours_json), lang, t),
    )


def _echarts_url(assets_dir: Path) -> str:
    if not assets.echarts_path(assets_dir).is_file():
        return ""
    return assets.asset_url(assets.ECHARTS_NAME, assets_dir)


def _login_context(request: Request, username: str, error: str | None) -> dict[str, Any]:
    # Nobody is signed in yet; the language switch leads on to the overview (then here).
    return page_context(request, None, "login", here="/console/", username=username, error=error)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    """The login page."""
    return templates.TemplateResponse(request, "login.html", _login_context(request, "", None))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    directory: DirectoryDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    """Ask stations to check the password, set the session cookie, go to the overview."""
    lang = request_lang(request)
    t = translator(lang)
    try:
        verdict = await directory.login(username, password, client_address(request))
    except SourceDown:
        log.warning("console login: stations unavailable", extra={"username": username})
        context = _login_context(request, username, t("stations_unavailable"))
        return templates.TemplateResponse(request, "login.html", context, status_code=503)
    if verdict.verdict != verdict.OK:
        if verdict.verdict == verdict.TOO_MANY_ATTEMPTS:
            error, status = t("too_many_attempts", seconds=verdict.retry_after_seconds), 429
        else:
            error, status = t("wrong_password"), 401
        context = _login_context(request, username, error)
        return templates.TemplateResponse(request, "login.html", context, status_code=status)
    response = RedirectResponse("/console/", status_code=303)
    set_session_cookie(response, verdict.token, verdict.expires_in_seconds)
    return response


@router.post("/logout")
async def logout() -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.get("/lang")
async def switch_lang(to: str, next: str | None = None) -> Response:
    """Remember the language and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        "en" if to == "en" else "zh",
        path=COOKIE_PATH,
        samesite="lax",
        max_age=LANG_COOKIE_DAYS * 86400,
    )
    return response


async def _render(
    request: Request,
    kind: PageKind,
    directory: DirectoryDep,
    console: ConsoleDep,
    station_id: str | None = None,
) -> Response:
    operator = await cookie_operator(request)
    if operator is None:
        return _to_login()
    lang = request_lang(request)
    t = translator(lang)
    query = query_from(request)
    error = None
    try:
        try:
            page = await build_page(kind, directory, console, operator, query, lang, t, station_id)
        except PeriodError as exc:
            # Show the default period with the reason, rather than an error page.
            error = f"{t('invalid_period')}: {exc}"
            fallback = PageQuery(district=query.district)
            page = await build_page(
                kind, directory, console, operator, fallback, lang, t, station_id
            )
    except OutOfScope:
        return HTMLResponse(t("no_stations"), status_code=404)
    template = {"overview": "overview.html", "station": "station.html", "alarms": "alarms.html"}
    context = _page_context(request, operator, page, kind, error)
    return templates.TemplateResponse(request, template[kind], context)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, directory: DirectoryDep, console: ConsoleDep) -> Response:
    """The operator's scope over today and the chosen period (`district`, `period`,
    `bucket`, `from`, `to` as the picker sends them)."""
    return await _render(request, "overview", directory, console)


@router.get("/stations/{station_id}", response_class=HTMLResponse)
async def station_page(
    request: Request, station_id: str, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """One station: details, devices live, charts, alarms, bookables."""
    return await _render(request, "station", directory, console, station_id)


@router.get("/alarms", response_class=HTMLResponse)
async def alarms_page(request: Request, directory: DirectoryDep, console: ConsoleDep) -> Response:
    """Open alarms and recent dead letters of the scope."""
    return await _render(request, "alarms", directory, console)


@router.post("/alarms/{alarm_id}/ack")
async def acknowledge(
    request: Request,
    alarm_id: AlarmId,
    directory: DirectoryDep,
    console: ConsoleDep,
    note: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form()] = "/console/alarms",
) -> Response:
    """Acknowledge an open alarm of one's scope, then go back."""
    operator = await cookie_operator(request)
    if operator is None:
        return _to_login()
    t = translator(request_lang(request))
    if not operator.can_write:
        return HTMLResponse(t("read_only"), status_code=403)
    scope = await resolve_scope(directory, operator, None)
    try:
        done = await console.sources.acknowledge(
            alarm_id, scope.station_set(), operator.username, note
        )
    except SourceDown:
        return HTMLResponse(t("telemetry_unavailable"), status_code=503)
    if done is None:
        return HTMLResponse(t("no_alarms"), status_code=404)
    return RedirectResponse(safe_next(next), status_code=303)


async def _export(
    request: Request,
    kind: PageKind,
    table: str,
    directory: DirectoryDep,
    console: ConsoleDep,
    station_id: str | None = None,
) -> Response:
    operator = await cookie_operator(request)
    if operator is None:
        return _to_login()
    return await export_table(request, kind, table, directory, console, operator, station_id)


@router.get("/export/overview/{table}.csv")
async def export_overview(
    request: Request, table: str, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """A table of the overview as CSV."""
    return await _export(request, "overview", table, directory, console)


@router.get("/export/alarms/{table}.csv")
async def export_alarms(
    request: Request, table: str, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """A table of the alarms page as CSV."""
    return await _export(request, "alarms", table, directory, console)


@router.get("/export/stations/{station_id}/{table}.csv")
async def export_station(
    request: Request, station_id: str, table: str, directory: DirectoryDep, console: ConsoleDep
) -> Response:
    """A table of a station page as CSV."""
    return await _export(request, "station", table, directory, console, station_id)
