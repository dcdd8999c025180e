"""The booking form in a real browser (Debian's Chromium driven by Playwright), on a phone-sized
screen in Chinese: find a station, pick a slot, mistype the phone, fix it, book, cancel."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.bookings.conftest import Network, new_phone
from tests.support.browser import chromium

pytestmark = pytest.mark.integration

PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, network: Network) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        locale="zh-CN",
        base_url=network.bookings.base_url,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_book_and_cancel_on_a_phone(page: Page, network: Network, workdir: Path) -> None:
    station = network.station(district="南川区")
    network.point(station, name="茶叶直播点")

    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_label("驿站名称或地址").fill(station[-6:])
    page.get_by_role("button", name="查找驿站").click()
    page.get_by_role("link", name=f"驿站{station}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"驿站{station}")

    # A station open round the clock: its starts folded by part of the day.
    first_part = page.locator("details.part").first
    if first_part.get_attribute("open") is None:
        first_part.locator("summary").click()
    page.locator(".slots .choice").first.click()
    page.get_by_label("手机号").fill("12345")
    page.get_by_label("姓名或称呼").fill("王师傅")
    page.get_by_role("button", name="获取短信验证码").click()

    # The error summary is at the top, has the focus, and its link leads to the field.
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("请输入 11 位中国大陆手机号")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("手机号")).to_be_focused()
    expect(page.get_by_label("手机号")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(workdir / "browser-error-summary.png"), full_page=True)

    phone = new_phone()
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("输入验证码")
    page.get_by_label("6 位验证码").fill(network.last_otp(phone))
    page.get_by_role("button", name="确认预约").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("预约成功")
    code = page.locator(".code").inner_text().strip()
    assert len(code) == 8
    expect(page.get_by_role("img", name=f"预约码 {code} 的二维码")).to_be_visible()
    expect(page.locator("#booking-status")).to_have_text("已确认")
    page.screenshot(path=str(workdir / "browser-booked.png"), full_page=True)

    page.get_by_role("button", name="取消这个预约").click()
    # Cancelling asks once (issue 15).
    expect(page.get_by_role("heading", level=1)).to_have_text("确定取消这个预约吗？")
    page.get_by_role("button", name="确定取消").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("预约已取消")
    expect(page.get_by_role("button", name="取消这个预约")).to_have_count(0)
