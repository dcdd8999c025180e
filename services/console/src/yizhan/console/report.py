"""The district report (issue 14): what a district union reports upward for a month or any
period, as named tables that the printable page and the XLSX both render.

It holds, per station and in total: the usage figures (heat included) with the previous
period beside them, bookings with check-ins and no-shows, opinions and the measures they led
to, livestream outcomes, equipment availability, and the problems still open when it was made.
The console computes none of it: telemetry, bookings and stations answer over gRPC.

Equipment availability is telemetry's (insights GetAvailability, presence.py): of the time
telemetry observed a device during the period, the share it was online, and the share it was
working (online with no open `critical` alarm). Time before a device first reported, or while
telemetry was down, is not observed and counts neither way.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common.pbtime import from_pb
from yizhan.console.i18n import Lang
from yizhan.console.period import Period, change, previous_period
from yizhan.console.scope import ConsoleScope
from yizhan.console.sources import (
    FIGURES,
    BookingFigures,
    OpinionRow,
    OutcomeRow,
    Sources,
    StationNow,
)
from yizhan.console.tables import Column, Table, Value, columns
from yizhan.console.view import attempt_into

# Open alarms and unresolved opinions listed in a report (the counts cover all of them).
REPORT_ALARMS = 500
REPORT_OPINIONS = 500
TOTAL_ID = ""
BOOKING_COLUMNS = (
    "bookings_confirmed",
    "bookings_checked_in",
    "bookings_no_show",
    "no_show_rate",
    "cancelled",
    "forum_sessions_count",
    "forum_seats",
)
LIVESTREAM_COLUMNS = (
    "livestream_bookings",
    "livestream_outcomes",
    "livestream_households",
    "livestream_sales_yuan",
)
OPINION_STATUSES = ("received", "in_progress", "resolved", "declined")


@dataclass
class Report:
    """A built report: its subject, periods and tables in the order they are shown."""

    subject: str
    district: str | None
    period: Period
    previous: Period
    generated_at: datetime
    tables: dict[str, Table] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _station_name(lang: Lang, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def station_columns(t: Callable[..., str]) -> list[Column]:
    """The two columns every per-station table starts with."""
    return [Column("station_id", "ID"), Column("station", t("station"))]


def summary_table(
    t: Callable[..., str],
    now: dict[str, float] | None,
    before: dict[str, float] | None,
    booked: BookingFigures | None,
    booked_before: BookingFigures | None,
) -> Table:
    """The scope's totals beside the previous period's: difference and change in percent."""
    table = Table(
        "summary",
        t("report_summary"),
        [
            Column("figure", t("figure")),
            Column("period", t("this_period"), numeric=True),
            Column("previous", t("previous_period"), numeric=True),
            Column("difference", t("difference"), numeric=True),
            Column("change_percent", t("change_percent"), numeric=True),
        ],
    )
    pairs: list[tuple[str, float | None, float | None]] = [
        (key, None if now is None else now[key], None if before is None else before[key])
        for key in FIGURES
    ]
    for key, stat in (
        ("bookings_confirmed", "confirmed"),
        ("bookings_checked_in", "checked_in"),
        ("bookings_no_show", "no_shows"),
        ("livestream_outcomes", "livestream_outcomes"),
        ("livestream_households", "livestream_households"),
        ("livestream_sales_yuan", "livestream_sales_yuan"),
    ):
        pairs.append(
            (
                key,
                None if booked is None else float(getattr(booked.totals, stat)),
                None if booked_before is None else float(getattr(booked_before.totals, stat)),
            )
        )
    for key, received in (("opinions_received", "received"), ("opinions_resolved", "resolved")):
        pairs.append(
            (
                key,
                None if booked is None else float(getattr(booked.totals.opinions, received)),
                None
                if booked_before is None
                else float(getattr(booked_before.totals.opinions, received)),
            )
        )
    for key, value, previous in pairs:
        table.rows.append(
            {
                "key": key,
                "figure": t(key),
                "period": value,
                "previous": previous,
                "difference": None if value is None or previous is None else value - previous,
                "change_percent": change(value, previous),
            }
        )
    return table


def usage_by_station_table(
    name: str,
    title: str,
    t: Callable[..., str],
    lang: Lang,
    scope: ConsoleScope,
    per_station: dict[str, StationNow] | None,
    totals: dict[str, float] | None,
    note: str | None,
) -> Table:
    """Usage figures per station, and the scope's total (added up by telemetry)."""
    table = Table(
        name,
        title,
        [
            *station_columns(t),
            *columns(t, *FIGURES, numeric=FIGURES),
        ],
        note=note,
    )
    if per_station is None:
        return table
    for station in scope.stations:
        figures = per_station.get(station.id)
        table.rows.append(
            {
                "station_id": station.id,
                "station": _station_name(lang, station.name_zh, station.name_en),
                **(figures.figures if figures else dict.fromkeys(FIGURES, 0)),
            }
        )
    if totals is not None:
        table.rows.append({"station_id": TOTAL_ID, "station": t("total"), **totals})
    return table


def _booking_cells(stats: bookings_pb2.BookingStats) -> dict[str, Value]:
    return {
        "bookings_confirmed": stats.confirmed,
        "bookings_checked_in": stats.checked_in,
        "bookings_no_show": stats.no_shows,
        "no_show_rate": 100 * stats.no_show_rate,
        "cancelled": stats.cancelled,
        "forum_sessions_count": stats.forum_sessions,
        "forum_seats": stats.forum_seats,
        "livestream_bookings": stats.livestream_bookings,
        "livestream_outcomes": stats.livestream_outcomes,
        "livestream_households": stats.livestream_households,
        "livestream_sales_yuan": stats.livestream_sales_yuan,
        **{f"opinions_{status}": getattr(stats.opinions, status) for status in OPINION_STATUSES},
    }


def bookings_tables(
    t: Callable[..., str],
    lang: Lang,
    scope: ConsoleScope,
    booked: BookingFigures | None,
) -> dict[str, Table]:
    """Bookings, livestream outcomes and opinion counts per station, with the total."""
    note = None if booked is not None else t("bookings_unavailable")
    opinion_keys = tuple(f"opinions_{status}" for status in OPINION_STATUSES)
    specs = {
        "bookings": (t("report_bookings"), BOOKING_COLUMNS),
        "livestream": (t("report_livestream"), LIVESTREAM_COLUMNS),
        "opinions": (t("report_opinions"), opinion_keys),
    }
    tables = {}
    for name, (title, keys) in specs.items():
        table = Table(
            name,
            title,
            [
                *station_columns(t),
                *columns(t, *keys, numeric=keys),
            ],
            note=note,
        )
        if booked is not None:
            for station in scope.stations:
                stats = booked.stations.get(station.id, bookings_pb2.BookingStats())
                cells = _booking_cells(stats)
                table.rows.append(
                    {
                        "station_id": station.id,
                        "station": _station_name(lang, station.name_zh, station.name_en),
                        **{key: cells[key] for key in keys},
                    }
                )
            cells = _booking_cells(booked.totals)
            table.rows.append(
                {"station_id": TOTAL_ID, "station": t("total"), **{k: cells[k] for k in keys}}
            )
        tables[name] = table
    return tables


def outcomes_table(
    t: Callable[..., str], names: dict[str, str], outcomes: list[OutcomeRow] | None, tz: str
) -> Table:
    """Every livestream slot of the period whose outcome was recorded."""
    table = Table(
        "livestream_slots",
        t("livestream_slots"),
        [
            *station_columns(t),
            Column("point", t("livestream_point")),
            Column("slot_start", t("slot_start")),
            Column("livestream_households", t("livestream_households"), numeric=True),
            Column("livestream_sales_yuan", t("livestream_sales_yuan"), numeric=True),
            Column("note", t("note")),
        ],
        note=None if outcomes is not None else t("bookings_unavailable"),
    )
    zone = ZoneInfo(tz)
    for row in outcomes or []:
        table.rows.append(
            {
                "station_id": row.station_id,
                "station": names.get(row.station_id, row.station_id),
                "point": row.point_name,
                "slot_start": row.starts_at.astimezone(zone),
                "livestream_households": row.households,
                "livestream_sales_yuan": row.sales_yuan,
                "note": row.note or None,
            }
        )
    return table


def season_table(t: Callable[..., str], outcomes: list[OutcomeRow] | None, tz: str) -> Table:
    """Livestream outcomes month by month over the period (a market-day season at a glance)."""
    table = Table(
        "livestream_season",
        t("livestream_season"),
        [
            Column("month_label", t("month_label")),
            Column("livestream_outcomes", t("livestream_outcomes"), numeric=True),
            Column("livestream_households", t("livestream_households"), numeric=True),
            Column("livestream_sales_yuan", t("livestream_sales_yuan"), numeric=True),
        ],
        note=None if outcomes is not None else t("bookings_unavailable"),
    )
    zone = ZoneInfo(tz)
    months: dict[str, list[float]] = {}
    for row in outcomes or []:
        sums = months.setdefault(row.starts_at.astimezone(zone).strftime("%Y-%m"), [0, 0, 0.0])
        sums[0] += 1
        sums[1] += row.households
        sums[2] += row.sales_yuan
    for month, (slots, households, sales) in sorted(months.items()):
        table.rows.append(
            {
                "month_label": month,
                "livestream_outcomes": int(slots),
                "livestream_households": int(households),
                "livestream_sales_yuan": sales,
            }
        )
    return table


def measures_table(
    t: Callable[..., str], names: dict[str, str], opinions: list[OpinionRow] | None, tz: str
) -> Table:
    """Opinions of the period that led to a measure, grouped by the measure."""
    table = Table(
        "measures",
        t("report_measures"),
        [
            Column("measure", t("measure")),
            Column("opinions_count", t("opinions_count"), numeric=True),
            Column("stations", t("stations")),
            Column("opinions_text", t("opinions_text")),
        ],
        note=None if opinions is not None else t("bookings_unavailable"),
    )
    grouped: dict[str, list[OpinionRow]] = {}
    for opinion in opinions or []:
        if opinion.status == "resolved" and opinion.measure:
            grouped.setdefault(opinion.measure, []).append(opinion)
    for measure, items in sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        table.rows.append(
            {
                "measure": measure,
                "opinions_count": len(items),
                "stations": "、".join(
                    sorted({names.get(o.station_id, o.station_id) for o in items})
                ),
                "opinions_text": "；".join(o.text for o in items),
            }
        )
    return table


def open_opinions_table(
    t: Callable[..., str], names: dict[str, str], opinions: list[OpinionRow] | None, tz: str
) -> Table:
    """Opinions still received or in progress, whenever they were raised, oldest first."""
    zone = ZoneInfo(tz)
    table = Table(
        "open_opinions",
        t("open_opinions"),
        [
            *station_columns(t),
            Column("since", t("since")),
            Column("category", t("category")),
            Column("status", t("status")),
            Column("opinions_text", t("opinions_text")),
        ],
        note=None if opinions is not None else t("bookings_unavailable"),
    )
    for opinion in sorted(opinions or [], key=lambda o: o.created_at):
        table.rows.append(
            {
                "station_id": opinion.station_id,
                "station": names.get(opinion.station_id, opinion.station_id),
                "since": opinion.created_at.astimezone(zone),
                "category": t(f"opinion_category_{opinion.category}"),
                "status": t(f"opinion_{opinion.status}"),
                "opinions_text": opinion.text,
            }
        )
    return table


def availability_report_table(
    t: Callable[..., str],
    lang: Lang,
    scope: ConsoleScope,
    rows: list[insights_pb2.DeviceAvailability] | None,
) -> Table:
    """Per station: devices observed, hours observed, share online, share working."""
    table = Table(
        "availability",
        t("report_availability"),
        [
            *station_columns(t),
            Column("devices", t("devices"), numeric=True),
            Column("observed_hours", t("observed_hours"), numeric=True),
            Column("online_share", t("online_share"), numeric=True),
            Column("working_share", t("working_share"), numeric=True),
        ],
        note=t("availability_definition") if rows is not None else t("telemetry_unavailable"),
    )
    if rows is None:
        return table
    sums: dict[str, list[float]] = {}
    for device in rows:
        entry = sums.setdefault(device.station_id, [0, 0.0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += device.observed_seconds
        entry[2] += device.online_seconds
        entry[3] += device.working_seconds
    total = [0, 0.0, 0.0, 0.0]
    for station in scope.stations:
        count, observed, online, working = sums.get(station.id, [0, 0.0, 0.0, 0.0])
        total = [total[0] + count, total[1] + observed, total[2] + online, total[3] + working]
        table.rows.append(
            {
                "station_id": station.id,
                "station": _station_name(lang, station.name_zh, station.name_en),
                **_shares(count, observed, online, working),
            }
        )
    table.rows.append({"station_id": TOTAL_ID, "station": t("total"), **_shares(*total)})
    return table


def _shares(count: float, observed: float, online: float, working: float) -> dict[str, Value]:
    return {
        "devices": int(count),
        "observed_hours": observed / 3600,
        "online_share": 100 * online / observed if observed else None,
        "working_share": 100 * working / observed if observed else None,
    }


def alarms_report_table(
    t: Callable[..., str],
    names: dict[str, str],
    alarms: tuple[list[insights_pb2.OpenAlarm], int] | None,
    tz: str,
) -> Table:
    """Alarms open when the report was made, oldest first."""
    zone = ZoneInfo(tz)
    table = Table(
        "open_alarms",
        t("open_alarms"),
        [
            *station_columns(t),
            Column("device_id", t("device")),
            Column("code", t("code")),
            Column("severity", t("severity")),
            Column("since", t("since")),
            Column("acknowledged_by", t("acknowledged")),
        ],
        note=None if alarms is not None else t("telemetry_unavailable"),
    )
    for alarm in (alarms or ([], 0))[0]:
        table.rows.append(
            {
                "station_id": alarm.station_id,
                "station": names.get(alarm.station_id, alarm.station_id),
                "device_id": alarm.device_id,
                "code": alarm.code,
                "severity": t(f"report_severity_{alarm.severity}"),
                "since": from_pb(alarm.since).astimezone(zone),
                "acknowledged_by": alarm.acknowledged_by or None,
            }
        )
    return table


async def build_report(
    sources: Sources,
    scope: ConsoleScope,
    period: Period,
    lang: Lang,
    t: Callable[..., str],
    now: datetime,
) -> Report:
    """The report of a scope (a district, or all of the operator's) over a period."""
    before = previous_period(period)
    subject = scope.district or (
        t("network") if scope.operator.sees_everything else "、".join(scope.districts)
    )
    report = Report(subject, scope.district, period, before, now)
    ids = scope.station_ids
    usage_ids = scope.usage_stations()
    booking_ids = None if scope.whole_network else ids
    station_set = scope.station_set()
    problems: list[str] = report.problems
    (
        totals,
        totals_before,
        per_station,
        per_station_before,
        booked,
        booked_before,
        availability,
        alarms,
        outcomes,
        opinions,
        unresolved,
    ) = await asyncio.gather(
        attempt_into(
            problems, t, sources.usage_totals(usage_ids, period.start, period.end, period.tz)
        ),
        attempt_into(
            problems, t, sources.usage_totals(usage_ids, before.start, before.end, period.tz)
        ),
        attempt_into(problems, t, sources.summarize(ids, period.start, period.end)),
        attempt_into(problems, t, sources.summarize(ids, before.start, before.end)),
        attempt_into(problems, t, sources.booking_figures(booking_ids, period.start, period.end)),
        attempt_into(problems, t, sources.booking_figures(booking_ids, before.start, before.end)),
        attempt_into(problems, t, sources.availability(station_set, period.start, period.end)),
        attempt_into(problems, t, sources.open_alarms(station_set, REPORT_ALARMS)),
        attempt_into(problems, t, sources.outcomes(ids, period.start, period.end)),
        attempt_into(
            problems, t, sources.opinions(ids, period.start, period.end, False, REPORT_OPINIONS)
        ),
        attempt_into(problems, t, sources.opinions(ids, None, None, True, REPORT_OPINIONS)),
    )
    names = {s.id: _station_name(lang, s.name_zh, s.name_en) for s in scope.stations}
    tables = report.tables
    tables["summary"] = summary_table(t, totals, totals_before, booked, booked_before)
    unavailable = None if per_station is not None else t("telemetry_unavailable")
    tables["stations"] = usage_by_station_table(
        "stations", t("report_stations"), t, lang, scope, per_station, totals, unavailable
    )
    tables["stations_previous"] = usage_by_station_table(
        "stations_previous",
        t("report_stations_previous"),
        t,
        lang,
        scope,
        per_station_before,
        totals_before,
        unavailable,
    )
    tables.update(bookings_tables(t, lang, scope, booked))
    tables["livestream_slots"] = outcomes_table(t, names, outcomes, period.tz)
    tables["measures"] = measures_table(t, names, opinions, period.tz)
    tables["availability"] = availability_report_table(t, lang, scope, availability)
    tables["open_alarms"] = alarms_report_table(t, names, alarms, period.tz)
    tables["open_opinions"] = open_opinions_table(t, names, unresolved, period.tz)
    return report
