"""Issue 15: "my bookings" by phone and one-time code, and deleting one's data (PIPL) with
the same proof, driven like a browser without JavaScript against the real services."""

import html
import re
from datetime import timedelta

import httpx
import pytest

from tests.bookings.conftest import Network, new_phone
from tests.bookings.test_confirmation_sms import sent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert found is not None, page
    return html.unescape(found.group(1))


@pytest.fixture
def browser(network: Network) -> httpx.Client:
    return httpx.Client(base_url=network.bookings.base_url, follow_redirects=False, timeout=15)


def test_my_bookings_after_a_code_then_delete_my_data(
    network: Network, browser: httpx.Client
) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=1, starts_in=timedelta(days=2))
    mine, other = new_phone(), new_phone()
    booked = network.book({"forum_session_id": session_id}, mine).json()
    waiting = network.book({"forum_session_id": session_id}, other).json()
    assert waiting["status"] == "waitlisted"

    start = browser.get("/my")
    assert start.status_code == 200
    assert "个人信息说明" in start.text  # the privacy notice where the phone is asked
    assert "180 天后自动删除" in start.text
    assert browser.post("/my/code", data={"phone": "123"}).status_code == 422
    asked = browser.post("/my/code", data={"phone": mine})
    assert asked.status_code == 200, asked.text
    wrong = browser.post("/my/list", data={"phone": mine, "otp": "000000"})
    assert wrong.status_code == 422
    assert booked["code"] not in wrong.text
    listed = browser.post("/my/list", data={"phone": mine, "otp": network.last_otp(mine)})
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "no-store"
    assert booked["code"] in listed.text
    assert waiting["code"] not in listed.text  # another phone's booking
    found = re.search(rf'href="(/b/{booked["code"]}\?[^"]+)"', listed.text)
    assert found is not None
    link = html.unescape(found[1])
    assert browser.get(link).status_code == 200
    # The code is used up: the list cannot be had again with it.
    again = browser.post("/my/list", data={"phone": mine, "otp": network.last_otp(mine)})
    assert again.status_code == 422

    proof = _hidden(listed.text, "proof")
    forged = proof.replace(mine, other)
    assert browser.post("/my/delete", data={"proof": forged, "confirmed": "yes"}).status_code == 403
    question = browser.post("/my/delete", data={"proof": proof})
    assert question.status_code == 200
    assert "确定删除你的信息吗？" in question.text
    assert network.sql("SELECT phone FROM bookings WHERE code = %s", booked["code"]) == [(mine,)]
    done = browser.post("/my/delete", data={"proof": proof, "confirmed": "yes"})
    assert done.status_code == 200
    assert "已删除你的手机号和姓名" in done.text

    rows = network.sql(
        "SELECT phone, name, status, erased_at IS NOT NULL FROM bookings WHERE code = %s",
        booked["code"],
    )
    assert rows == [(None, "", "cancelled", True)]
    assert network.sql("SELECT count(*) FROM otp_codes WHERE phone = %s", mine) == [(0,)]
    assert network.sql("SELECT count(*) FROM sms_outbox WHERE phone = %s", mine) == [(0,)]
    # The freed seat went to the waitlist, who is told with the code and link.
    wait_until(lambda: any(waiting["code"] in m["text"] for m in sent(network, other)), 10)
    assert network.sql("SELECT status FROM bookings WHERE code = %s", waiting["code"]) == [
        ("confirmed",)
    ]
