"""The usage figures are defined once (yizhan.telemetry.figures): the continuous aggregates
that the newest migration (0004) creates, frozen in its text, must compute the same figures,
and the ingest's rollups and the API's queries are built from the definition itself."""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from yizhan.telemetry import figures

pytestmark = pytest.mark.unit

MIGRATIONS = Path(figures.__file__).parent / "migrations" / "versions"


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _select_list(sql: str) -> list[str]:
    """The items of a SELECT list, whitespace normalised, split at top-level commas."""
    text = re.sub(r"\s+", " ", sql).strip()
    items, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]


def test_the_migrations_continuous_aggregates_compute_the_defined_figures() -> None:
    migration = _migration("0004_heat_figures")
    assert _select_list(migration.STATION_FIGURES) == _select_list(figures.OVER_EVENTS)
    assert _select_list(migration.NETWORK_FIGURES) == _select_list(figures.OVER_ROLLUPS)
    assert migration.USAGE_TYPES == figures.USAGE_TYPES
    covering = f"INCLUDE ({figures.COLUMNS})"
    assert covering == migration.COVERING


def test_the_way_back_is_migration_0003s_figures() -> None:
    before, after = _migration("0003_rollups_sessions"), _migration("0004_heat_figures")
    assert _select_list(after.STATION_FIGURES_BEFORE) == _select_list(before.STATION_FIGURES)
    assert _select_list(after.NETWORK_FIGURES_BEFORE) == _select_list(before.NETWORK_FIGURES)
    assert after.USAGE_TYPES_BEFORE == before.USAGE_TYPES
    assert after.COVERING_BEFORE == before.COVERING


def test_every_figure_reads_only_the_usage_event_types() -> None:
    read = set(re.findall(r"type = '([a-z.]+)'", figures.OVER_EVENTS))
    assert read == set(re.findall(r"'([a-z.]+)'", figures.USAGE_TYPES))
    assert figures.NAMES == (
        "visits",
        "charge_sessions",
        "energy_wh",
        "water_liters",
        "dispenses",
        "heat_uses",
        "heat_seconds",
    )
