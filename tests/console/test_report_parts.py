"""The district report's parts that need nothing running: last month and the previous period,
the change in percent, when a month's reports are due, measures grouped from opinions, and
the workbook (numbers as numbers, no formulas from text, Excel's sheet-name rules)."""

import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from yizhan.console.i18n import translator
from yizhan.console.period import change, parse_period, previous_period
from yizhan.console.report import measures_table
from yizhan.console.report_schedule import due_month
from yizhan.console.sources import OpinionRow
from yizhan.console.tables import Column, Table
from yizhan.console.xlsx import workbook_bytes

pytestmark = pytest.mark.unit
TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)


def _days(kind: str, now: datetime, **dates: str) -> tuple[date, date]:
    period = parse_period(kind, None, dates.get("first"), dates.get("last"), TZ, now)
    return period.first, period.last


def test_last_month_and_the_period_before() -> None:
    mid_december = datetime(2026, 12, 15, 10, tzinfo=SHANGHAI)
    assert _days("last_month", mid_december) == (date(2026, 11, 1), date(2026, 11, 30))
    # Across the new year, and in the zone's calendar (still 31 Dec in UTC).
    new_year = datetime(2026, 12, 31, 17, tzinfo=UTC)
    assert _days("last_month", new_year) == (date(2026, 12, 1), date(2026, 12, 31))
    march = parse_period("last_month", None, None, None, TZ, datetime(2026, 3, 2, tzinfo=SHANGHAI))
    before = previous_period(march)
    assert (before.first, before.last) == (date(2026, 1, 1), date(2026, 1, 31))
    this_month = parse_period("month", None, None, None, TZ, mid_december)
    before = previous_period(this_month)
    assert (before.first, before.last) == (date(2026, 11, 1), date(2026, 11, 30))
    custom = parse_period("custom", None, "2026-11-25", "2026-11-27", TZ)
    before = previous_period(custom)
    assert (before.first, before.last) == (date(2026, 11, 22), date(2026, 11, 24))


def test_change_in_percent() -> None:
    assert change(7, 3) == pytest.approx(133.333, abs=0.001)
    assert change(1, 2) == -50
    assert change(5, 0) is None  # from nothing: no percentage
    assert change(None, 3) is None


def test_a_months_reports_are_due_from_the_first_at_the_report_hour() -> None:
    def due(year: int, month: int, day: int, hour: int, minute: int) -> tuple[date, date] | None:
        moment = datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)
        return due_month(moment, TZ, hour=6, catch_up_days=7)

    november = (date(2026, 11, 1), date(2026, 11, 30))
    assert due(2026, 12, 1, 5, 59) is None
    assert due(2026, 12, 1, 6, 0) == november
    assert due(2026, 12, 7, 23, 59) == november  # a console down on the 1st catches up
    assert due(2026, 12, 8, 0, 0) is None
    assert due(2026, 11, 30, 12, 0) is None


def test_measures_group_the_opinions_they_answer() -> None:
    at = datetime(2026, 11, 3, tzinfo=UTC)
    opinions = [
        OpinionRow("S1", "parking", "门口没地方停车", "resolved", "划出电动车停放区", at),
        OpinionRow("S2", "parking", "取餐时车没处放", "resolved", "划出电动车停放区", at),
        OpinionRow("S1", "water_food", "想要热饭", "resolved", "添置微波炉", at),
        OpinionRow("S1", "other", "还在办", "in_progress", "", at),
    ]
    table = measures_table(translator("zh"), {"S1": "一号", "S2": "二号"}, opinions, TZ)
    assert [(r["measure"], r["opinions_count"], r["stations"]) for r in table.rows] == [
        ("划出电动车停放区", 2, "一号、二号"),
        ("添置微波炉", 1, "一号"),
    ]


def test_the_workbook_keeps_numbers_and_refuses_formulas() -> None:
    table = Table(
        "t",
        "表[1]: 各驿站/服务数据？这个标题超过三十一个字符的长度限制了吧对吧对吧",
        [Column("name", "名称"), Column("n", "数", numeric=True), Column("at", "时间")],
        rows=[
            {"name": '=HYPERLINK("x")', "n": 2.5, "at": datetime(2026, 11, 3, 8, tzinfo=SHANGHAI)}
        ],
    )
    book = load_workbook(io.BytesIO(workbook_bytes("报告", [("范围", "＝1+1")], [table, table])))
    cover, first, second = book.worksheets
    assert cover["B2"].value == "'＝1+1"
    assert len(first.title) <= 31
    assert first.title != second.title
    assert not any(c in first.title for c in "[]:*?/\\")
    assert first["A2"].value == '\'=HYPERLINK("x")'
    assert first["A2"].data_type == "s"
    assert first["B2"].value == 2.5
    assert first["C2"].value == datetime(2026, 11, 3, 8)
