"""CSV cells that spreadsheets will not run: every CSV export of every service goes through
`safe_cell`."""

import unicodedata
from typing import TypeVar

Cell = TypeVar("Cell")

# Excel, LibreOffice and WPS run a cell starting with one of these as a formula.
FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r", "\n"})


def safe_cell(value: Cell) -> Cell | str:
    """Text that a spreadsheet would read as a formula, quoted with a leading apostrophe.
    The first character is compared after NFKC, because spreadsheets with an East Asian
    locale also take fullwidth ＝ ＋ － ＠ as formula signs."""
    if isinstance(value, str) and value:
        first = unicodedata.normalize("NFKC", value[0])[:1]
        if first in FORMULA_STARTS:
            return "'" + value
    return value
