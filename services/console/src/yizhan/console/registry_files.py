"""Bulk import files as the console reads them (docs/registry-import.md): a CSV or XLSX sheet
becomes a header and numbered rows of text cells, which stations checks and writes; and the
templates operators start from."""

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import openpyxl

from yizhan.common.registry_columns import (
    DEVICE_COLUMNS,
    DEVICE_EXAMPLE,
    STATION_COLUMNS,
    STATION_EXAMPLE,
)

# A registry of a few thousand rows is well under this; anything bigger is a wrong file.
MAX_FILE_BYTES = 5 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UnreadableFile(ValueError):
    """Neither CSV nor XLSX, too big, or damaged; `code` names why for translations."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Sheet:
    """A sheet's header (column names as written) and its non-empty rows, numbered as a
    spreadsheet shows them (the header is row 1)."""

    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # A spreadsheet keeps typed numbers: an id of digits comes back as 101.0.
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _sheet(table: Sequence[Sequence[object]]) -> Sheet:
    if not table:
        return Sheet()
    columns = [_text(name).lower() for name in table[0]]
    while columns and not columns[-1]:
        columns.pop()
    rows = []
    for number, values in enumerate(table[1:], start=2):
        cells = {
            name: _text(value)
            for name, value in zip(columns, values, strict=False)
            if name and _text(value)
        }
        if cells:
            rows.append({"row": number, "cells": cells})
    return Sheet(columns=[c for c in columns if c], rows=rows)


def _csv(data: bytes) -> list[list[str]]:
    # Excel on a Chinese Windows saves CSV as GB18030 (GBK); everything else as UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(text)))
    raise UnreadableFile("file_unreadable")


def _xlsx(data: bytes, wanted: str) -> list[list[object]]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFile("file_unreadable") from exc
    try:
        # A workbook with both sheets (the template) serves either upload.
        sheet = book[wanted] if wanted in book.sheetnames else book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def read_sheet(filename: str, data: bytes, wanted: str) -> Sheet:
    """The sheet of an uploaded file: CSV, or XLSX (the sheet named `wanted`, else the
    first). UnreadableFile when it is neither, or too big."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile("file_too_big")
    if data[:2] == b"PK":  # a zip container: XLSX
        return _sheet(_xlsx(data, wanted))
    if filename.lower().endswith((".xls", ".xlsx", ".xlsm")):
        raise UnreadableFile("file_unreadable")
    return _sheet(_csv(data))


def template_xlsx() -> bytes:
    """A workbook with a `stations` and a `devices` sheet: header and one example row."""
    book = openpyxl.Workbook()
    stations = book.active
    assert stations is not None  # a new workbook has one sheet
    stations.title = "stations"
    stations.append(list(STATION_COLUMNS))
    stations.append(list(STATION_EXAMPLE))
    devices = book.create_sheet("devices")
    devices.append(list(DEVICE_COLUMNS))
    devices.append(list(DEVICE_EXAMPLE))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_csv(kind: str) -> bytes:
    """The CSV template of `stations` or `devices` (UTF-8 with BOM, which Excel expects)."""
    columns, example = (
        (STATION_COLUMNS, STATION_EXAMPLE)
        if kind == "stations"
        else (DEVICE_COLUMNS, DEVICE_EXAMPLE)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerow(example)
    return out.getvalue().encode("utf-8-sig")


def credentials_xlsx(credentials: Sequence[dict[str, str]], host: str, port: int) -> bytes:
    """The passwords of imported devices as a workbook to keep. XLSX, not CSV: its cells are
    typed text, so a password starting with `-` stays as it is (a CSV would need the quote
    that stops spreadsheets running it as a formula, and the quote would end up in kiosks)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "credentials"
    sheet.append(["station_id", "device_id", "broker_host", "broker_port", "username", "password"])
    for c in credentials:
        sheet.append([c["station_id"], c["device_id"], host, port, c["username"], c["password"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
