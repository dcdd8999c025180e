"""What the browser draws, taken from a page's tables (static/console.js draws it with
ECharts). Charts show the tables; they hold no figure of their own."""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from yizhan.console.formatting import bucket_label
from yizhan.console.i18n import WEEKDAYS, Lang
from yizhan.console.sources import FIGURES

if TYPE_CHECKING:
    from yizhan.console.view import View

# Stations in the ranking chart (the table below it has them all).
RANKING_BARS = 15


def chart_data(view: "View", t: Callable[..., str], lang: Lang) -> dict[str, Any]:
    """Chart inputs of a view, keyed by chart."""
    data: dict[str, Any] = {"labels": {key: t(key) for key in FIGURES}}
    series = view.tables.get("series")
    if series is not None:
        starts = [row["start"] for row in series.rows]
        data["series"] = {
            "x": [
                bucket_label(s, view.period.bucket, view.period.tz)
                for s in starts
                if isinstance(s, datetime)
            ],
            "figures": {key: [row[key] for row in series.rows] for key in FIGURES},
        }
    peak = view.tables.get("peak_hours")
    if peak is not None:
        days = WEEKDAYS[lang]
        cells = [
            [row["hour_of_day"], days.index(str(row["weekday"])), row["visits"]]
            for row in peak.rows
        ]
        data["heatmap"] = {
            "weekdays": list(days),
            "cells": cells,
            "max": max([float(c[2] or 0) for c in cells] + [1.0]),  # type: ignore[arg-type]
        }
    ranking = view.tables.get("stations")
    if ranking is not None and ranking.rows:
        top = ranking.rows[:RANKING_BARS]
        data["ranking"] = {
            "names": [row["station"] for row in top][::-1],
            "values": [row["visits"] or 0 for row in top][::-1],
        }
    availability = view.tables.get("availability")
    if availability is not None and availability.rows:
        kinds = [c for c in availability.columns if c.numeric and c.key != "observed_hours"]
        data["availability"] = {
            "stations": [str(row["station"]) for row in availability.rows],
            "kinds": [
                {
                    "name": column.label,
                    "values": [_percent(row.get(column.key)) for row in availability.rows],
                }
                for column in kinds
                if column.key != "all"
            ],
        }
    return data


def _percent(value: object) -> float | None:
    return round(value, 1) if isinstance(value, int | float) else None
