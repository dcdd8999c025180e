"""The overview: the figures of an operator's scope over today and the chosen period, its
charts (time series, peak hours, ranking, availability), and what is wrong now."""

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common.pbtime import from_pb
from yizhan.console import charts
from yizhan.console.formatting import age
from yizhan.console.i18n import WEEKDAYS, Lang, value_label
from yizhan.console.peers.stations import Device, Station, StationsDirectory
from yizhan.console.period import Period, parse_period, previous_period
from yizhan.console.scope import ConsoleScope
from yizhan.console.sources import (
    BOOKING_FIGURES,
    FIGURES,
    BookingFigures,
    Sources,
    StationNow,
    add,
    booking_values,
)
from yizhan.console.tables import Column, Table, Value, columns
from yizhan.console.view import Card, View, attempt

# Alarms listed on the overview; the alarms page lists them all.
OVERVIEW_ALARMS = 50
DEVICE_KINDS = ("charger", "water", "heater", "counter", "kiosk", "other")


def series_table(
    t: Callable[..., str], series: list[tuple[datetime, dict[str, float]]], tz: Any
) -> Table:
    """Figures per bucket, starts in local time."""
    table = Table("series", t("series"), columns(t, "start", *FIGURES, numeric=FIGURES))
    for start, figures in series:
        table.rows.append({"start": start.astimezone(tz), **figures})
    return table


def peak_table(t: Callable[..., str], cells: list[insights_pb2.PeakCell], lang: Lang) -> Table:
    """168 rows: weekday, hour and the figures counted then (heating too: lunch and evening
    peaks of 饭凉能加热, issue 17)."""
    keys = ("visits", "charge_sessions", "dispenses", "heat_uses")
    table = Table(
        "peak_hours",
        t("peak_hours"),
        columns(t, "weekday", "hour_of_day", *keys, numeric=("hour_of_day", *keys)),
    )
    for cell in cells:
        table.rows.append(
            {
                "weekday": WEEKDAYS[lang][cell.weekday - 1],
                "hour_of_day": cell.hour,
                "visits": cell.figures.visits,
                "charge_sessions": cell.figures.charge_sessions,
                "dispenses": cell.figures.dispenses,
                "heat_uses": cell.figures.heat_uses,
            }
        )
    return table


def availability_table(
    t: Callable[..., str],
    lang: Lang,
    stations: list[Station],
    devices: list[Device],
    rows: list[insights_pb2.DeviceAvailability],
) -> Table:
    """Share of observed time online per station (a row) and device kind (a column)."""
    kind_of = {d.id: d.kind for d in devices}
    observed: dict[tuple[str, str], float] = defaultdict(float)
    online: dict[tuple[str, str], float] = defaultdict(float)
    for device in rows:
        key = (device.station_id, kind_of.get(device.device_id, "other"))
        observed[key] += device.observed_seconds
        online[key] += device.online_seconds
    kinds = [k for k in DEVICE_KINDS if any(d.kind == k for d in devices) or k != "other"]
    table = Table(
        "availability",
        t("availability"),
        [
            Column("station_id", "ID"),
            Column("station", t("station")),
            *[Column(kind, t(f"device_kind_{kind}"), numeric=True) for kind in kinds],
            Column("all", t("total"), numeric=True),
            Column("observed_hours", t("observed_hours"), numeric=True),
        ],
    )
    for station in stations:
        cells: dict[str, Value] = {
            "station_id": station.id,
            "station": station.name_zh if lang == "zh" else station.name_en,
        }
        seen_all = online_all = 0.0
        for kind in kinds:
            seen = observed.get((station.id, kind), 0.0)
            cells[kind] = 100 * online[(station.id, kind)] / seen if seen else None
            seen_all += seen
            online_all += online.get((station.id, kind), 0.0)
        cells["all"] = 100 * online_all / seen_all if seen_all else None
        cells["observed_hours"] = seen_all / 3600
        table.rows.append(cells)
    return table


def alarms_table(
    t: Callable[..., str],
    lang: Lang,
    alarms: list[insights_pb2.OpenAlarm],
    names: dict[str, str],
    now: datetime,
    tz: Any,
) -> Table:
    """Open alarms with their age and acknowledgement."""
    table = Table(
        "alarms",
        t("open_alarms"),
        [
            Column("id", "#", numeric=True),
            Column("station_id", "ID"),
            Column("station", t("station")),
            Column("device_id", t("device")),
            Column("code", t("code"), values=lambda raw: value_label(t, "alarm_code", raw)),
            Column("severity", t("severity"), values=lambda raw: value_label(t, "severity", raw)),
            Column("message", t("message")),
            Column("since", t("since")),
            Column("age", t("age")),
            Column("acknowledged_by", t("acknowledged")),
            Column("acknowledged_at", t("acknowledged_at")),
            Column("note", t("note")),
        ],
    )
    for alarm in alarms:
        since = from_pb(alarm.since)
        acked = alarm.HasField("acknowledged_at")
        table.rows.append(
            {
                "id": alarm.id,
                "station_id": alarm.station_id,
                "station": names.get(alarm.station_id, alarm.station_id),
                "device_id": alarm.device_id,
                "code": alarm.code,
                "severity": alarm.severity,
                "message": alarm.message,
                "since": since.astimezone(tz),
                "age": age(since, now, lang),
                "acknowledged_by": alarm.acknowledged_by or None,
                "acknowledged_at": from_pb(alarm.acknowledged_at).astimezone(tz) if acked else None,
                "note": alarm.note or None,
            }
        )
    return table


def ranking_table(
    t: Callable[..., str],
    lang: Lang,
    stations: list[Station],
    period_now: dict[str, StationNow],
    registered: dict[str, int],
    booking: BookingFigures | None,
) -> Table:
    """Stations by person-visits over the period, with their bookings and opinions, and
    devices online and alarms now."""
    table = Table(
        "stations",
        t("ranking"),
        [
            Column("station_id", "ID"),
            Column("station", t("station")),
            Column("district", t("district")),
            *columns(t, *FIGURES, numeric=FIGURES),
            *columns(t, *BOOKING_FIGURES, numeric=BOOKING_FIGURES),
            Column("devices_online", t("online"), numeric=True),
            Column("devices", t("devices"), numeric=True),
            Column("open_alarms", t("open_alarms"), numeric=True),
        ],
    )
    rows = []
    for station in stations:
        now = period_now.get(station.id)
        stats = booking.stations.get(station.id) if booking is not None else None
        if booking is None:
            booked: dict[str, float | None] = dict.fromkeys(BOOKING_FIGURES)
        else:
            booked = dict(booking_values(stats or bookings_pb2.BookingStats()))
        rows.append(
            {
                "station_id": station.id,
                "station": station.name_zh if lang == "zh" else station.name_en,
                "district": station.district,
                **(now.figures if now else dict.fromkeys(FIGURES)),
                **booked,
                "devices_online": now.devices_online if now else None,
                "devices": registered.get(station.id, 0),
                "open_alarms": now.open_alarms if now else None,
            }
        )
    rows.sort(key=lambda row: (-float(row["visits"] or 0), str(row["station_id"])))
    table.rows = rows
    return table


async def build_overview(
    directory: StationsDirectory,
    sources: Sources,
    scope: ConsoleScope,
    period: Period,
    lang: Lang,
    t: Callable[..., str],
) -> View:
    """Everything the overview shows for this scope and period."""
    view = View(period, previous_period=previous_period(period))
    before = view.previous_period
    assert before is not None
    ids = scope.station_ids
    today = parse_period("today", "hour", None, None, period.tz)
    now = datetime.now(period.zone)
    station_set = scope.station_set()
    (
        series,
        period_now,
        today_now,
        cells,
        availability,
        alarms,
        booking,
        booking_today,
        totals_before,
        booking_before,
    ) = await asyncio.gather(
        attempt(view, t, sources.usage_series(scope.usage_stations(), period)),
        attempt(view, t, sources.summarize(ids, period.start, period.end)),
        attempt(view, t, sources.summarize(ids, today.start, today.end)),
        attempt(view, t, sources.peak_hours(station_set, period)),
        attempt(view, t, sources.availability(station_set, period.start, period.end)),
        attempt(view, t, sources.open_alarms(station_set, OVERVIEW_ALARMS)),
        attempt(view, t, _bookings(sources, scope, period.start, period.end)),
        attempt(view, t, _bookings(sources, scope, today.start, today.end)),
        attempt(
            view,
            t,
            sources.usage_totals(scope.usage_stations(), before.start, before.end, period.tz),
        ),
        attempt(view, t, _bookings(sources, scope, before.start, before.end)),
    )
    registered = {s.id: s.device_count for s in scope.stations}
    devices = await directory.devices_of(ids)
    names = {s.id: (s.name_zh if lang == "zh" else s.name_en) for s in scope.stations}

    period_totals: dict[str, float] | None = None
    if series is not None:
        period_totals = dict.fromkeys(FIGURES, 0)
        for _, figures in series:
            period_totals = add(period_totals, figures)
        view.tables["series"] = series_table(t, series, period.zone)
    today_totals: dict[str, float] | None = None
    if today_now is not None:
        today_totals = dict.fromkeys(FIGURES, 0)
        for station_now in today_now.values():
            today_totals = add(today_totals, station_now.figures)
    for key in FIGURES:
        view.cards.append(
            Card(
                key,
                t(key),
                None if today_totals is None else today_totals[key],
                None if period_totals is None else period_totals[key],
                None if totals_before is None else totals_before[key],
            )
        )
    for key in BOOKING_FIGURES:
        view.cards.append(
            Card(
                key,
                t(key),
                None if booking_today is None else booking_today.values[key],
                None if booking is None else booking.values[key],
                None if booking_before is None else booking_before.values[key],
            )
        )

    if period_now is not None:
        online = sum(s.devices_online for s in period_now.values())
        view.now = {
            "devices": sum(registered.values()),
            "devices_online": online,
            "devices_offline": max(0, sum(registered.values()) - online),
            "open_alarms": sum(s.open_alarms for s in period_now.values()),
        }
    else:
        view.now = {
            "devices": sum(registered.values()),
            "devices_online": None,
            "devices_offline": None,
            "open_alarms": None,
        }
    view.tables["stations"] = ranking_table(
        t, lang, scope.stations, period_now or {}, registered, booking
    )
    if cells is not None:
        view.tables["peak_hours"] = peak_table(t, cells, lang)
    if availability is not None:
        view.tables["availability"] = availability_table(
            t, lang, scope.stations, devices, availability
        )
    if alarms is not None:
        view.tables["alarms"] = alarms_table(t, lang, alarms[0], names, now, period.zone)
        view.now["open_alarms"] = alarms[1]
    view.charts = charts.chart_data(view, t, lang)
    return view


async def _bookings(
    sources: Sources, scope: ConsoleScope, start: datetime, end: datetime
) -> BookingFigures:
    ids = None if scope.whole_network else scope.station_ids
    return await sources.booking_figures(ids, start, end)
