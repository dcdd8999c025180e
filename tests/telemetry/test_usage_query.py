"""Checking usage questions before they reach the database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from yizhan.telemetry.scope import Scope, parse_scope
from yizhan.telemetry.usage import Figures, UsageQuery, check_usage_query

START = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_good_question() -> None:
    checked = check_usage_query(
        "district:南岸区", START, START + timedelta(days=7), "day", "Asia/Shanghai"
    )
    assert checked == UsageQuery(
        Scope("district", "南岸区"), START, START + timedelta(days=7), "day", "Asia/Shanghai"
    )


@pytest.mark.parametrize(
    ("scope", "end", "bucket", "tz", "fields"),
    [
        ("network", START, "day", "UTC", ["to"]),
        ("network", START + timedelta(days=1), "fortnight", "UTC", ["bucket"]),
        ("network", START + timedelta(days=1), "day", "Not/AZone", ["tz"]),
        ("network", START + timedelta(days=1), "day", "../../etc/passwd", ["tz"]),
        ("station:", START + timedelta(days=1), "day", "UTC", ["scope"]),
        ("network", START + timedelta(days=3650), "hour", "UTC", ["bucket"]),
    ],
)
def test_bad_questions_name_their_fields(
    scope: str, end: datetime, bucket: str, tz: str, fields: list[str]
) -> None:
    checked = check_usage_query(scope, START, end, bucket, tz)
    assert isinstance(checked, list)
    assert [name for name, _ in checked] == fields


def test_scopes() -> None:
    assert str(parse_scope("network")) == "network"
    assert parse_scope("station:CQ-1") == Scope("station", "CQ-1")
    assert str(parse_scope("district:a:b")) == "district:a:b"
    for bad in ("", "networks", "district", "city:x"):
        with pytest.raises(ValueError, match="use network"):
            parse_scope(bad)


def test_figures_add_up_exactly() -> None:
    total = Figures(1, 1, Decimal("0.1"), Decimal("0.1"), 1, 1, 20) + Figures(
        2, 0, Decimal("0.2"), Decimal("0.2"), 0, 2, 100
    )
    assert total.as_json() == {
        "visits": 3,
        "charge_sessions": 1,
        "energy_kwh": 0.0003,
        "water_liters": 0.3,
        "dispenses": 1,
        "heat_uses": 3,
        "heat_minutes": 2.0,
    }
