"""Raw values of the other services read as words on the console's pages (issue 14 item 4):
severities, alarm codes, statuses and dead-letter reasons in the page's language, in the
page and in its CSV, while the JSON API keeps the codes; the week's hours Monday first."""

import pytest

from yizhan.console.formatting import opening_hours_text
from yizhan.console.i18n import translator, value_label
from yizhan.console.tables import Column, Table

pytestmark = pytest.mark.unit

ZH, EN = translator("zh"), translator("en")


def test_known_values_are_translated_and_a_devices_own_code_is_kept() -> None:
    assert value_label(ZH, "severity", "critical") == "严重"
    assert value_label(EN, "severity", "warning") == "Warning"
    assert value_label(ZH, "host", "scenic_area") == "景区"
    assert value_label(ZH, "station_status", "active") == "运营中"
    assert value_label(ZH, "alarm_code", "offline") == "设备离线"
    assert value_label(ZH, "alarm_code", "WATER_LOW") == "水箱水位低"
    assert value_label(ZH, "dead_letter", "ts_stale").startswith("时间戳过旧")
    # A fault code a device made up is its own words: shown as it came.
    assert value_label(ZH, "alarm_code", "PUMP_7_JAMMED") == "PUMP_7_JAMMED"


def test_the_csv_shows_the_words_and_the_json_keeps_the_codes() -> None:
    column = Column("severity", ZH("severity"), values=lambda raw: value_label(ZH, "severity", raw))
    table = Table("alarms", "告警", [column], rows=[{"severity": "critical"}])
    assert table.as_json()["rows"] == [{"severity": "critical"}]
    assert table.csv_bytes().decode("utf-8-sig").splitlines() == ["级别", "严重"]


def test_the_week_starts_on_monday_whatever_order_the_hours_come_in() -> None:
    # The stations API returns JSON objects with sorted keys: fri, mon, sat, sun, thu, ...
    hours = {day: [["08:00", "18:00"]] for day in sorted(("mon", "tue", "wed", "thu", "fri"))}
    hours["sat"] = [["09:00", "12:00"], ["14:00", "17:00"]]
    assert next(iter(hours)) == "fri"
    assert opening_hours_text(hours, "zh", ZH) == [
        "周一至周五 08:00–18:00",
        "周六 09:00–12:00 14:00–17:00",
        "周日 休息",
    ]
    assert opening_hours_text(hours, "en", EN) == [
        "Mon–Fri 08:00–18:00",
        "Sat 09:00–12:00 14:00–17:00",
        "Sun closed",
    ]


def test_two_days_alike_are_listed_not_spanned() -> None:
    hours = {"sat": [["10:00", "16:00"]], "sun": [["10:00", "16:00"]]}
    assert opening_hours_text(hours, "zh", ZH) == ["周一至周五 休息", "周六、周日 10:00–16:00"]
