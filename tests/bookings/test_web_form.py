"""The worker web form, driven like a browser without JavaScript: plain GETs and POSTs."""

import html
import re
from datetime import timedelta

import httpx
import pytest
from icalendar import Calendar

from tests.bookings.conftest import Network, new_phone, tomorrow

pytestmark = pytest.mark.integration


def _hidden(page: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in pairs}


def _choices(page: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(r'name="choice" value="([^"]+)"', page)]


@pytest.fixture
def browser(network: Network) -> httpx.Client:
    return httpx.Client(base_url=network.bookings.base_url, follow_redirects=False, timeout=15)


def test_find_book_view_and_cancel_a_slot(network: Network, browser: httpx.Client) -> None:
    station = network.station(district="南川区")
    network.point(station, name="茶叶直播点")

    home = browser.get("/")
    assert home.status_code == 200
    assert 'lang="zh-CN"' in home.text
    assert f"/?station={station}" in home.text
    found = browser.get("/", params={"q": station[-6:], "district": "南川区"})
    assert f"/?station={station}" in found.text
    assert f"/?station={station}" not in browser.get("/", params={"q": "不存在的驿站"}).text

    day = tomorrow().isoformat()
    listing = browser.get("/", params={"station": station, "date": day})
    assert listing.status_code == 200
    assert "茶叶直播点" in listing.text
    slots = [c for c in _choices(listing.text) if c.startswith("slot|")]
    assert slots
    assert '<label for="phone">' in listing.text
    assert 'id="length"' in listing.text

    phone = new_phone()
    form = {
        "station": station,
        "date": day,
        "choice": slots[0],
        "length": "2",
        "phone": phone,
        "name": "王大姐",
    }
    confirm = browser.post("/book/code", data=form)
    assert confirm.status_code == 200, confirm.text
    assert 'autocomplete="one-time-code"' in confirm.text
    assert "/api/v1/dev/otp" in confirm.text  # the development hint
    hidden = _hidden(confirm.text)
    assert hidden["choice"] == slots[0]
    assert hidden["key"]

    otp = network.last_otp(phone)
    # "Resend" right away: too soon, and the worker stays on the page that asks for the code.
    resend = browser.post("/book/code", data=hidden)
    assert resend.status_code == 429
    assert "验证码发送太频繁" in resend.text
    assert _hidden(resend.text)["key"] == hidden["key"]

    wrong = browser.post("/book/confirm", data={**hidden, "otp": "00000x"})
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
    assert page.headers["cache-control"] == "no-store"
    code = location.split("/")[2].split("?")[0]
    assert code in page.text
    assert "预约成功" in page.text
    assert "已确认" in page.text
    assert "<svg" in page.text  # the QR code, inline
    assert 'role="img"' in page.text

    # Both steps of the one-hour booking are gone from the form.
    after = _choices(browser.get("/", params={"station": station, "date": day}).text)
    assert slots[0] not in after
    assert slots[1] not in after

    token = _hidden(page.text)["token"]
    # Added to a calendar: one event in Shanghai time, its code in it (RFC 5545).
    ics = browser.get(f"/b/{code}/calendar.ics", params={"token": token})
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert event["UID"] == f"{code}@yizhan"
    assert event.decoded("DTSTART").tzinfo.key == "Asia/Shanghai"
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
    assert code in str(event["DESCRIPTION"])
    assert b"BEGIN:VTIMEZONE" in ics.content
    assert browser.get(f"/b/{code}/calendar.ics", params={"token": "x"}).status_code == 404

    # Cancelling asks once: the button leads to a question; only its "yes" cancels.
    question = browser.get(f"/b/{code}/cancel", params={"token": token})
    assert question.status_code == 200
    assert "确定取消这个预约吗？" in question.text
    not_yet = browser.post(f"/b/{code}/cancel", data={"token": token})
    assert not_yet.status_code == 200
    assert "确定取消这个预约吗？" in not_yet.text
    assert "已确认" in browser.get(location).text
    cancelled = browser.post(f"/b/{code}/cancel", data={"token": token, "confirmed": "yes"})
    assert cancelled.status_code == 303
    gone = browser.get(cancelled.headers["location"])
    assert "预约已取消" in gone.text
    assert "取消这个预约" not in gone.text
    assert slots[0] in _choices(browser.get("/", params={"station": station, "date": day}).text)


def test_book_a_forum_seat_and_join_the_waitlist(network: Network, browser: httpx.Client) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=1, starts_in=timedelta(days=2))
    assert network.book({"forum_session_id": session_id}).status_code == 201

    listing = browser.get("/", params={"station": station})
    assert "骑手停车难" in listing.text
    assert "已满，可以排候补" in listing.text
    assert f"forum|{session_id}" in _choices(listing.text)

    phone = new_phone()
    form = {"station": station, "choice": f"forum|{session_id}", "phone": phone, "name": "刘"}
    confirm = browser.post("/book/code", data=form)
    assert confirm.status_code == 200, confirm.text
    assert "有人取消时" in confirm.text
    done = browser.post(
        "/book/confirm", data={**_hidden(confirm.text), "otp": network.last_otp(phone)}
    )
    assert done.status_code == 303, done.text
    page = browser.get(done.headers["location"])
    assert "已排上候补" in page.text
    assert "候补中" in page.text
    # Its place in the queue, and no QR code to scan until it has a seat.
    assert "你在候补队伍第 1 位" in page.text
    assert "<svg" not in page.text


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
    for anchor in ('href="#choice"', 'href="#phone"', 'href="#name"'):
        assert anchor in page.text
    assert 'id="choice"' in page.text
    assert 'aria-invalid="true"' in page.text
    # What was typed is kept.
    assert 'value="12345"' in page.text


def test_a_slot_taken_meanwhile_sends_the_worker_back_to_choose(
    network: Network, browser: httpx.Client
) -> None:
    station = network.station()
    point = network.point(station)
    day = tomorrow().isoformat()
    choice = _choices(browser.get("/", params={"station": station, "date": day}).text)[0]
    phone = new_phone()
    form = {"station": station, "date": day, "choice": choice, "length": "1"}
    hidden = _hidden(browser.post("/book/code", data={**form, "phone": phone, "name": "张"}).text)
    otp = network.last_otp(phone)

    free = next(s for s in network.slots(point, tomorrow()) if s["available"])
    taken = network.book({"livestream_point_id": point, "start": free["start"], "end": free["end"]})
    assert taken.status_code == 201

    page = browser.post("/book/confirm", data={**hidden, "otp": otp})
    assert page.status_code == 409
    assert "这个时段刚被别人约走了" in page.text
    assert 'name="choice"' in page.text


def test_too_long_a_booking_is_an_error_on_the_length(
    network: Network, browser: httpx.Client
) -> None:
    station = network.station()
    network.point(station, max_steps=2)
    day = tomorrow().isoformat()
    choice = _choices(browser.get("/", params={"station": station, "date": day}).text)[0]
    form = {"station": station, "date": day, "choice": choice, "length": "3"}
    page = browser.post("/book/code", data={**form, "phone": new_phone(), "name": "张"})
    assert page.status_code == 422
    assert 'href="#length"' in page.text


def test_english_is_one_tap_away_and_remembered(network: Network, browser: httpx.Client) -> None:
    station = network.station()
    network.point(station)
    page = browser.get("/", params={"station": station})
    switch = re.search(r'<a class="lang" href="([^"]+)"', page.text)
    assert switch is not None
    tapped = browser.get(html.unescape(switch.group(1)))
    assert tapped.status_code == 303
    assert tapped.headers["location"] == f"/?station={station}"
    english = browser.get(tapped.headers["location"])
    assert 'lang="en"' in english.text
    assert "Text me a code" in english.text
    assert "中文" in english.text
    # Never a redirect to another site.
    outside = browser.get("/lang/zh", params={"next": "//evil.example/"})
    assert outside.headers["location"] == "/"


def test_unknown_booking_page_is_404(browser: httpx.Client) -> None:
    assert browser.get("/b/ZZZZZZZZ", params={"token": "nope"}).status_code == 404


def test_another_site_cannot_post_the_form(network: Network, browser: httpx.Client) -> None:
    """Issue 9, hole 6: a page elsewhere cannot make its visitors send an SMS to any number
    (a cross-origin POST to /book/code), nor post any other form; the site itself can."""
    station = network.station()
    network.point(station)
    day = tomorrow().isoformat()
    listing = browser.get("/", params={"station": station, "date": day})
    slot = next(c for c in _choices(listing.text) if c.startswith("slot|"))
    phone = new_phone()
    form = {"station": station, "date": day, "choice": slot, "length": "1", "phone": phone}
    form["name"] = "王大姐"
    own = network.bookings.base_url
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": "https://evil.example/page"},
    ):
        refused = browser.post("/book/code", data=form, headers=headers)
        assert refused.status_code == 403, headers
    assert network.client.get("/api/v1/dev/otp", params={"phone": phone}).status_code == 404
    sent = browser.post("/book/code", data=form, headers={"Origin": own})
    assert sent.status_code == 200, sent.text
    assert network.last_otp(phone)
