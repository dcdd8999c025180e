"""Issue 15's acceptance in a real browser on a 390x844 phone in Chinese: a booking sends the
SMS with code and link (the dev SMS endpoint shows it), "my bookings" lists it after a code, a
waitlisted booking shows its place and no QR; a 24-hour station's page fits in about two
screens; name and phone are remembered only when the worker agrees; cancelling asks once,
without JavaScript too. Every page: axe-core clean, nothing from outside, at most 100 KB."""

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.bookings.conftest import Network, new_phone, tomorrow
from tests.bookings.test_confirmation_sms import sent
from tests.finder.test_finder_pages import MAX_PAGE_BYTES, PHONE_VIEWPORT
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

# "About two phone screens": the whole page of a station open round the clock.
SCREENS = 2


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _phone(browser: Browser, network: Network, **options: object) -> BrowserContext:
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        locale="zh-CN",
        base_url=network.bookings.base_url,
        is_mobile=True,
        has_touch=True,
        **options,  # type: ignore[arg-type]
    )
    context.set_default_timeout(10_000)
    return context


class Traffic:
    """Every host a page asks (form posts answer with redirects, which have no body to weigh:
    a page's weight is read from the browser's own timing entries instead, _page_bytes)."""

    def __init__(self, page: Page) -> None:
        self.hosts: set[str] = set()
        page.on("request", lambda r: self.hosts.add(urlparse(r.url).netloc))


def _checked(page: Page, traffic: Traffic, own: str) -> None:
    """The page as it is now: accessible, nothing loaded from another host."""
    assert_accessible(page)
    assert traffic.hosts <= {urlparse(own).netloc}, traffic.hosts


def _page_bytes(page: Page) -> int:
    """What the current document and the scripts it loads weigh."""
    size = page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].transferSize"
        " + performance.getEntriesByType('resource').reduce((a, r) => a + r.transferSize, 0)"
    )
    return int(size)


def _book(page: Page, network: Network, phone: str, name: str, *, remember: bool) -> str:
    """From a station's page with a choice made: phone, name, code; returns the booking code."""
    page.get_by_label("手机号").fill(phone)
    page.get_by_label("姓名或称呼").fill(name)
    if remember:
        page.get_by_label("在这台手机上记住我").check()
    page.get_by_role("button", name="获取短信验证码").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("输入验证码")
    page.get_by_label("6 位验证码").fill(network.last_otp(phone))
    page.get_by_role("button", name="确认预约").click()
    return page.locator(".code").inner_text().strip()


def test_book_sms_my_bookings_and_a_short_page(browser: Browser, network: Network) -> None:
    station = network.station(district="沙坪坝区")  # open round the clock
    network.point(station, name="山货直播点")
    network.forum_session(station, seats=5, starts_in=timedelta(days=3))
    own = network.bookings.base_url
    context = _phone(browser, network)
    page = context.new_page()
    traffic = Traffic(page)

    page.goto(f"/?station={station}&date={tomorrow().isoformat()}")
    # 48 half-hour starts, grouped by part of the day: the whole page in about two screens.
    expect(page.locator("details.part")).to_have_count(4)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= SCREENS * PHONE_VIEWPORT["height"], height
    expect(page.get_by_text("个人信息说明")).to_be_visible()
    assert _page_bytes(page) <= MAX_PAGE_BYTES
    _checked(page, traffic, own)

    page.get_by_text("下午（12–18 点）").click()
    page.get_by_label("14:00").check()
    phone = new_phone()
    code = _book(page, network, phone, "周师傅", remember=True)
    expect(page.get_by_role("heading", level=1)).to_have_text("预约成功")
    expect(page.get_by_role("img", name=f"预约码 {code} 的二维码")).to_be_visible()
    expect(page.get_by_role("link", name="加入手机日历（.ics）")).to_be_visible()
    assert _page_bytes(page) <= MAX_PAGE_BYTES
    _checked(page, traffic, own)

    # The SMS with the code and the link, at the dev SMS endpoint; the link opens the booking.
    wait_until(lambda: any(code in m["text"] for m in sent(network, phone)), 10)
    text = next(m["text"] for m in sent(network, phone) if code in m["text"])
    link = text[text.index("http") :].split()[0]
    page.goto(link)
    expect(page.locator(".code")).to_have_text(code)

    # My bookings, after a code.
    page.get_by_role("link", name="我的预约").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的预约")
    _checked(page, traffic, own)
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="获取短信验证码").click()
    page.get_by_label("6 位验证码").fill(network.last_otp(phone))
    _checked(page, traffic, own)
    page.get_by_role("button", name="查看我的预约").click()
    mine = page.get_by_role("link", name=code)
    expect(mine).to_be_visible()
    expect(mine).to_contain_text("山货直播点")
    assert _page_bytes(page) <= MAX_PAGE_BYTES
    _checked(page, traffic, own)
    page.get_by_role("button", name="删除我的手机号和姓名").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("确定删除你的信息吗？")
    _checked(page, traffic, own)
    page.get_by_role("link", name="不删除，返回").click()

    # Name and phone were remembered on this phone, because the worker agreed.
    page.goto(f"/?station={station}&date={tomorrow().isoformat()}")
    expect(page.get_by_label("手机号")).to_have_value(phone)
    expect(page.get_by_label("姓名或称呼")).to_have_value("周师傅")

    # Cancelling asks once.
    page.goto(link)
    page.get_by_role("button", name="取消这个预约").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("确定取消这个预约吗？")
    _checked(page, traffic, own)
    page.get_by_role("button", name="确定取消").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("预约已取消")
    context.close()


def test_waitlisted_shows_its_place_and_no_qr_without_javascript(
    browser: Browser, network: Network
) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=1, starts_in=timedelta(days=2))
    assert network.book({"forum_session_id": session_id}).json()["status"] == "confirmed"
    context = _phone(browser, network, java_script_enabled=False)
    page = context.new_page()
    traffic = Traffic(page)
    page.goto(f"/?station={station}")
    # Without JavaScript nothing is remembered: the box is not even offered.
    expect(page.get_by_label("在这台手机上记住我")).to_be_hidden()
    page.get_by_label("骑手停车难", exact=False).check()
    _book(page, network, new_phone(), "吴大姐", remember=False)
    expect(page.get_by_role("heading", level=1)).to_have_text("已排上候补")
    expect(page.locator("#waitlist-position")).to_contain_text("你在候补队伍第 1 位")
    expect(page.locator(".qr")).to_have_count(0)
    assert page.locator("svg").count() == 0
    assert traffic.hosts == {urlparse(network.bookings.base_url).netloc}
    # axe-core runs as a script in the page: the same page, checked where scripts run.
    with_js = _phone(browser, network)
    seen = with_js.new_page()
    seen.goto(page.url)
    expect(seen.locator("#waitlist-position")).to_be_visible()
    assert_accessible(seen)
    assert _page_bytes(seen) <= MAX_PAGE_BYTES
    with_js.close()

    # Cancel asks once without JavaScript too; "keep" leaves it as it was.
    page.get_by_role("button", name="取消这个预约").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("确定取消这个预约吗？")
    page.get_by_role("link", name="不取消，返回预约").click()
    expect(page.locator("#booking-status")).to_have_text("候补中")
    page.get_by_role("button", name="取消这个预约").click()
    page.get_by_role("button", name="确定取消").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("预约已取消")
    context.close()
