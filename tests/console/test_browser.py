"""The console in a real browser (Debian's chromium driven by Playwright): sign in, read the
overview's charts, switch period and bucket, open a station, export a CSV and check it
against the API, acknowledge an alarm, switch language; a district operator sees only their
district. With YZ_CONSOLE_SCREENSHOTS=<dir> it also saves the screenshots of docs/console.md."""

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import (
    ADMIN_PASSWORD,
    DISTRICT,
    DISTRICT_PASSWORD,
    OTHER_DISTRICT_STATION,
    Faulty,
    Stack,
)
from tests.support.axe import assert_accessible
from tests.support.browser import chromium

pytestmark = pytest.mark.e2e

SCREENSHOTS = os.environ.get("YZ_CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _sign_in(browser: Browser, stack: Stack, username: str, password: str, **options: Any) -> Page:
    page = browser.new_page(accept_downloads=True, **options)
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")
    return page


def _points(page: Page, selector: str) -> int:
    element = page.locator(selector).first
    expect(element).to_have_attribute("data-points", re.compile(r"^\d+$"))
    return int(element.get_attribute("data-points") or 0)


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(800)  # chart animations settle
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def test_operator_reads_exports_and_acknowledges(
    browser: Browser, stack: Stack, admin: dict[str, str], faulty: Faulty
) -> None:
    page = _sign_in(
        browser, stack, "admin", ADMIN_PASSWORD, viewport={"width": 1280, "height": 900}
    )
    # The overview of the demo network: every chart has something to show.
    assert _points(page, "[data-chart=series][data-figure=visits]") > 0
    assert _points(page, "[data-chart=heatmap]") > 0
    assert _points(page, "[data-chart=ranking]") > 0
    assert page.locator("#table-stations tbody tr").count() >= 13
    assert_accessible(page)

    # Switch the period, then the bucket (each change submits the picker).
    page.select_option("#period", "30d")
    page.wait_for_url("**period=30d**")
    expect(page.locator("#bucket")).to_have_value("day")  # the period's default bucket
    assert page.locator("#table-series tbody tr").count() == 30
    page.select_option("#bucket", "week")
    page.wait_for_url("**bucket=week**")
    assert 5 <= page.locator("#table-series tbody tr").count() <= 6
    assert _points(page, "[data-chart=series][data-figure=visits]") > 0
    page.select_option("#period", "7d")
    page.wait_for_url("**period=7d**")
    _shot(page, "overview-zh.png")

    # Open a station from the ranking; its devices update live.
    page.locator("#table-stations tbody tr").first.locator("a").click()
    page.wait_for_url("**/console/stations/**")
    station_id = page.url.split("/console/stations/")[1].split("?")[0]
    # The demo's five devices of a station: charger, water, heater, counter, kiosk.
    expect(page.locator("#table-devices tbody tr")).to_have_count(5)
    expect(page.locator("#table-devices .online.is-online").first).to_be_visible()
    page.wait_for_function("Number(document.body.dataset.liveUpdates || 0) >= 1", timeout=20_000)
    _shot(page, "station-zh.png")

    # Export the station's series and check every closed bucket against the API.
    with page.expect_download() as download_info:
        page.locator("#charts-series-export, a.export[data-table=series]").first.click()
    raw = Path(download_info.value.path()).read_bytes()
    assert raw.startswith("\ufeff".encode())
    header, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[:2] == ["起始", "服务人次"]
    api = httpx.get(
        f"{stack.url('console')}/api/v1/console/stations/{station_id}",
        params={"period": "7d", "bucket": "day"},
        headers=admin,
    ).json()["tables"]["series"]["rows"]
    assert len(rows) == len(api) == 7
    for row, expected in list(zip(rows, api, strict=True))[:-1]:  # today is still filling
        assert row[0] == expected["start"]
        assert int(row[1]) == expected["visits"]
        assert float(row[3] or 0) == pytest.approx(expected["energy_kwh"], abs=0.001)

    # English is one tap away, and stays chosen.
    page.click("#lang-switch")
    expect(page.locator("header nav")).to_contain_text("Overview")
    expect(page.locator("#table-devices")).to_contain_text("Last seen")
    _shot(page, "station-en.png")
    page.goto(f"{stack.url('console')}/console/?period=7d")
    expect(page.locator("h2").first).to_contain_text("Overview")
    _shot(page, "overview-en.png")

    # Acknowledge the test station's alarm on the alarms page.
    page.goto(f"{stack.url('console')}/console/alarms")
    alarm = page.locator(f"#live-alarms tr:has-text('{faulty.device_id}')")
    expect(alarm).to_have_count(1, timeout=20_000)
    if alarm.locator("form.ack").count():
        alarm.locator("input[name=note]").fill("checked by browser test")
        alarm.locator("button").click()
        page.wait_for_url("**/console/alarms**")
    expect(page.locator(f"#live-alarms tr:has-text('{faulty.device_id}')")).to_contain_text("✓")
    page.close()


def test_district_operator_sees_only_their_district(
    browser: Browser, stack: Stack, district_operator: dict[str, str]
) -> None:
    # A phone-sized screen: the page must not scroll sideways (tables scroll in their box).
    page = _sign_in(
        browser, stack, "nanchuan", DISTRICT_PASSWORD, viewport={"width": 390, "height": 844}
    )
    districts = page.locator("#table-stations tbody td.district").all_inner_texts()
    assert districts
    assert set(districts) == {DISTRICT}
    assert page.evaluate("document.documentElement.scrollWidth") <= 392
    reply = page.goto(f"{stack.url('console')}/console/stations/{OTHER_DISTRICT_STATION}")
    assert reply is not None
    assert reply.status == 404
    page.goto(f"{stack.url('console')}/console/alarms")
    for cell in page.locator("#live-alarms tr[data-alarm] td:first-child a").all():
        assert (cell.get_attribute("href") or "").startswith("/console/stations/")
    page.close()
