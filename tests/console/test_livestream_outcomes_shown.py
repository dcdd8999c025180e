"""What livestreams earned (bookings' outcome sums over gRPC) on the station page's
livestream table and among the overview's booking figures, in both languages."""

import pytest

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.console.i18n import Lang, translator
from yizhan.console.sources import BOOKING_FIGURES, BookingFigures, booking_values
from yizhan.console.station_view import bookables_tables

pytestmark = pytest.mark.unit


def test_outcomes_on_the_station_page_and_overview() -> None:
    stats = bookings_pb2.BookingStats(
        livestream_outcomes=2, livestream_households=18, livestream_sales_yuan=960.75
    )
    figures = BookingFigures(booking_values(stats), {"S1": stats}, stats)
    labels: tuple[tuple[Lang, str], ...] = (
        ("zh", "直播销售额 (元)"),
        ("en", "Livestream sales (yuan)"),
    )
    for lang, label in labels:
        table = bookables_tables(translator(lang), figures, "S1")["livestream"]
        assert label in [column.label for column in table.columns]
        (row,) = table.rows
        assert (row["livestream_households"], row["livestream_sales_yuan"]) == (18, 960.75)
    assert {"livestream_households", "livestream_sales_yuan"} <= set(BOOKING_FIGURES)
    assert figures.values["livestream_sales_yuan"] == 960.75
