"""Exports: CSV that Excel opens in Chinese, and never as a formula; figures rounded alike."""

import csv
import io
from datetime import UTC, datetime

import pytest

from yizhan.console.formatting import age
from yizhan.console.tables import Column, Table, plain

pytestmark = pytest.mark.unit


def test_csv_has_a_bom_and_the_screen_labels() -> None:
    table = Table("series", "趋势", [Column("start", "起始"), Column("visits", "服务人次", True)])
    table.rows.append({"start": datetime(2026, 11, 22, 16, tzinfo=UTC), "visits": 12})
    data = table.csv_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["起始", "服务人次"], ["2026-11-22T16:00:00+00:00", "12"]]


def test_device_text_never_becomes_a_formula() -> None:
    table = Table("dead_letters", "死信", [Column("payload", "内容"), Column("n", "n", True)])
    table.rows.append({"payload": '=HYPERLINK("http://x")', "n": -3})
    rows = list(csv.reader(io.StringIO(table.csv_bytes().decode("utf-8-sig"))))
    assert rows[1] == ['\'=HYPERLINK("http://x")', "-3"]


def test_figures_are_rounded_the_same_everywhere() -> None:
    assert plain(1.23456) == 1.235
    assert plain(2.0) == 2
    assert plain(None) is None
    table = Table("t", "t", [Column("x", "x", True)], rows=[{"x": 0.1 + 0.2}])
    assert table.as_json()["rows"] == [{"x": 0.3}]


def test_age_reads_in_both_languages() -> None:
    since = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    now = datetime(2026, 11, 22, 11, 30, tzinfo=UTC)
    assert age(since, now, "zh") == "2天3小时"
    assert age(since, now, "en") == "2d 3h"
    assert age(now, now, "en") == "0min"
