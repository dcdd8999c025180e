"""Stored XSS, district operator → admin (issue 9, hole 1): a station named with script (in
a script context and in an attribute context) is shown as text in the admin's console and
never runs; every page carries a strict Content-Security-Policy."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, sync_playwright

from tests.security.conftest import DISTRICT_A, PASSWORD, Network, unique

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]
SCRIPT_CONTEXT = "</script><script>alert(1)</script>"
ATTRIBUTE_CONTEXT = '"\' autofocus onfocus=alert(2) x="<img src=x onerror=alert(3)>'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_a_station_name_never_runs_as_script_in_the_admins_console(
    network: Network, browser: Browser
) -> None:
    names = {}
    with network.client(network.stations, "district") as district:
        for payload in (SCRIPT_CONTEXT, ATTRIBUTE_CONTEXT):
            # Stations without visits rank by id: a leading 0 puts these among the charted.
            station_id = unique("0XSS")
            reply = district.post(
                "/api/v1/stations",
                json={
                    "id": station_id,
                    "name": {"zh": payload, "en": payload},
                    "district": DISTRICT_A,
                    "address": payload,
                },
            )
            assert reply.status_code == 201, reply.text
            names[station_id] = payload

    page = browser.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{network.console.base_url}/console/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")
    page.wait_for_load_state("networkidle")
    for station_id in names:
        page.goto(f"{network.console.base_url}/console/stations/{station_id}")
        page.wait_for_load_state("networkidle")
    overview = page.goto(f"{network.console.base_url}/console/")
    assert overview is not None
    assert "script-src 'self'" in overview.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert dialogs == []
    # The names are there, as text: in the table and in the charts' data.
    ranking = page.locator("table[data-table=stations]").inner_text()
    assert SCRIPT_CONTEXT in ranking
    charted = page.evaluate("() => JSON.parse(document.getElementById('chart-data').textContent)")
    assert SCRIPT_CONTEXT in charted["ranking"]["names"]
    assert ATTRIBUTE_CONTEXT in charted["ranking"]["names"]
    page.close()


def test_every_page_and_api_carries_the_security_headers(network: Network) -> None:
    answers = [
        httpx.get(f"{network.console.base_url}/console/login"),
        httpx.get(f"{network.stations.base_url}/api/v1/stations"),
        httpx.get(f"{network.telemetry.base_url}/healthz"),
        httpx.get(f"{network.bookings.base_url}/"),
        httpx.get(f"{network.bookings.base_url}/api/v1/public/stations"),
    ]
    for reply in answers:
        policy = reply.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, reply.url
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "same-origin"
