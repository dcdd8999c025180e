"""CONTRACT.md §4: a confirmed booking (at once, or later from the waitlist) sends an SMS with
its code and the link to view or cancel it; the dev SMS endpoint shows what was sent."""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.bookings.conftest import Network, new_phone
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def sent(network: Network, phone: str) -> list[dict[str, Any]]:
    """The SMS the dev endpoint lists for a phone (none while it answers 404)."""
    reply = httpx.get(f"{network.bookings.base_url}/api/v1/dev/sms", params={"phone": phone})
    if reply.status_code == 404:
        return []
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def link_in(text: str) -> str:
    return text[text.index("http") :].split()[0]


def test_confirmed_and_promoted_bookings_get_code_and_link(network: Network) -> None:
    station = network.station()
    session_id = network.forum_session(station, seats=1, starts_in=timedelta(days=2))
    first, second = new_phone(), new_phone()
    booked = network.book({"forum_session_id": session_id}, first).json()
    waiting = network.book({"forum_session_id": session_id}, second).json()
    assert (booked["status"], waiting["status"]) == ("confirmed", "waitlisted")

    wait_until(lambda: sent(network, first), 10)
    text = sent(network, first)[0]["text"]
    assert booked["code"] in text
    page = httpx.get(link_in(text))
    assert page.status_code == 200
    assert booked["code"] in page.text
    # A waitlisted booking is not told it is confirmed.
    assert not any(waiting["code"] in m["text"] for m in sent(network, second))

    cancelled = httpx.delete(
        f"{network.bookings.base_url}/api/v1/bookings/{booked['code']}",
        params={"token": booked["manage_token"]},
    )
    assert cancelled.status_code == 200, cancelled.text
    wait_until(lambda: any(waiting["code"] in m["text"] for m in sent(network, second)), 10)
    promoted = next(m["text"] for m in sent(network, second) if waiting["code"] in m["text"])
    assert httpx.get(link_in(promoted)).status_code == 200
    # Newest first.
    assert sent(network, first)[0]["at"] >= sent(network, first)[-1]["at"]
