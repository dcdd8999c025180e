"""The station edit form's own work: turning its fields into stations' PATCH body, and
stations' errors (by JSON path) back onto the right field."""

from typing import Any

from yizhan.console.i18n import translator
from yizhan.console.manage_station_edit import form_field_of, patch_body

T = translator("zh")


def _values(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name_zh": "驿站",
        "name_en": "Station",
        "district": "南岸区",
        "address": "",
        "latitude": "29.5",
        "longitude": "",
        "host_type": "other",
        "status": "active",
        "amenities": "充电，饮水、 wifi",
        "contact": "",
        "always_open": False,
        "exceptions": [],
        **{f"hours_{d}": "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    values.update(changes)
    return values


def test_week_exceptions_and_lists_become_the_patch_body() -> None:
    body, errors = patch_body(
        _values(
            hours_mon="08:00-12:00, 14:00-20:00",
            exceptions=[{"start": "2026-10-01", "end": "", "hours": "", "note": "国庆"}],
        ),
        T,
    )
    assert errors == {}
    assert body["opening_hours"] == {"mon": [("08:00", "12:00"), ("14:00", "20:00")]}
    assert body["opening_exceptions"] == [{"start": "2026-10-01", "hours": [], "note": "国庆"}]
    assert body["amenities"] == ["充电", "饮水", "wifi"]
    assert (body["latitude"], body["longitude"]) == (29.5, None)  # empty: unknown


def test_always_open_and_the_console_s_own_errors() -> None:
    body, errors = patch_body(_values(always_open=True, hours_mon="whatever"), T)
    assert body["opening_hours"] is None
    assert errors == {}
    _, errors = patch_body(
        _values(
            latitude="北纬",
            hours_tue="8点到20点",
            exceptions=[{"start": "", "end": "", "hours": "", "note": "无日期"}],
        ),
        T,
    )
    assert set(errors) == {"latitude", "hours_tue", "exc_start_0"}


def test_stations_errors_land_on_their_field() -> None:
    assert form_field_of("name.en", "Field required") == "name_en"
    assert form_field_of("opening_hours", "Value error, tue: 20:00 is not before 08:00") == (
        "hours_tue"
    )
    assert form_field_of("opening_exceptions.1.start", "Input should be a valid date") == (
        "exc_start_1"
    )
    assert form_field_of("opening_exceptions.0", "Value error, end is before start") == (
        "exc_start_0"
    )
    assert form_field_of("opening_exceptions", "Value error, exceptions overlap") == "exceptions"
    assert form_field_of("latitude", "Input should be less than or equal to 90") == "latitude"
