"""Issue 15, item 3: feedback at the station. The kiosk's QR code opens a one-screen form (no
login) in a phone's browser; what is sent reaches that station's operators (scoped by
district) with the station's quality score; a client sending too many is slowed down."""

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.bookings.conftest import Network
from tests.finder.test_finder_pages import MAX_PAGE_BYTES, PHONE_VIEWPORT
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from tests.support.operators import create_operator, login
from yizhan.bookings.feedback import quality_score

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _send(network: Network, station: str, **form: object) -> httpx.Response:
    return httpx.post(f"{network.bookings.base_url}/f/{station}", data=form, timeout=15)


def test_the_kiosk_qr_opens_a_one_screen_form(browser: Browser, network: Network) -> None:
    station = network.station(district="大渡口区")
    qr = httpx.get(f"{network.bookings.base_url}/f/{station}/qr.svg")
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    context = browser.new_context(
        viewport=PHONE_VIEWPORT, locale="zh-CN", base_url=network.bookings.base_url, is_mobile=True
    )
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    page.goto(f"/f/{station}")
    expect(page.get_by_role("heading", level=1)).to_have_text("给驿站提意见")
    # One screen: the whole form without scrolling.
    assert page.evaluate("document.documentElement.scrollHeight") <= PHONE_VIEWPORT["height"]
    assert_accessible(page)
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#error-summary")).to_contain_text("请选一个分数")
    page.get_by_label("2 差").check()
    page.get_by_label("没有水").check()
    page.get_by_label("想说的话（可不填）").fill("饮水机没热水")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("status")).to_contain_text("谢谢")
    assert_accessible(page)
    size = page.evaluate("performance.getEntriesByType('navigation')[0].transferSize")
    assert size <= MAX_PAGE_BYTES
    assert hosts == {urlparse(network.bookings.base_url).netloc}
    context.close()
    assert network.sql(
        "SELECT rating, problems, text FROM station_feedback WHERE station_id = %s", station
    ) == [(2, ["no_water"], "饮水机没热水")]


def test_operators_of_the_district_see_it_with_the_quality_score(
    network: Network, stations_db: str
) -> None:
    station = network.station(district="璧山区")
    elsewhere = network.station(district="铜梁区")
    for rating, problems in ((5, []), (1, ["locked", "dirty"]), (2, ["locked"])):
        assert _send(network, station, rating=rating, problems=problems).status_code == 200
    assert _send(network, elsewhere, rating=4).status_code == 200
    bad = _send(network, station, rating=9, problems=["on_fire"])
    assert bad.status_code == 422
    assert "请从列表中选择问题" in bad.text
    assert _send(network, "no-such-station", rating=3).status_code == 404

    create_operator(stations_db, "bishan", "bishan-password-123", "district", "璧山区")
    token = login(network.stations, "bishan", "bishan-password-123")
    api = httpx.Client(
        base_url=network.bookings.base_url, headers={"Authorization": f"Bearer {token}"}
    )
    seen = api.get(f"/api/v1/stations/{station}/feedback")
    assert seen.status_code == 200, seen.text
    quality = seen.json()["quality"]
    # 100 × ((4 + 0 + 1) / 4 + 5 × 0.5) / (3 + 5) = 46.9
    assert quality["score"] == quality_score([5, 1, 2]) == 47
    assert quality["count"] == 3
    assert quality["average_rating"] == 2.7
    assert quality["problems"] == {
        "locked": 2,
        "no_water": 0,
        "charger_broken": 0,
        "dirty": 1,
        "other": 0,
    }
    assert [i["rating"] for i in seen.json()["items"]] == [2, 1, 5]
    # Another district's station is not theirs: absent, as everywhere in the API.
    assert api.get(f"/api/v1/stations/{elsewhere}/feedback").status_code == 404
    ranked = api.get("/api/v1/feedback/quality").json()["items"]
    assert station in [q["station_id"] for q in ranked]
    assert elsewhere not in [q["station_id"] for q in ranked]
    assert httpx.get(f"{network.bookings.base_url}/api/v1/feedback/quality").status_code == 401


def test_score_is_pulled_toward_the_middle_by_few_ratings() -> None:
    assert quality_score([]) is None
    assert quality_score([5]) == 58  # one delighted visitor is not a perfect station
    assert quality_score([1]) == 42
    assert quality_score([5] * 95) == 98
    assert quality_score([3] * 10) == 50


def test_a_client_sending_too_many_is_slowed_down(network: Network) -> None:
    station = network.station()

    def stored() -> int:
        rows = network.sql("SELECT count(*) FROM station_feedback WHERE station_id = %s", station)
        return int(rows[0][0])

    answers = [_send(network, station, rating=3) for _ in range(9)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert int(refused[0].headers["retry-after"]) > 0
    assert "提交太频繁" in refused[0].text
    assert stored() == sum(1 for a in answers if a.status_code == 200)
