"""The operator console at /console/: login, then the stations in scope with today's figures
(fetched from telemetry over gRPC; the console owns no figures)."""

import logging
from datetime import datetime, time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import grpc
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from yizhan.api.telemetry.v1 import telemetry_pb2
from yizhan.common.auth import InvalidToken, Operator, decode_token, issue_token
from yizhan.common.pbtime import to_pb
from yizhan.stations import repository
from yizhan.stations.api.deps import DepsDep, SessionDep
from yizhan.stations.operators import authenticate

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

COOKIE = "yz_console"
# The network's calendar: "today" on the console is a Shanghai day.
CONSOLE_TZ = ZoneInfo("Asia/Shanghai")
TELEMETRY_DEADLINE_SECONDS = 3.0


def _operator(request: Request) -> Operator | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return decode_token(request.app.state.jwt_secret, token)
    except InvalidToken:
        return None


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    """The login page."""
    return templates.TemplateResponse(request, "login.html", {"error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    deps: DepsDep,
    session: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    """Check the password, set the session cookie, go to the overview."""
    error = None
    operator = None
    if not deps.login_limiter.allow(username):
        error = "登录尝试过多，请一分钟后再试 · Too many attempts, wait a minute"
    else:
        operator = await authenticate(session, username, password)
        if operator is None:
            error = "用户名或密码错误 · Wrong username or password"
    if operator is None:
        context = {"error": error, "username": username}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    token = issue_token(
        deps.settings.common.jwt_secret.get_secret_value(), operator, deps.token_ttl
    )
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/console",
        max_age=int(deps.token_ttl.total_seconds()),
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, deps: DepsDep, session: SessionDep) -> Response:
    """Stations in the operator's scope with today's person-visits and devices online."""
    operator = _operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    districts = None if operator.sees_everything else list(operator.districts)
    stations = await repository.list_stations(session, districts=districts)
    now = datetime.now(CONSOLE_TZ)
    midnight = datetime.combine(now.date(), time(0), CONSOLE_TZ)
    summaries: dict[str, telemetry_pb2.StationSummary] = {}
    telemetry_error = None
    if stations:
        request_pb = telemetry_pb2.SummarizeStationsRequest(
            station_ids=[s.id for s in stations], to=to_pb(now)
        )
        getattr(request_pb, "from").CopyFrom(to_pb(midnight))
        try:
            reply = await deps.telemetry.SummarizeStations(
                request_pb, timeout=TELEMETRY_DEADLINE_SECONDS
            )
            summaries = {s.station_id: s for s in reply.stations}
        except grpc.aio.AioRpcError as exc:
            log.warning("telemetry unavailable for console", extra={"code": str(exc.code())})
            telemetry_error = "遥测服务暂不可用 · Telemetry is unavailable right now"
    counts = await repository.device_counts(session, [s.id for s in stations])
    rows = [
        {
            "station": s,
            "visits": summaries[s.id].figures.visits if s.id in summaries else None,
            "online": summaries[s.id].devices_online if s.id in summaries else None,
            "alarms": summaries[s.id].open_alarms if s.id in summaries else None,
            "devices": counts.get(s.id, 0),
        }
        for s in stations
    ]
    totals = {
        "visits": sum(r["visits"] or 0 for r in rows),  # type: ignore[misc]
        "online": sum(r["online"] or 0 for r in rows),  # type: ignore[misc]
        "devices": sum(counts.values()),
    }
    context = {
        "operator": operator,
        "rows": rows,
        "totals": totals,
        "today": now.date().isoformat(),
        "telemetry_error": telemetry_error,
    }
    return templates.TemplateResponse(request, "overview.html", context)
