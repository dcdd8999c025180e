"""The station finder pages in a real browser on a 390x844 phone in Chinese: nearest first with
the worker's location, by district without JavaScript, the station page with its directions;
nothing loaded from outside, at most 100 KB."""

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.finder.test_public_api import Device, find, find_any, new_station
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from tests.support.mqtt import Kiosk, unique
from tests.support.services import RunningService, RunningTelemetry
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
MAX_PAGE_BYTES = 100 * 1024


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def phone(browser: Browser, base_url: str, **options: object) -> BrowserContext:
    """A phone-sized context in Chinese."""
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        locale="zh-CN",
        base_url=base_url,
        is_mobile=True,
        has_touch=True,
        **options,  # type: ignore[arg-type]
    )
    context.set_default_timeout(10_000)
    return context


class Traffic:
    """Every request a page makes and the bytes it received."""

    def __init__(self, page: Page) -> None:
        self.hosts: set[str] = set()
        self.bytes = 0
        page.on("request", lambda r: self.hosts.add(urlparse(r.url).netloc))
        page.on("response", self._count)

    def _count(self, response: object) -> None:
        body = response.body()  # type: ignore[attr-defined]
        self.bytes += len(body)


def test_nearest_station_with_its_directions(
    browser: Browser,
    finder_bookings: RunningService,
    finder_telemetry: RunningTelemetry,
    registry: httpx.Client,
    kiosk: Kiosk,
) -> None:
    district = unique("江北区")
    near = new_station(registry, 10.0010, 100.0010, district=district)
    far = new_station(registry, 10.0500, 100.0500, district=district)
    for station in (near, far):
        Device(kiosk, station, f"{station}-c").online()
    # Polled with find_any first: a station made just after the finder's last look at the
    # registry is not in its answer until the next look (find would fail at once).
    wait_until(
        lambda: (
            find_any(finder_bookings, near)
            and find(finder_bookings, near)["availability"]["status"] == "live"
        ),
        15,
    )

    context = phone(
        browser,
        finder_bookings.base_url,
        geolocation={"latitude": 10.0, "longitude": 100.0},
        permissions=["geolocation"],
    )
    page = context.new_page()
    traffic = Traffic(page)
    page.goto("/stations")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="按离我最近排序").click()
    page.wait_for_url("**/stations?lat=*")
    links = page.locator("ul.stations a")
    expect(links.first).to_contain_text(f"驿站{near}")
    expect(links.first).to_contain_text("米")
    expect(links.first).to_contain_text("充电桩：1 空闲")
    links.first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"驿站{near}")
    expect(page.get_by_text("开放中")).to_be_visible()
    geo = page.get_by_role("link", name="用手机地图打开")
    assert (geo.get_attribute("href") or "").startswith("geo:10.001,100.001")
    expect(page.get_by_text("未来一周开放时间")).to_be_visible()
    assert_accessible(page)
    assert traffic.hosts == {urlparse(finder_bookings.base_url).netloc}
    assert traffic.bytes <= MAX_PAGE_BYTES * 3  # three pages: list, sorted list, station
    context.close()


def test_by_district_without_javascript(
    browser: Browser, finder_bookings: RunningService, registry: httpx.Client
) -> None:
    district = unique("渝北区")
    station = new_station(registry, 29.71, 106.63, district=district)
    wait_until(lambda: find_any(finder_bookings, station), 15)

    context = phone(browser, finder_bookings.base_url, java_script_enabled=False)
    page = context.new_page()
    traffic = Traffic(page)
    page.goto("/stations")
    page.get_by_label("区县").select_option(district)
    page.get_by_role("button", name="查找驿站").click()
    expect(page.locator("ul.stations a")).to_have_count(1)
    page.get_by_role("link", name=f"驿站{station}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"驿站{station}")
    expect(page.get_by_text("解放碑步行街1号")).to_be_visible()
    assert page.get_by_role("link", name="高德地图").count() == 1
    assert traffic.hosts == {urlparse(finder_bookings.base_url).netloc}
    assert traffic.bytes <= MAX_PAGE_BYTES * 3
    context.close()
