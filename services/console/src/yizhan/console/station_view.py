"""A station's page: details, devices with live state, its charts, alarms and dead letters,
and the use of its livestream points and forum sessions (from bookings)."""

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.console import charts
from yizhan.console.dead_letters import dead_letters_table
from yizhan.console.i18n import Lang, codes_text
from yizhan.console.overview import alarms_table, peak_table, series_table
from yizhan.console.peers.stations import Device, Station, StationsDirectory
from yizhan.console.period import Period
from yizhan.console.report import outcomes_table, season_table
from yizhan.console.sources import (
    FIGURES,
    BookingFigures,
    DeviceNow,
    Sources,
    add,
    booking_values,
)
from yizhan.console.tables import Column, Table
from yizhan.console.view import Card, View, attempt

STATION_DEAD_LETTERS = 20
STATION_ALARMS = 100


def devices_table(
    t: Callable[..., str],
    devices: list[Device],
    states: list[DeviceNow] | None,
    availability: list[insights_pb2.DeviceAvailability] | None,
    tz: Any,
) -> Table:
    """Registered devices with their live state and share of time online."""
    state_of = {s.device_id: s for s in states or []}
    share_of = {
        a.device_id: 100 * a.online_seconds / a.observed_seconds
        for a in availability or []
        if a.observed_seconds > 0
    }
    table = Table(
        "devices",
        t("devices"),
        [
            Column("device_id", t("device")),
            Column("kind", t("kind")),
            Column("model", t("model")),
            Column("online", t("online")),
            Column("last_seen", t("last_seen")),
            Column("firmware", t("firmware")),
            Column("alarms", t("alarms")),
            Column("online_share", t("online_share"), numeric=True),
        ],
    )
    for device in devices:
        state = state_of.get(device.id)
        table.rows.append(
            {
                "device_id": device.id,
                "kind": t(f"device_kind_{device.kind}"),
                "model": device.model,
                "online": None
                if state is None
                else (t("online") if state.online else t("offline")),
                "online_flag": None if state is None else state.online,
                "last_seen": None if state is None else state.last_seen.astimezone(tz),
                "firmware": None if state is None else state.firmware or None,
                "alarms": None
                if state is None
                else codes_text(t, "alarm_code", (a[0] for a in state.alarms)) or None,
                "online_share": share_of.get(device.id),
            }
        )
    return table


def bookables_tables(
    t: Callable[..., str], booking: BookingFigures | None, station_id: str
) -> dict[str, Table]:
    """The station's livestream points and forum sessions over the period, with their use
    (bookings counts them per station, not per point or session)."""
    stats = booking.stations.get(station_id, bookings_pb2.BookingStats()) if booking else None
    note = None if booking is not None else t("bookings_unavailable")
    livestream = Table(
        "livestream",
        t("livestream_points"),
        [
            Column("livestream_bookings", t("livestream_bookings"), numeric=True),
            Column("livestream_booked_hours", t("livestream_booked_hours"), numeric=True),
            Column("livestream_open_hours", t("livestream_open_hours"), numeric=True),
            Column("utilisation", t("utilisation") + " %", numeric=True),
            Column("livestream_households", t("livestream_households"), numeric=True),
            Column("livestream_sales_yuan", t("livestream_sales_yuan"), numeric=True),
        ],
        note=note,
    )
    forum = Table(
        "forum",
        t("forum_sessions"),
        [
            Column("forum_sessions_count", t("forum_sessions_count"), numeric=True),
            Column("forum_seats", t("forum_seats"), numeric=True),
            Column("forum_confirmed", t("forum_confirmed"), numeric=True),
            Column("forum_waitlisted", t("forum_waitlisted"), numeric=True),
            Column("utilisation", t("utilisation") + " %", numeric=True),
            Column("bookings_checked_in", t("bookings_checked_in"), numeric=True),
            Column("bookings_no_show", t("bookings_no_show"), numeric=True),
            Column("no_show_rate", t("no_show_rate"), numeric=True),
            Column("opinions_received", t("opinions_received"), numeric=True),
            Column("opinions_resolved", t("opinions_resolved"), numeric=True),
        ],
        note=note,
    )
    if stats is not None:
        livestream.rows.append(
            {
                "livestream_bookings": stats.livestream_bookings,
                "livestream_booked_hours": stats.livestream_booked_minutes / 60,
                "livestream_open_hours": stats.livestream_open_minutes / 60,
                "utilisation": 100 * stats.livestream_utilisation,
                "livestream_households": stats.livestream_households,
                "livestream_sales_yuan": stats.livestream_sales_yuan,
            }
        )
        forum.rows.append(
            {
                "forum_sessions_count": stats.forum_sessions,
                "forum_seats": stats.forum_seats,
                "forum_confirmed": stats.forum_confirmed,
                "forum_waitlisted": stats.forum_waitlisted,
                "utilisation": (
                    100 * stats.forum_confirmed / stats.forum_seats if stats.forum_seats else None
                ),
                "bookings_checked_in": stats.checked_in,
                "bookings_no_show": stats.no_shows,
                "no_show_rate": 100 * stats.no_show_rate,
                "opinions_received": stats.opinions.received,
                "opinions_resolved": stats.opinions.resolved,
            }
        )
    return {"livestream": livestream, "forum": forum}


async def build_station_view(
    directory: StationsDirectory,
    sources: Sources,
    station: Station,
    period: Period,
    lang: Lang,
    t: Callable[..., str],
) -> View:
    """Everything a station's page shows for the period (in the station's time zone)."""
    view = View(period)
    only = insights_pb2.StationSet(station_ids=[station.id])
    now = datetime.now(period.zone)
    (
        series,
        states,
        availability,
        cells,
        alarms,
        letters,
        booking,
        outcomes,
    ) = await asyncio.gather(
        attempt(view, t, sources.usage_series([station.id], period)),
        attempt(view, t, sources.device_states(station.id)),
        attempt(view, t, sources.availability(only, period.start, period.end)),
        attempt(view, t, sources.peak_hours(only, period)),
        attempt(view, t, sources.open_alarms(only, STATION_ALARMS)),
        attempt(view, t, sources.dead_letters(only, STATION_DEAD_LETTERS)),
        attempt(view, t, sources.booking_figures([station.id], period.start, period.end)),
        attempt(view, t, sources.outcomes([station.id], period.start, period.end)),
    )
    devices = await directory.devices_of([station.id])
    names = {station.id: station.name_zh if lang == "zh" else station.name_en}
    view.tables["devices"] = devices_table(t, devices, states, availability, period.zone)
    if series is not None:
        view.tables["series"] = series_table(t, series, period.zone)
        totals: dict[str, float] = dict.fromkeys(FIGURES, 0)
        for _, figures in series:
            totals = add(totals, figures)
        view.cards = [Card(key, t(key), None, totals[key]) for key in FIGURES]
    if cells is not None:
        view.tables["peak_hours"] = peak_table(t, cells, lang)
    if alarms is not None:
        view.tables["alarms"] = alarms_table(t, lang, alarms[0], names, now, period.zone)
    if letters is not None:
        view.tables["dead_letters"] = dead_letters_table(t, letters, period.zone)
    view.tables.update(bookables_tables(t, booking, station.id))
    # What each livestream slot earned, and the season month by month (issue 17).
    view.tables["livestream_slots"] = outcomes_table(t, names, outcomes, period.tz)
    view.tables["livestream_season"] = season_table(t, outcomes, period.tz)
    if booking is not None:
        view.cards += [
            Card(key, t(key), None, value)
            for key, value in booking_values(
                booking.stations.get(station.id, bookings_pb2.BookingStats())
            ).items()
        ]
    online = sum(1 for s in states or [] if s.online)
    view.now = {
        "devices": sum(1 for d in devices if d.status == "active"),
        "devices_online": online if states is not None else None,
        "devices_offline": None,
        "open_alarms": alarms[1] if alarms is not None else None,
    }
    if states is not None:
        view.now["devices_offline"] = max(0, view.now["devices"] - online)  # type: ignore[operator]
    view.charts = charts.chart_data(view, t, lang)
    return view
