"""Issue 15, item 1, end to end: a kiosk's messages through the real broker and telemetry
show on the finder's station page (what a worker reads) within 5 s: a charger's charge.start
as in use, a water fault as water not working, and three minutes of silence as unknown
(time is driven: the devices' last_seen is moved back 4 minutes in telemetry's database,
as tests/finder/test_public_api.py does for the API). Search finds stations by Chinese,
pinyin (full or initials) and English names and addresses."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.finder.test_finder_pages import phone
from tests.finder.test_public_api import WITHIN_SECONDS, Device, find, find_any, new_station
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from tests.support.mqtt import Kiosk, unique
from tests.support.services import RunningService, RunningTelemetry
from tests.support.waiting import wait_until
from yizhan.common.db import libpq_dsn

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def shows_within(page: Page, text: str) -> float:
    """Seconds until the station page, reloaded as a worker would, shows `text` (at most 5)."""
    start = time.monotonic()

    def shown() -> bool:
        page.reload()
        return text in page.locator("main").inner_text()

    wait_until(shown, WITHIN_SECONDS)
    return time.monotonic() - start


def test_the_station_page_follows_its_devices(
    browser: Browser,
    finder_bookings: RunningService,
    finder_telemetry: RunningTelemetry,
    finder_telemetry_db: str,
    registry: httpx.Client,
    kiosk: Kiosk,
) -> None:
    station = new_station(registry, 29.5570, 106.5770)
    wait_until(lambda: find_any(finder_bookings, station), 10)
    charger = Device(kiosk, station, f"{station}-c")
    water = Device(kiosk, station, f"{station}-w")
    charger.online()
    water.online()
    context = phone(browser, finder_bookings.base_url)
    page = context.new_page()
    page.goto(f"/stations/{station}")
    shows_within(page, "充电桩：1 空闲 / 0 使用中 / 0 故障")

    charger.event("charge.start", session="s1", connector=1)
    shows_within(page, "充电桩：0 空闲 / 1 使用中 / 0 故障")
    assert find(finder_bookings, station)["availability"]["chargers"]["in_use"] == 1
    assert_accessible(page)

    water.event("fault", code="PUMP", severity="critical")
    shows_within(page, "饮水机：暂不能用（0/1 可用）")
    assert find(finder_bookings, station)["availability"]["water"]["working"] == 0

    # Three minutes (and more) without a word from the station's devices.
    with psycopg.connect(libpq_dsn(finder_telemetry_db), autocommit=True) as db:
        db.execute(
            "UPDATE device_state SET last_seen = last_seen - interval '4 minutes'"
            " WHERE station_id = %s",
            (station,),
        )
    shows_within(page, "设备情况未知（近 3 分钟没有消息）")
    expect(page.get_by_text("不确定是否开放")).to_be_visible()
    assert find(finder_bookings, station)["availability"]["status"] == "unknown"
    expect(page.get_by_role("listitem").filter(has_text="饮水")).to_have_count(1)  # amenity named

    # The week's hours and the amenities in the worker's language, one tap away.
    page.locator("header a.lang").click()
    expect(page.get_by_role("heading", name="Opening hours this week")).to_be_visible()
    hours = page.locator("main dl").last.inner_text()
    assert any(day in hours for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    expect(page.get_by_text("Drinking water", exact=True)).to_be_visible()
    context.close()


@pytest.mark.parametrize(
    "query",
    ["磁器口", "ciqikou", "Ci Qi Kou", "cqk", "Ciqikou Old Town", "金蓉正街", "jinrongzhengjie"],
)
def test_search_in_chinese_pinyin_and_english(
    finder_bookings: RunningService, registry: httpx.Client, query: str
) -> None:
    station = _ciqikou_station(registry)

    def found(**params: Any) -> list[str]:
        reply = httpx.get(
            f"{finder_bookings.base_url}/api/v1/public/stations",
            params={"district": station["district"], **params},
        )
        assert reply.status_code == 200, reply.text
        return [i["id"] for i in reply.json()["items"]]

    # Pinyin is built in the background once stations are loaded: give it a moment.
    wait_until(lambda: found(q=query) == [station["id"]], 15)
    assert found(q="jiefangbei") == []
    page = httpx.get(f"{finder_bookings.base_url}/stations", params={"q": query})
    assert f"/stations/{station['id']}" in page.text


_made: dict[str, dict[str, str]] = {}


def _ciqikou_station(registry: httpx.Client) -> dict[str, str]:
    """One station for the parametrized searches (made on first use)."""
    if "s" not in _made:
        district = unique("沙坪坝区")
        station_id = new_station(
            registry,
            29.5790,
            106.4470,
            district=district,
            address="沙坪坝区磁器口金蓉正街1号",
            name={"zh": "磁器口驿站", "en": "Ciqikou Old Town Station"},
        )
        _made["s"] = {"id": station_id, "district": district}
    return _made["s"]
