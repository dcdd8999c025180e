"""Live pages: device state and alarms pushed to the browser as server-sent events.

The server asks telemetry every `live_poll_seconds` and sends a `state` event only when
something changed (a comment otherwise, which also tells us when the browser has gone). A
stream ends after `live_stream_seconds`; EventSource reconnects by itself, and the session
cookie is checked again then.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common.pbtime import from_pb
from yizhan.console.alarm_messages import alarm_json
from yizhan.console.formatting import age, local_time
from yizhan.console.i18n import Lang, codes_text, translator, value_label
from yizhan.console.period import parse_period
from yizhan.console.scope import OutOfScope, resolve_scope, station_in_scope
from yizhan.console.session import cookie_operator, request_lang
from yizhan.console.sources import SourceDown, Sources
from yizhan.console.wiring import ConsoleDep

router = APIRouter(prefix="/console", include_in_schema=False)

# Alarms a live page lists (the alarms page has them all).
LIVE_ALARMS = 50
RECONNECT_MS = 3000

Snapshot = Callable[[], Awaitable[dict[str, Any]]]


def _alarms(alarms: list[insights_pb2.OpenAlarm], tz: str, lang: Lang) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    t = translator(lang)
    listed = []
    for alarm in alarms:
        since = from_pb(alarm.since)
        acked = alarm.HasField("acknowledged_at")
        listed.append(
            {
                **alarm_json(alarm),
                "since_local": local_time(since, tz),
                "age": age(since, now, lang),
                # As the page shows them (issue 14 item 4: no raw codes on screen).
                "code_label": value_label(t, "alarm_code", alarm.code),
                "severity_label": value_label(t, "severity", alarm.severity),
                "acknowledged_local": local_time(from_pb(alarm.acknowledged_at), tz)
                if acked
                else None,
            }
        )
    return listed


def station_snapshot(sources: Sources, station_id: str, tz: str, lang: Lang) -> Snapshot:
    """A station's devices and open alarms now."""
    only = insights_pb2.StationSet(station_ids=[station_id])

    async def take() -> dict[str, Any]:
        states, (alarms, total) = await asyncio.gather(
            sources.device_states(station_id), sources.open_alarms(only, LIVE_ALARMS)
        )
        return {
            "devices": [
                {
                    "id": s.device_id,
                    "online": s.online,
                    "last_seen": local_time(s.last_seen, tz),
                    "alarms": codes_text(translator(lang), "alarm_code", (a[0] for a in s.alarms)),
                }
                for s in states
            ],
            "open_alarms": total,
            "devices_online": sum(1 for s in states if s.online),
            "alarms": _alarms(alarms, tz, lang),
        }

    return take


def scope_snapshot(
    sources: Sources,
    station_ids: list[str],
    station_set: insights_pb2.StationSet,
    tz: str,
    lang: Lang,
) -> Snapshot:
    """Per station: today's visits, devices online, open alarms; the oldest open alarms."""

    async def take() -> dict[str, Any]:
        today = parse_period("today", "hour", None, None, tz)
        summaries, (alarms, total) = await asyncio.gather(
            sources.summarize(station_ids, today.start, today.end),
            sources.open_alarms(station_set, LIVE_ALARMS),
        )
        return {
            "stations": [
                {
                    "id": station_id,
                    "visits_today": s.figures["visits"],
                    "devices_online": s.devices_online,
                    "open_alarms": s.open_alarms,
                }
                for station_id, s in summaries.items()
            ],
            "visits_today": sum(s.figures["visits"] for s in summaries.values()),
            "devices_online": sum(s.devices_online for s in summaries.values()),
            "open_alarms": total,
            "alarms": _alarms(alarms, tz, lang),
        }

    return take


async def _events(
    request: Request, take: Snapshot, poll: float, lifetime: float
) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MS}\n\n"
    deadline = time.monotonic() + lifetime
    last = None
    while time.monotonic() < deadline and not await request.is_disconnected():
        try:
            data = json.dumps(await take(), ensure_ascii=False)
        except SourceDown:
            data = json.dumps({"down": True})
        if data != last:
            yield f"event: state\ndata: {data}\n\n"
            last = data
        else:
            yield ": unchanged\n\n"
        await asyncio.sleep(poll)


@router.get("/live")
async def live(
    request: Request,
    console: ConsoleDep,
    station: str | None = None,
    district: str | None = None,
) -> Response:
    """Server-sent events for a station page (`station=`) or the overview of the scope."""
    operator = await cookie_operator(request)
    if operator is None:
        return Response(status_code=401)
    lang = request_lang(request)
    tz = console.settings.timezone
    try:
        if station:
            found = await station_in_scope(console.directory, operator, station)
            take = station_snapshot(console.sources, found.id, found.timezone or tz, lang)
        else:
            scope = await resolve_scope(console.directory, operator, district)
            take = scope_snapshot(console.sources, scope.station_ids, scope.station_set(), tz, lang)
    except OutOfScope:
        return Response(status_code=404)
    except SourceDown:
        return Response(status_code=503)
    settings = console.settings
    return StreamingResponse(
        _events(request, take, settings.live_poll_seconds, settings.live_stream_seconds),
        media_type="text/event-stream",
        # No caching, and no buffering by a reverse proxy (nginx honours this header).
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
