"""The usage figures of CONTRACT §3, defined once. The API's queries (usage.py), the
ingest's rollups without TimescaleDB (ingest/store.py) and, frozen at the time it was
written, the newest migration's continuous aggregates (0004) all compute them from this; a
test pins the migration's text to it (tests/telemetry/test_figures.py), so the three cannot
drift.

- visits: the sum of `count` of `visit` events (people counted at the door)
- charge_sessions: the number of `charge.stop` events (a stop without a start still counts)
- energy_wh: the sum of `energy_wh` of `charge.stop` events (the API shows kWh)
- water_liters: the sum of `liters` of `water.dispense` events
- dispenses: the number of `water.dispense` events
- heat_uses: the number of `heat.use` events (the fourth promise: 饭凉能加热)
- heat_seconds: the sum of `seconds` of `heat.use` events, kept in `count` (the API shows
  minutes; seconds add up exactly, minutes would not)

Sums are numeric so that decimal inputs add up exactly (0.1 + 0.2 = 0.3)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One figure: over raw `events` rows, and over rows of rollups that already hold it."""

    name: str
    over_events: str
    over_rollups: str


FIGURES: tuple[Figure, ...] = (
    Figure(
        "visits",
        "COALESCE(sum(count) FILTER (WHERE type = 'visit'), 0)::bigint",
        "sum(visits)::bigint",
    ),
    Figure(
        "charge_sessions",
        "count(*) FILTER (WHERE type = 'charge.stop')",
        "sum(charge_sessions)::bigint",
    ),
    Figure(
        "energy_wh",
        "COALESCE(sum(amount::numeric) FILTER (WHERE type = 'charge.stop'), 0)",
        "sum(energy_wh)",
    ),
    Figure(
        "water_liters",
        "COALESCE(sum(amount::numeric) FILTER (WHERE type = 'water.dispense'), 0)",
        "sum(water_liters)",
    ),
    Figure(
        "dispenses",
        "count(*) FILTER (WHERE type = 'water.dispense')",
        "sum(dispenses)::bigint",
    ),
    Figure(
        "heat_uses",
        "count(*) FILTER (WHERE type = 'heat.use')",
        "sum(heat_uses)::bigint",
    ),
    Figure(
        "heat_seconds",
        "COALESCE(sum(count) FILTER (WHERE type = 'heat.use'), 0)::bigint",
        "sum(heat_seconds)::bigint",
    ),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIGURES)
# The event types any figure reads (a filter that lets indexes skip the rest).
USAGE_TYPES = "('visit', 'charge.stop', 'water.dispense', 'heat.use')"
# SELECT lists: the figures, named, over raw events and over rollups.
OVER_EVENTS = ",\n    ".join(f"{f.over_events} AS {f.name}" for f in FIGURES)
OVER_ROLLUPS = ",\n    ".join(f"{f.over_rollups} AS {f.name}" for f in FIGURES)
# Comma-separated names, for column lists.
COLUMNS = ", ".join(NAMES)
