"""CSV downloads for operators: UTF-8 with a byte order mark, so that Excel on a union
office's Windows PC opens Chinese text correctly instead of guessing GBK."""

import csv
import io
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from fastapi.responses import Response

from yizhan.common.spreadsheet import safe_cell

BOM = "\ufeff"
# An export is a report, not a backup: past this many rows, narrow the range.
MAX_ROWS = 100_000


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    """A CSV attachment of `rows` under `header`."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        # Names and opinions are typed by the public: never a formula in a spreadsheet.
        writer.writerow(["" if value is None else safe_cell(value) for value in row])
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return Response(
        buffer.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )
