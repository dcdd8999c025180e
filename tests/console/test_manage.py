"""Management in the console, in a real browser (Chromium, zh): a district operator creates a
station (field errors first), registers a kiosk, reads its one-time credentials, and the
kiosk publishes with them; its fault shows on the alarms page without reloading; forms posted
from another site are refused."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.console.conftest import DISTRICT, DISTRICT_PASSWORD, Stack, publish, wait_until
from tests.support.browser import chromium

pytestmark = pytest.mark.e2e

STATION = "MGT-0001"
DEVICE = "MGT-0001-K1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def test_district_operator_creates_a_station_and_a_kiosk(
    browser: Browser, stack: Stack, district_operator: dict[str, str]
) -> None:
    page = browser.new_page()
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", "nanchuan")
    page.fill("#password", DISTRICT_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")

    page.click("text=新建驿站")
    page.wait_for_url("**/console/manage/stations/new")
    expect(page.locator("#district")).to_have_value(DISTRICT)
    # Bad input: each field says what is wrong, the rest is kept.
    page.fill("#id", STATION)
    page.fill("#name_zh", "管理测试驿站")
    page.fill("#latitude", "北纬")
    page.fill("#district", "别的区")
    page.click("form.manage button[type=submit]")
    expect(page.locator("#latitude-error")).to_have_text("请输入数字")
    page.fill("#latitude", "29.1")
    page.click("form.manage button[type=submit]")
    expect(page.locator("#name_en-error")).to_be_visible()
    expect(page.locator("#name_zh")).to_have_value("管理测试驿站")
    # A district outside one's own is that field's error.
    page.fill("#name_en", "Management test station")
    page.click("form.manage button[type=submit]")
    expect(page.locator("#district-error")).to_have_text("无权进行此操作")

    page.fill("#district", DISTRICT)
    page.fill("#longitude", "107.1")
    page.click("form.manage button[type=submit]")
    page.wait_for_url(f"**/console/manage/stations/{STATION}/devices/new?created=1")
    expect(page.locator("[role=status]")).to_have_text("驿站已创建")

    page.fill("#id", DEVICE)
    page.select_option("#kind", "kiosk")
    page.click("form.manage button[type=submit]")
    expect(page.locator(".credentials-card .cred-device")).to_have_text(DEVICE)
    username = page.locator(".credentials-card .cred-username").inner_text().strip()
    password = page.locator(".credentials-card .cred-password").inner_text().strip()
    assert len(password) >= 16

    # Stations has both, audited as the operator's, in the operator's district.
    stations = stack.url("stations")
    station = httpx.get(f"{stations}/api/v1/stations/{STATION}", headers=district_operator)
    assert station.status_code == 200, station.text
    assert (station.json()["district"], station.json()["latitude"]) == (DISTRICT, 29.1)
    device = httpx.get(
        f"{stations}/api/v1/stations/{STATION}/devices/{DEVICE}", headers=district_operator
    )
    assert device.json()["kind"] == "kiosk"

    # The kiosk publishes with the credentials shown, and the figure appears.
    now = datetime.now(UTC)
    event = {"v": 1, "seq": 1, "ts": now.isoformat(), "type": "visit", "count": 3}
    topic = f"yz/v1/st/{STATION}/dev/{DEVICE}/event"

    def visits() -> int:
        try:
            publish(stack, topic, json.dumps(event), username, password)
        except Exception:  # the broker learns of the account within moments
            return 0
        reply = httpx.get(
            f"{stack.url('telemetry')}/api/v1/usage",
            params={
                "scope": f"station:{STATION}",
                "from": (now - timedelta(hours=1)).isoformat(),
                "to": (now + timedelta(hours=1)).isoformat(),
                "bucket": "day",
            },
            headers=district_operator,
        )
        return int(reply.json()["totals"]["visits"])

    assert wait_until(lambda: visits() == 3)

    # A fault appears on the alarms page without reloading it (server-sent events).
    page.goto(f"{stack.url('console')}/console/alarms")
    page.evaluate("window.notReloaded = true")
    fault = {
        "v": 1,
        "seq": 2,
        "ts": datetime.now(UTC).isoformat(),
        "type": "fault",
        "code": "SCREEN",
        "severity": "critical",
    }
    publish(stack, topic, json.dumps(fault), username, password)

    def alarm_codes() -> list[str]:
        reply = httpx.get(
            f"{stack.url('telemetry')}/api/v1/stations/{STATION}/devices/state",
            headers=district_operator,
        )
        return [a["code"] for d in reply.json()["items"] for a in d["alarms"]]

    # Telemetry has it at once; the page follows without a reload.
    assert wait_until(lambda: "SCREEN" in alarm_codes())
    expect(page.locator(f"#live-alarms tr:has-text('{DEVICE}')")).to_contain_text(
        "SCREEN", timeout=20_000
    )
    assert page.evaluate("window.notReloaded === true")

    # A form posted from another site is refused, even with the session cookie.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(
        f"{stack.url('console')}/console/manage/stations",
        data={"id": "MGT-EVIL", "name_zh": "x", "name_en": "x", "district": DISTRICT},
        cookies=cookies,
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    missing = httpx.get(f"{stations}/api/v1/stations/MGT-EVIL", headers=district_operator)
    assert missing.status_code == 404
    page.close()
