"""Import files as the console reads them (CSV in UTF-8 or GB18030, XLSX with typed cells),
the templates it offers, and the credentials QR code's contents."""

import io

import openpyxl
import pytest

from yizhan.common.registry_columns import DEVICE_COLUMNS, STATION_COLUMNS
from yizhan.console.credentials import CredentialsCard
from yizhan.console.registry_files import (
    UnreadableFile,
    credentials_xlsx,
    read_sheet,
    template_csv,
    template_xlsx,
)


def test_csv_rows_keep_their_spreadsheet_numbers_and_skip_empty_ones() -> None:
    text = "ID,Name_ZH,district\nA-1,一号,南岸区\n,,\nA-2,二号,南岸区\n"
    for encoding in ("utf-8-sig", "gb18030"):
        sheet = read_sheet("s.csv", text.encode(encoding), "stations")
        assert sheet.columns == ["id", "name_zh", "district"]
        assert [r["row"] for r in sheet.rows] == [2, 4]
        assert sheet.rows[1]["cells"] == {"id": "A-2", "name_zh": "二号", "district": "南岸区"}


def test_xlsx_takes_the_named_sheet_and_turns_typed_cells_into_text() -> None:
    book = openpyxl.Workbook()
    book.worksheets[0].title = "other"
    devices = book.create_sheet("devices")
    devices.append(["station_id", "id", "kind"])
    devices.append([101, "D-1", "kiosk"])  # a station id of digits, typed as a number
    stations = book.create_sheet("stations")
    stations.append(["id", "latitude"])
    stations.append(["S-1", 29.5])
    out = io.BytesIO()
    book.save(out)
    read = read_sheet("book.xlsx", out.getvalue(), "devices")
    assert read.rows == [{"row": 2, "cells": {"station_id": "101", "id": "D-1", "kind": "kiosk"}}]
    assert (
        read_sheet("book.xlsx", out.getvalue(), "stations").rows[0]["cells"]["latitude"] == "29.5"
    )


@pytest.mark.parametrize(
    ("name", "data"), [("a.xlsx", b"PK\x03\x04 not really a zip"), ("a.xls", b"\xd0\xcf\x11\xe0")]
)
def test_damaged_or_old_workbooks_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(UnreadableFile):
        read_sheet(name, data, "stations")


def test_templates_carry_the_columns_stations_reads() -> None:
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx()))
    assert [c.value for c in book["stations"][1]] == list(STATION_COLUMNS)
    assert [c.value for c in book["devices"][1]] == list(DEVICE_COLUMNS)
    assert read_sheet("t.csv", template_csv("devices"), "devices").columns == list(DEVICE_COLUMNS)


def test_credentials_workbook_keeps_a_password_starting_with_a_dash() -> None:
    row = {"station_id": "S", "device_id": "D", "username": "D", "password": "-AbC_9"}
    book = openpyxl.load_workbook(io.BytesIO(credentials_xlsx([row], "mqtt.example.cn", 8883)))
    assert list(book.worksheets[0].iter_rows(values_only=True))[1] == (
        "S",
        "D",
        "mqtt.example.cn",
        8883,
        "D",
        "-AbC_9",
    )


def test_the_qr_code_holds_an_mqtts_uri_with_the_device_topics() -> None:
    card = CredentialsCard(
        "S-1", "驿站", "S-1-K1", "kiosk", "mqtt.example.cn", 8883, "S-1-K1", "p-w_d"
    )
    assert card.uri == "mqtts://S-1-K1:p-w_d@mqtt.example.cn:8883/yz/v1/st/S-1/dev/S-1-K1"
    assert card.qr.startswith("<svg")
