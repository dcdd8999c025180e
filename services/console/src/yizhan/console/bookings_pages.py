"""What the console's bookings pages share (bookings_manage.py, opinions_manage.py): who may
use them (a writing operator, a station of their districts: 403 otherwise), asking bookings
over gRPC BookingAdmin on the operator's behalf, and turning its refusals into field errors."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yizhan.common.auth import Operator
from yizhan.console.i18n import translator
from yizhan.console.peers.bookings import Action, BookingsAdmin, Reply
from yizhan.console.peers.stations import Station
from yizhan.console.session import COOKIE, cookie_operator, request_lang
from yizhan.console.sources import SourceDown
from yizhan.console.templating import page_context
from yizhan.console.wiring import DirectoryDep

# Bookings refusals that are not a field's fault, and what the page answers.
REFUSED = {"read_only": 403, "station_not_found": 403, "unauthorized": 401}


def station_context(
    request: Request, operator: Operator, station: Station, **values: Any
) -> dict[str, Any]:
    """What every bookings page's template gets: words, language, operator, station."""
    tz = ZoneInfo(station.timezone or "Asia/Shanghai")
    return page_context(
        request,
        operator,
        "manage",
        station=station,
        station_name=station.name_zh if request_lang(request) == "zh" else station.name_en,
        when=lambda iso: local_minute(iso, tz, " "),
        **values,
    )


def local_minute(iso: str | None, tz: ZoneInfo, sep: str) -> str:
    """An ISO instant from bookings as the station's local `YYYY-MM-DD HH:MM`."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(tz).strftime(f"%Y-%m-%d{sep}%H:%M")


def refusal(request: Request, status: int) -> Response:
    """The page's answer to a refused request (403, 404, 401)."""
    return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=status)


async def allowed_station(
    request: Request, directory: DirectoryDep, station_id: str
) -> tuple[Operator, Station] | Response:
    """The signed-in operator who may change this station's bookings, and the station; or
    the answer instead: sign in, 403 for a viewer or a station outside their districts."""
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    if not operator.can_write:
        return refusal(request, 403)
    try:
        station = await directory.get_station(station_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)
    if station is None:
        return refusal(request, 404)
    if not operator.can_see_district(station.district):
        return refusal(request, 403)
    return operator, station


def field_errors(reply: Reply, t: Any, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Bookings' field errors by form field; a refusal without a field is the form's."""
    errors: dict[str, str] = {}
    for error in reply.errors:
        name = error.field.split(".")[-1] if error.field else ""
        name = (aliases or {}).get(name, name) or "_form"
        # Bookings' own refusals have a key the console words; a malformed field gets the
        # validator's (English) detail beside the console's words.
        if reply.code == "invalid":
            message = t("check_field", detail=error.message)
        else:
            message = t(f"bk_code_{reply.code}")
        errors.setdefault(name, message)
    if not errors:
        errors["_form"] = t(f"bk_code_{reply.code}") if reply.code else t("form_invalid")
    return errors


async def ask(
    request: Request,
    admin: BookingsAdmin,
    action: Action,
    *,
    station_id: str,
    target: str = "",
    body: dict[str, Any] | None = None,
) -> Reply | Response:
    """Ask bookings; a refusal that is nobody's field becomes the page's answer."""
    try:
        reply = await admin.call(
            action, request.cookies[COOKIE], station_id=station_id, target=target, body=body
        )
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    if reply.code == "stations_unavailable":
        # Bookings could not ask stations whose station it is: nobody's field.
        return HTMLResponse(translator(request_lang(request))("stations_down"), status_code=503)
    status = REFUSED.get(reply.code)
    if status is not None:
        return refusal(request, status)
    return reply


async def submit(
    request: Request,
    admin: BookingsAdmin,
    action: Action,
    done: str,
    *,
    station_id: str,
    target: str = "",
    body: dict[str, Any] | None = None,
) -> Reply | Response:
    """Ask bookings for a change from a form: the redirect to `done` when it was made, the
    page's answer when bookings is away or refuses the operator (`ask`), else bookings'
    refusal, for the form to show."""
    reply = await ask(request, admin, action, station_id=station_id, target=target, body=body)
    if isinstance(reply, Response):
        return reply
    if not reply.code:
        return RedirectResponse(done, status_code=303)
    return reply


async def one_item(
    request: Request, admin: BookingsAdmin, action: Action, station_id: str, item_id: int
) -> dict[str, Any] | Response:
    """The station's item of that id from a listing (a point, a session); 404 when there is
    none, 503 when bookings does not answer."""
    try:
        items = await admin.items(action, request.cookies[COOKIE], station_id)
    except SourceDown:
        return HTMLResponse(translator(request_lang(request))("bookings_down"), status_code=503)
    found = next((item for item in items if item["id"] == item_id), None)
    return refusal(request, 404) if found is None else found


def whole_numbers(
    values: dict[str, str], names: frozenset[str], t: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """Whole numbers of a form (empty: left out), and the fields that are not one."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        if not values.get(name):
            continue
        try:
            parsed[name] = int(values[name])
        except ValueError:
            errors[name] = t("not_a_whole_number")
    return parsed, errors


def instant(value: str, tz: ZoneInfo) -> str:
    """A `datetime-local` value in the station's zone as an ISO instant; ValueError if bad."""
    return datetime.fromisoformat(value).replace(tzinfo=tz).isoformat()
