"""Tables as an Excel workbook (openpyxl): a cover sheet of facts, then one sheet per table,
numbers as numbers, times as local times, and text that no spreadsheet will run as a formula."""

import io
import re
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from yizhan.common.spreadsheet import safe_cell
from yizhan.console.tables import Table, Value

# Excel's limits on a sheet's name: 31 characters, none of []:*?/\ .
SHEET_NAME_LENGTH = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MAX_COLUMN_WIDTH = 60


def _cell(value: Value) -> str | int | float | datetime | None:
    if isinstance(value, datetime):
        # Excel has no time zones: the local time the table already carries, without offset.
        return value.replace(tzinfo=None)
    if isinstance(value, float):
        return round(value, 3)
    # openpyxl stores a string starting with "=" as a formula; quote it like the CSV does.
    return safe_cell(value)


def _sheet_name(title: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub(" ", title).strip()[:SHEET_NAME_LENGTH] or "Sheet"
    name, number = base, 2
    while name in taken:
        suffix = f" {number}"
        name, number = base[: SHEET_NAME_LENGTH - len(suffix)] + suffix, number + 1
    taken.add(name)
    return name


def workbook_bytes(
    cover_title: str, facts: Sequence[tuple[str, str]], tables: Sequence[Table]
) -> bytes:
    """The workbook: a cover sheet (title and label/value facts), then the tables."""
    book = Workbook()
    cover = book.active
    assert cover is not None
    taken: set[str] = set()
    cover.title = _sheet_name(cover_title, taken)
    cover.append([safe_cell(cover_title)])
    cover["A1"].font = Font(bold=True, size=14)
    for label, value in facts:
        cover.append([safe_cell(label), safe_cell(value)])
    cover.column_dimensions["A"].width = 24
    cover.column_dimensions["B"].width = 48
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, taken))
        sheet.append([c.label for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_cell(row.get(c.key)) for c in table.columns])
        if table.note:
            sheet.append([])
            sheet.append([safe_cell(table.note)])
        for index, column in enumerate(table.columns, start=1):
            longest = max(
                [len(str(column.label))]
                + [len(str(row.get(column.key) or "")) for row in table.rows]
            )
            sheet.column_dimensions[get_column_letter(index)].width = min(
                MAX_COLUMN_WIDTH, 4 + longest * 1.6
            )
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
