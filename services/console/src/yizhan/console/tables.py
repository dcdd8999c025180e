"""Tables as the console shows them, and the same tables as CSV and JSON.

A page is built once as named tables; the HTML, the CSV export and the JSON API all render
those, so an export holds exactly what is on screen.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yizhan.common.spreadsheet import safe_cell

Value = str | int | float | datetime | None
# Decimal places of non-integer figures, the same in the API, the CSV and the page.
FLOAT_PLACES = 3


@dataclass(frozen=True)
class Column:
    """A column: its key in JSON, its label on screen and in CSV, and how its raw values
    (codes such as `critical`) read on screen and in CSV; JSON keeps the codes."""

    key: str
    label: str
    numeric: bool = False
    values: Callable[[str], str] | None = None

    def show(self, value: Value) -> Value:
        """A cell as people read it."""
        if self.values is not None and isinstance(value, str):
            return self.values(value)
        return value


@dataclass
class Table:
    """A named table of a page."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Value]] = field(default_factory=list)
    # Why the table is empty or incomplete ("unavailable: ..."), shown above it.
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The table for the JSON API."""
        return {
            "name": self.name,
            "title": self.title,
            "note": self.note,
            "columns": [{"key": c.key, "label": c.label} for c in self.columns],
            "rows": [{c.key: plain(row.get(c.key)) for c in self.columns} for row in self.rows],
        }

    def csv_bytes(self) -> bytes:
        """UTF-8 CSV with a byte-order mark, so that Excel reads Chinese correctly."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.label for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_cell(plain(c.show(row.get(c.key)))) for c in self.columns])
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def plain(value: Value) -> str | int | float | None:
    """A cell as JSON and CSV carry it: times in ISO 8601 with offset, figures rounded."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        rounded = round(value, FLOAT_PLACES)
        return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded
    return value


def _csv_cell(value: str | int | float | None) -> str | int | float:
    if value is None:
        return ""
    # Device-sent text (dead-letter topics and payloads) must not become a formula.
    return safe_cell(value)


def columns(t: Callable[..., str], *keys: str, numeric: tuple[str, ...] = ()) -> list[Column]:
    """Columns labelled in the page's language."""
    return [Column(key, t(key), key in numeric) for key in keys]
