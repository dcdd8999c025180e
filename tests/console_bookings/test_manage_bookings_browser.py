"""Bookings-side management in a real browser (Chromium, zh, no script needed): a district
operator goes from the station page to its points and sessions, adds a point (a field error
first), edits it, schedules and edits a session, records an opinion raised in the room,
groups it under a measure and moves it on; axe-core finds no WCAG 2.1 AA violation on any of
these pages, and English is one tap away."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console_bookings.conftest import DISTRICT, DISTRICT_PASSWORD, Desk
from tests.support.axe import assert_accessible
from tests.support.browser import chromium

pytestmark = pytest.mark.integration

STATION = "BKB-0001"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def station(stack: Desk, admin: dict[str, str]) -> str:
    """A station of the district operator's district, for this module alone."""
    body = {"id": STATION, "name": {"zh": "浏览器测试驿站", "en": "Browser desk"}}
    reply = httpx.post(
        f"{stack.url('stations')}/api/v1/stations",
        json={**body, "district": DISTRICT},
        headers=admin,
    )
    assert reply.status_code == 201, reply.text
    return STATION


def _sign_in(page: Page, stack: Desk) -> None:
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", "nanchuan")
    page.fill("#password", DISTRICT_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")


def test_district_operator_manages_bookings_in_the_browser(
    browser: Browser, stack: Desk, station: str, district_operator: dict[str, str]
) -> None:
    # These pages carry no script; axe-core itself needs one to run.
    page = browser.new_page()
    _sign_in(page, stack)
    page.goto(f"{stack.url('console')}/console/stations/{station}")
    page.click("text=直播点与议事会")
    page.wait_for_url(f"**/console/manage/stations/{station}/bookings")
    expect(page.locator("h2")).to_contain_text("直播点与议事会")
    assert_accessible(page)

    # A point: a field error first (shown, described, accessible), then added.
    page.fill("#point-name", "助农直播间")
    page.fill("#point-slot_minutes", "半小时")
    page.click("#new-point button[type=submit]")
    expect(page.locator("#point-slot_minutes-error")).to_have_text("请输入整数")
    expect(page.locator("#point-name")).to_have_value("助农直播间")
    assert_accessible(page)
    page.fill("#point-slot_minutes", "30")
    page.click("#new-point button[type=submit]")
    expect(page.locator("[role=status]")).to_have_text("直播点已新增")
    expect(page.locator("#points tbody tr")).to_have_count(1)

    page.click("#points a:has-text('修改')")
    expect(page.locator("#edit-point")).to_be_visible()
    assert_accessible(page)
    page.fill("#point-name", "助农直播间（二号）")
    page.click("#edit-point button[type=submit]")
    expect(page.locator("[role=status]")).to_have_text("直播点已保存")
    expect(page.locator("#points")).to_contain_text("助农直播间（二号）")

    # A session, then its edit page.
    start = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    start += timedelta(days=2)
    page.fill("#session-topic", "骑手安全议事会")
    page.select_option("#session-kind", "forum")
    page.fill("#session-start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#session-end", (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#session-seats", "25")
    page.click("#new-session button[type=submit]")
    expect(page.locator("[role=status]")).to_have_text("场次已新增")
    page.click("#sessions a:has-text('修改')")
    expect(page.locator("#edit-session")).to_be_visible()
    assert_accessible(page)
    page.fill("#session-seats", "30")
    page.click("#edit-session button[type=submit]")
    expect(page.locator("#sessions")).to_contain_text("30")
    expect(page.locator("#audit tbody tr")).to_have_count(4)

    # Opinions: record one raised in the room, group it under a measure, move it on.
    page.click("nav.subnav >> text=意见与改进措施")
    page.wait_for_url(f"**/console/manage/stations/{station}/opinions")
    assert_accessible(page)
    page.select_option("#record-forum_session_id", index=1)
    page.select_option("#record-category", "rest_space")
    page.fill("#record-text", "夏天需要有空调的休息点")
    page.click("#record-opinion button[type=submit]")
    expect(page.locator("[role=status]")).to_have_text("意见已记录")
    page.check("#opinions tbody input[type=checkbox]")
    page.fill("#group-text", "驿站加装空调")
    page.click("#group-opinions button[type=submit]")
    expect(page.locator("[role=status]")).to_have_text("意见已归入改进措施")
    expect(page.locator("#measures tbody")).to_contain_text("驿站加装空调")
    page.click("form.move button[type=submit]")
    expect(page.locator("#opinions td.status")).to_have_text("办理中")
    assert_accessible(page)

    page.click("#lang-switch")
    expect(page.locator("h2")).to_contain_text("Opinions & measures")
    expect(page.locator("#opinions td.status")).to_have_text("In progress")
    assert_accessible(page)
    page.close()
