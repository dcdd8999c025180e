"""The worker web form, driven like a browser without JavaScript: plain GETs and POSTs."""

import html
import re

import httpx
import pytest

from tests.bookings.conftest import Network, new_phone, tomorrow

pytestmark = pytest.mark.integration


def _hidden(page: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in pairs}


def _slot_values(page: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(r'name="slot" value="([^"]+)"', page)]


@pytest.fixture
def browser(network: Network) -> httpx.Client:
    return httpx.Client(base_url=network.bookings.base_url, follow_redirects=False, timeout=15)


def test_book_view_and_cancel_through_the_form(network: Network, browser: httpx.Client) -> None:
    station = network.station()
    network.point(station, name="茶叶直播点")

    home = browser.get("/")
    assert home.status_code == 200
    assert 'lang="zh-CN"' in home.text
    assert f'value="{station}"' in home.text

    day = tomorrow().isoformat()
    listing = browser.get("/", params={"station": station, "date": day})
    assert listing.status_code == 200
    assert "茶叶直播点" in listing.text
    slots = _slot_values(listing.text)
    assert slots
    assert '<label for="phone">' in listing.text

    phone = new_phone()
    form = {"station": station, "date": day, "slot": slots[0], "phone": phone, "name": "王大姐"}
    confirm = browser.post("/book/code", data=form)
    assert confirm.status_code == 200, confirm.text
    assert 'autocomplete="one-time-code"' in confirm.text
    assert "/api/v1/dev/otp" in confirm.text  # the development hint
    hidden = _hidden(confirm.text)
    assert hidden["slot"] == slots[0]
    assert hidden["key"]

    otp = network.last_otp(phone)
    # "Resend" right away: too soon, and the worker stays on the page that asks for the code.
    resend = browser.post("/book/code", data=hidden)
    assert resend.status_code == 429
    assert "验证码发送太频繁" in resend.text
    assert _hidden(resend.text)["key"] == hidden["key"]

    wrong = browser.post("/book/confirm", data={**hidden, "otp": "00000" + "x"})
    assert wrong.status_code == 422
    assert "验证码是 6 位数字" in wrong.text
    assert 'href="#otp"' in wrong.text

    done = browser.post("/book/confirm", data={**hidden, "otp": otp})
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    assert location.startswith("/b/")
    # A double submit of the same form finds the same booking.
    twice = browser.post("/book/confirm", data={**hidden, "otp": otp})
    assert twice.headers["location"] == location

    page = browser.get(location)
    assert page.status_code == 200
    code = location.split("/")[2].split("?")[0]
    assert code in page.text
    assert "预约成功" in page.text
    assert "已确认" in page.text

    # The slot is gone from the form.
    assert slots[0] not in _slot_values(
        browser.get("/", params={"station": station, "date": day}).text
    )

    token = _hidden(page.text)["token"]
    cancelled = browser.post(f"/b/{code}/cancel", data={"token": token})
    assert cancelled.status_code == 303
    after = browser.get(cancelled.headers["location"])
    assert "预约已取消" in after.text
    assert "取消这个预约" not in after.text


def test_form_errors_are_summarised_at_the_top(network: Network, browser: httpx.Client) -> None:
    station = network.station()
    network.point(station)
    day = tomorrow().isoformat()
    page = browser.post(
        "/book/code", data={"station": station, "date": day, "phone": "12345", "name": ""}
    )
    assert page.status_code == 422
    summary = page.text.index("error-summary")
    assert summary < page.text.index('id="phone"')
    for anchor in ('href="#slot"', 'href="#phone"', 'href="#name"'):
        assert anchor in page.text
    assert 'aria-invalid="true"' in page.text
    # What was typed is kept.
    assert 'value="12345"' in page.text


def test_a_slot_taken_meanwhile_sends_the_worker_back_to_choose(
    network: Network, browser: httpx.Client
) -> None:
    station = network.station()
    point = network.point(station)
    day = tomorrow().isoformat()
    slot = _slot_values(browser.get("/", params={"station": station, "date": day}).text)[0]
    phone = new_phone()
    form = {"station": station, "date": day, "slot": slot, "phone": phone, "name": "张"}
    hidden = _hidden(browser.post("/book/code", data=form).text)
    otp = network.last_otp(phone)

    free = next(s for s in network.slots(point, tomorrow()) if s["available"])
    taken = network.book({"livestream_point_id": point, "start": free["start"], "end": free["end"]})
    assert taken.status_code == 201

    page = browser.post("/book/confirm", data={**hidden, "otp": otp})
    assert page.status_code == 409
    assert "这个时段刚被别人约走了" in page.text
    assert 'name="slot"' in page.text


def test_unknown_booking_page_is_404(browser: httpx.Client) -> None:
    assert browser.get("/b/ZZZZZZZZ", params={"token": "nope"}).status_code == 404
