"""Alarm notification pages of the console: the channels of the operator's scope (who is
told of which alarms, how: webhook, SMS, WeCom or DingTalk robot, e-mail; repeats,
escalation, quiet hours), a form to add one, and every delivery with its outcome (sent, or
failed with the reason and the attempts so far). Telemetry does the work over gRPC
NotificationAdmin on the operator's behalf (scope, checks); the console renders forms and
field errors. Cross-site posts are refused by yizhan.common.csrf, as for every form."""

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from yizhan.api.telemetry.v1.notifications_pb2 import NotificationFieldError as FieldError
from yizhan.api.telemetry.v1.notifications_pb2 import NotificationReply as Reply
from yizhan.common.auth import Operator
from yizhan.console.formatting import local_time
from yizhan.console.i18n import translator
from yizhan.console.session import COOKIE, cookie_operator, request_lang
from yizhan.console.templating import page_context, templates
from yizhan.console.wiring import ConsoleDep, ConsoleDeps

router = APIRouter(prefix="/console", include_in_schema=False)

KINDS = ("webhook", "wecom", "dingtalk", "email", "sms")
SEVERITIES = ("warning", "critical")
ALARM_EVENTS = ("alarm.opened", "alarm.cleared")
# The district report on the 1st of each month (webhook channels only, telemetry checks).
EVENTS = (*ALARM_EVENTS, "report.monthly")
PAGE_DELIVERIES = 200
TEXT_FIELDS = (
    "name",
    "kind",
    "url",
    "secret",
    "recipients",
    "min_severity",
    "repeat_minutes",
    "escalate_after_minutes",
    "escalate_to",
    "quiet_from",
    "quiet_until",
)
NUMBER_FIELDS = ("repeat_minutes", "escalate_after_minutes", "escalate_to")
_REFUSED = {"unauthorized": 401, "read_only": 403, "out_of_scope": 403}


def _context(
    request: Request, operator: Operator, console: ConsoleDeps, kind: str, **values: Any
) -> dict[str, Any]:
    tz = console.settings.timezone
    return page_context(
        request,
        operator,
        kind,
        local_time=lambda stamp: local_time(datetime.fromisoformat(stamp), tz) if stamp else "–",
        **values,
    )


async def _signed_in(request: Request) -> Operator | Response:
    operator = await cookie_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    return operator


def _refusal(request: Request, code: str) -> Response | None:
    status = _REFUSED.get(code)
    if status is None:
        return None
    return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=status)


async def _districts(console: ConsoleDeps, operator: Operator) -> list[str]:
    if operator.sees_everything:
        return await console.directory.districts()
    return sorted(operator.districts)


def _default_values() -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
    values.update(kind="webhook", min_severity="warning", districts=[], events=list(ALARM_EVENTS))
    return values


async def _channels_page(
    request: Request,
    operator: Operator,
    console: ConsoleDeps,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    reply = await console.notifications.channels(request.cookies[COOKIE])
    refused = _refusal(request, reply.code)
    if refused is not None:
        return refused
    channels = json.loads(reply.result_json)["items"]
    context = _context(
        request,
        operator,
        console,
        "channels",
        channels=channels,
        names={c["id"]: c["name"] for c in channels},
        values=values,
        errors=errors,
        kinds=KINDS,
        severities=SEVERITIES,
        events=EVENTS,
        districts=await _districts(console, operator),
        created=request.query_params.get("created"),
    )
    return templates.TemplateResponse(request, "channels.html", context, status_code=status)


@router.get("/channels", response_class=HTMLResponse)
async def channels_page(request: Request, console: ConsoleDep) -> Response:
    """The channels of the operator's scope, and (for those who may) the form for a new one."""
    operator = await _signed_in(request)
    if isinstance(operator, Response):
        return operator
    return await _channels_page(request, operator, console, _default_values(), {})


def _body(form: FormData, t: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """What the form says: its values (to show again), the API body, and field errors."""
    values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    values["districts"] = [str(d) for d in form.getlist("districts")]
    values["events"] = [str(e) for e in form.getlist("events")]
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "name": values["name"],
        "kind": values["kind"],
        "url": values["url"],
        "secret": values["secret"],
        "recipients": [
            r.strip() for r in values["recipients"].replace("\n", ",").split(",") if r.strip()
        ],
        "districts": values["districts"],
        "min_severity": values["min_severity"],
        "events": values["events"],
    }
    for name in NUMBER_FIELDS:
        if values[name]:
            try:
                body[name] = int(values[name])
            except ValueError:
                errors[name] = t("not_a_number")
    for name in ("quiet_from", "quiet_until"):
        if values[name]:
            body[name] = values[name][:5]
    return values, body, errors


@router.post("/channels", response_class=HTMLResponse)
async def create_channel(request: Request, console: ConsoleDep) -> Response:
    """Add the channel, or show the form again with each field's error."""
    operator = await _signed_in(request)
    if isinstance(operator, Response):
        return operator
    t = translator(request_lang(request))
    if not operator.can_write:
        return HTMLResponse(t("not_allowed"), status_code=403)
    values, body, errors = _body(await request.form(), t)
    if not errors:
        reply = await console.notifications.create(request.cookies[COOKIE], json.dumps(body))
        if reply.code == "out_of_scope":
            # A district outside one's own: an error of that field, not a dead end.
            reply = Reply(
                code="invalid", errors=[FieldError(field="districts", message=t("not_allowed"))]
            )
        refused = _refusal(request, reply.code)
        if refused is not None:
            return refused
        if not reply.code:
            created = json.loads(reply.result_json)["id"]
            return RedirectResponse(f"/console/channels?created={created}", status_code=303)
        for error in reply.errors:
            errors.setdefault(error.field.split(".")[0] or "_form", error.message)
    return await _channels_page(request, operator, console, values, errors, status=422)


@router.post("/channels/{channel_id}/delete", response_class=HTMLResponse)
async def delete_channel(request: Request, channel_id: int, console: ConsoleDep) -> Response:
    """Remove a channel of the operator's scope."""
    operator = await _signed_in(request)
    if isinstance(operator, Response):
        return operator
    reply = await console.notifications.delete(request.cookies[COOKIE], channel_id)
    refused = _refusal(request, reply.code)
    if refused is not None:
        return refused
    if reply.code:
        return HTMLResponse(translator(request_lang(request))("not_allowed"), status_code=404)
    return RedirectResponse("/console/channels", status_code=303)


@router.get("/deliveries", response_class=HTMLResponse)
async def deliveries_page(request: Request, console: ConsoleDep) -> Response:
    """Every delivery of the scope's channels, newest first: sent, waiting, or failed (why,
    how many attempts, when the next)."""
    operator = await _signed_in(request)
    if isinstance(operator, Response):
        return operator
    reply = await console.notifications.deliveries(request.cookies[COOKIE], PAGE_DELIVERIES)
    refused = _refusal(request, reply.code)
    if refused is not None:
        return refused
    context = _context(
        request,
        operator,
        console,
        "deliveries",
        deliveries=json.loads(reply.result_json)["items"],
    )
    return templates.TemplateResponse(request, "deliveries.html", context)
