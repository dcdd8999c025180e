"""Stations and devices managed in the console, in a real browser (Chromium, zh), as a district
operator, against `make run`'s broker (Mosquitto with dynamic security, kept by stations):
edit a station (field errors, weekly hours, a closed day), provision a kiosk and read its
credentials sheet with its QR code, rotate (the connected kiosk is dropped and its old
password refused), revoke (dropped and refused for good), bulk import with every bad row
listed before anything is written, then a good import with the passwords as a workbook.
Every new page passes axe-core (WCAG 2.1 AA)."""

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.console.conftest import (
    DISTRICT,
    DISTRICT_PASSWORD,
    OTHER_DISTRICT_STATION,
    Stack,
    wait_until,
)
from tests.security.mqtt_probe import MqttProbe
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from yizhan.common.qr import qr_svg
from yizhan.devstack.broker import MosquittoBroker

pytestmark = pytest.mark.e2e

STATION = "REG-0001"
KIOSK = "REG-0001-K1"
KICKED = "Administrative action"
REFUSED = "Not authorized"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _broker(stack: Stack, tmp_path: Path) -> MosquittoBroker:
    """A handle on the stack's running broker (not started here)."""
    return MosquittoBroker(tmp_path / "unused", stack.ports["mqtt"])


def _sign_in(browser: Browser, stack: Stack) -> Page:
    page = browser.new_page(locale="zh-CN", accept_downloads=True)
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", "nanchuan")
    page.fill("#password", DISTRICT_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")
    return page


def _card(page: Page) -> dict[str, str]:
    return {
        name: page.locator(f".credentials-card .cred-{name}").first.inner_text().strip()
        for name in ("device", "username", "password", "broker")
    }


def _qr_path(svg: str) -> str:
    match = re.search(r'<path[^>]* d="([^"]+)"', svg)
    assert match is not None
    return match.group(1)


def _connected(broker: MosquittoBroker, username: str, password: str) -> MqttProbe:
    probe = MqttProbe(broker, username, password, client_id=username)
    assert probe.connect(), probe.connack
    return probe


def _refused(broker: MosquittoBroker, username: str, password: str) -> bool:
    probe = MqttProbe(broker, username, password, client_id=username)
    accepted = probe.connect()
    probe.close()
    return not accepted and probe.connack == REFUSED


def test_edit_station_provision_rotate_revoke(
    browser: Browser, stack: Stack, district_operator: dict[str, str], tmp_path: Path
) -> None:
    stations = stack.url("stations")
    made = httpx.post(
        f"{stations}/api/v1/stations",
        json={
            "id": STATION,
            "name": {"zh": "登记测试驿站", "en": "Registry test"},
            "district": DISTRICT,
        },
        headers=district_operator,
    )
    assert made.status_code == 201, made.text
    page = _sign_in(browser, stack)

    # Edit: from the station page, as an operator finds it.
    page.goto(f"{stack.url('console')}/console/stations/{STATION}")
    page.click("text=编辑驿站")
    page.wait_for_url(f"**/console/manage/stations/{STATION}/edit")
    assert_accessible(page)
    expect(page.locator("#always_open")).to_be_checked()
    page.uncheck("#always_open")
    page.fill("#latitude", "北纬29")
    page.fill("#hours_mon", "08:00-20:00")
    page.fill("#hours_tue", "20:00-08:00")  # closes before it opens: stations says so
    page.fill("#hours_wed", "早上八点")  # not a time at all: the console says so
    page.fill("#exc_start_0", "2026-10-01")
    page.fill("#exc_end_0", "2026-10-03")
    page.fill("#exc_note_0", "国庆闭馆")
    page.click("form.manage button[type=submit]")
    expect(page.locator("#latitude-error")).to_have_text("请输入数字")
    expect(page.locator("#hours_wed-error")).to_contain_text("时间格式应为")
    expect(page.locator("#exc_note_0")).to_have_value("国庆闭馆")  # kept
    page.fill("#latitude", "29.1580")
    page.fill("#hours_wed", "")
    page.click("form.manage button[type=submit]")
    expect(page.locator("#hours_tue-error")).to_contain_text("不符合规则")
    assert_accessible(page)
    page.fill("#hours_tue", "09:00-12:00，14:00-18:00")
    page.fill("#district", "渝中区")  # not theirs
    page.click("form.manage button[type=submit]")
    expect(page.locator("#district-error")).to_have_text("无权进行此操作")
    page.fill("#district", DISTRICT)
    page.click("form.manage button[type=submit]")
    expect(page.locator("#saved")).to_have_text("已保存")
    station = httpx.get(f"{stations}/api/v1/stations/{STATION}", headers=district_operator).json()
    assert station["latitude"] == 29.158
    assert station["opening_hours"] == {
        "mon": [["08:00", "20:00"]],
        "tue": [["09:00", "12:00"], ["14:00", "18:00"]],
    }
    assert station["opening_exceptions"] == [
        {"start": "2026-10-01", "end": "2026-10-03", "hours": [], "note": "国庆闭馆"}
    ]
    audit = httpx.get(
        f"{stations}/api/v1/audit", params={"station_id": STATION}, headers=district_operator
    ).json()["items"]
    assert (audit[0]["action"], audit[0]["actor"]) == ("station.update", "nanchuan")

    # Provision: the credentials sheet, with a QR code of exactly what a kiosk needs.
    page.click("text=设备与凭据")
    page.wait_for_url(f"**/console/manage/stations/{STATION}/devices")
    assert_accessible(page)
    page.click("text=登记设备")
    assert_accessible(page)
    page.fill("#id", KIOSK)
    page.select_option("#kind", "kiosk")
    page.click("form.manage button[type=submit]")
    expect(page.locator(".credentials-card")).to_have_count(1)
    assert_accessible(page)
    first = _card(page)
    assert first["device"] == KIOSK
    host, port = first["broker"].split(" ")[0].split(":")
    uri = f"mqtts://{first['username']}:{first['password']}@{host}:{port}/yz/v1/st/{STATION}/dev/{KIOSK}"
    page_qr = page.locator(".credentials-card .qr svg").first.evaluate("e => e.outerHTML")
    assert _qr_path(page_qr) == _qr_path(str(qr_svg(uri)))
    # Printed, the sheet is the card alone.
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator(".credentials-card")).to_be_visible()
    page.emulate_media(media="screen")

    broker = _broker(stack, tmp_path)
    kiosk = wait_until(lambda: _try_connect(broker, first["username"], first["password"]))

    # Rotate: a fresh sheet; the connected kiosk is dropped, its old password refused.
    page.goto(f"{stack.url('console')}/console/manage/stations/{STATION}/devices")
    page.click(f"#device-{KIOSK} button.rotate")
    expect(page.locator(".credentials-card")).to_have_count(1)
    second = _card(page)
    assert second["password"] != first["password"]
    assert wait_until(lambda: kiosk.disconnect_reason) == KICKED
    kiosk.close()
    assert _refused(broker, first["username"], first["password"])
    renewed = _connected(broker, second["username"], second["password"])

    # Revoke: refused without the tick; then dropped, and refused for good.
    page.goto(f"{stack.url('console')}/console/manage/stations/{STATION}/devices")
    page.click(f"#device-{KIOSK} button.revoke")
    expect(page.locator("#error")).to_contain_text("请先勾选")
    assert renewed.disconnect_reason is None
    page.check(f"#confirm-{KIOSK}")
    page.click(f"#device-{KIOSK} button.revoke")
    expect(page.locator("#revoked-notice")).to_contain_text(KIOSK)
    expect(page.locator(f"#device-{KIOSK} .device-status")).to_have_text("已吊销")
    assert wait_until(lambda: renewed.disconnect_reason) == KICKED
    renewed.close()
    assert _refused(broker, second["username"], second["password"])

    audit = httpx.get(
        f"{stations}/api/v1/audit", params={"station_id": STATION}, headers=district_operator
    ).json()["items"]
    assert [(e["action"], e["actor"]) for e in audit[:3]] == [
        ("device.revoke", "nanchuan"),
        ("device.rotate", "nanchuan"),
        ("device.provision", "nanchuan"),
    ]
    # Another district's station is out of reach, as if it did not exist.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    for path in ("edit", "devices"):
        elsewhere = httpx.get(
            f"{stack.url('console')}/console/manage/stations/{OTHER_DISTRICT_STATION}/{path}",
            cookies=cookies,
        )
        assert elsewhere.status_code == 404, path

    # English one tap away, on the page the switch came from.
    page.click("#lang-switch")
    expect(page.locator("h2")).to_contain_text("Devices and credentials")
    expect(page.locator(f"#device-{KIOSK} .device-status")).to_have_text("Revoked")
    assert_accessible(page)
    page.close()


def _try_connect(broker: MosquittoBroker, username: str, password: str) -> MqttProbe | None:
    """Connected, once the broker has the new account (stations pushes it at once)."""
    probe = MqttProbe(broker, username, password, client_id=username)
    return probe if probe.connect() else None


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _upload(page: Page, selector: str, name: str, data: bytes, mime: str = "text/csv") -> None:
    payload: FilePayload = {"name": name, "mimeType": mime, "buffer": data}
    page.set_input_files(selector, files=[payload])


def test_bulk_import_dry_run_then_all_at_once(
    browser: Browser, stack: Stack, district_operator: dict[str, str], tmp_path: Path
) -> None:
    header = ["id", "name_zh", "name_en", "district", "latitude", "opening_hours"]
    good = [
        ["IMP-0001", "导入一号", "Import one", DISTRICT, "29.15", "mon-fri 08:00-20:00"],
        ["IMP-0002", "导入二号", "Import two", DISTRICT, "", ""],
    ]
    bad = [
        ["IMP-0003", "导入三号", "Import three", "渝中区", "", ""],  # row 4: not theirs
        ["IMP 4", "", "Import four", DISTRICT, "九十", "周一 8点"],  # row 5: four cells
    ]
    devices = [
        ["station_id", "id", "kind"],
        ["IMP-0001", "IMP-0001-K1", "kiosk"],
        ["IMP-0002", "IMP-0002-W1", "water"],
        ["IMP-9999", "IMP-9999-K1", "kiosk"],  # row 4: no such station
        ["IMP-0002", "IMP-0002-T1", "toaster"],  # row 5: no such kind
    ]
    page = _sign_in(browser, stack)
    page.click("text=批量导入")
    page.wait_for_url("**/console/manage/import")
    assert_accessible(page)
    _upload(page, "#stations_file", "stations.csv", _csv([header, *good, *bad]))
    _upload(page, "#devices_file", "devices.csv", _csv(devices))
    page.click("#import-check")
    expect(page.locator("#import-issues-summary")).to_be_visible()
    listed = [
        (row.get_attribute("data-row"), row.get_attribute("data-column"))
        for row in page.locator("#import-issues tbody tr").all()
    ]
    assert sorted(listed) == sorted(
        [
            ("4", "district"),
            ("5", "id"),
            ("5", "name_zh"),
            ("5", "latitude"),
            ("5", "opening_hours"),
            ("4", "station_id"),
            ("5", "kind"),
        ]
    )
    expect(page.locator("#import-issues")).to_contain_text("不是您负责的区")
    expect(page.locator("#import-issues")).to_contain_text("没有这个驿站")
    assert page.locator("#import-apply").count() == 0  # nothing to apply while rows are bad
    assert_accessible(page)
    stations = stack.url("stations")
    assert (
        httpx.get(f"{stations}/api/v1/stations/IMP-0001", headers=district_operator).status_code
        == 404
    )

    # The corrected file, as a workbook: checked, then imported all at once.
    book = openpyxl.Workbook()
    sheet = book.worksheets[0]
    sheet.title = "stations"
    for row in [header, *good]:
        sheet.append(row)
    device_sheet = book.create_sheet("devices")
    for row in devices[:3]:
        device_sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    for selector in ("#stations_file", "#devices_file"):
        _upload(page, selector, "registry.xlsx", out.getvalue(), xlsx)
    page.click("#import-check")
    expect(page.locator("#import-ready")).to_contain_text("2 个驿站、2 台设备")
    assert_accessible(page)
    page.click("#import-apply")
    expect(page.locator("#import-done")).to_contain_text("已导入 2 个驿站、2 台设备")
    expect(page.locator(".credentials-card")).to_have_count(2)
    assert_accessible(page)
    with page.expect_download() as download:
        page.click("#credentials-download")
    assert download.value.suggested_filename == "yizhan-device-credentials.xlsx"
    kept = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = list(kept.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == (
        "station_id",
        "device_id",
        "broker_host",
        "broker_port",
        "username",
        "password",
    )
    passwords: dict[Any, Any] = {row[1]: row[5] for row in rows[1:]}
    assert set(passwords) == {"IMP-0001-K1", "IMP-0002-W1"}
    shown = page.locator(".credentials-card .cred-password").all_inner_texts()
    assert sorted(p.strip() for p in shown) == sorted(passwords.values())

    station = httpx.get(f"{stations}/api/v1/stations/IMP-0001", headers=district_operator).json()
    assert station["opening_hours"]["fri"] == [["08:00", "20:00"]]
    broker = _broker(stack, tmp_path)
    kiosk = wait_until(lambda: _try_connect(broker, "IMP-0001-K1", passwords["IMP-0001-K1"]))
    kiosk.close()
    page.close()
