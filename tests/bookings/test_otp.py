"""One-time codes: wrong, expired, exhausted, rate-limited, and the development endpoint."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.bookings.conftest import Network, new_phone, tomorrow

pytestmark = pytest.mark.integration


def _slot(network: Network) -> dict[str, object]:
    point = network.point(network.station())
    free = [s for s in network.slots(point, tomorrow()) if s["available"]]
    return {"livestream_point_id": point, "start": free[0]["start"], "end": free[0]["end"]}


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_code_is_422_and_the_right_one_still_works(network: Network) -> None:
    slot, phone = _slot(network), new_phone()
    code = network.otp(phone)
    wrong = network.book(slot, phone, otp=_wrong(code))
    assert wrong.status_code == 422, wrong.text
    body = wrong.json()
    assert body["code"] == "otp_wrong"
    assert body["errors"] == [{"field": "body.otp", "message": "wrong one-time code"}]
    assert network.book(slot, phone, otp=code).status_code == 201


def test_expired_code_is_422(network: Network) -> None:
    slot, phone = _slot(network), new_phone()
    code = network.otp(phone)
    network.sql(
        "UPDATE otp_codes SET expires_at = now() - interval '1 second' WHERE phone = %s", phone
    )
    expired = network.book(slot, phone, otp=code)
    assert expired.status_code == 422, expired.text
    assert expired.json()["code"] == "otp_expired"


def test_a_code_is_used_once(network: Network) -> None:
    point = network.point(network.station())
    free = [s for s in network.slots(point, tomorrow()) if s["available"]]
    phone = new_phone()
    code = network.otp(phone)
    first = {"livestream_point_id": point, "start": free[0]["start"], "end": free[0]["end"]}
    second = {"livestream_point_id": point, "start": free[1]["start"], "end": free[1]["end"]}
    assert network.book(first, phone, otp=code).status_code == 201
    reused = network.book(second, phone, otp=code)
    assert reused.status_code == 422
    assert reused.json()["code"] == "otp_expired"


def test_too_many_wrong_guesses_exhaust_the_code(network: Network) -> None:
    slot, phone = _slot(network), new_phone()
    code = network.otp(phone)
    for _ in range(5):
        assert network.book(slot, phone, otp=_wrong(code)).json()["code"] == "otp_wrong"
    exhausted = network.book(slot, phone, otp=code)
    assert exhausted.status_code == 422
    assert exhausted.json()["code"] == "otp_exhausted"


def test_sending_is_rate_limited_per_phone(network: Network) -> None:
    phone = new_phone()
    url = f"{network.bookings.base_url}/api/v1/otp"
    assert httpx.post(url, json={"phone": phone}).status_code == 202
    again = httpx.post(url, json={"phone": phone})
    assert again.status_code == 429, again.text
    assert 0 < int(again.headers["Retry-After"]) <= 60


def test_the_hourly_limit_holds_after_codes_were_used(network: Network) -> None:
    phone = new_phone()
    url = f"{network.bookings.base_url}/api/v1/otp"
    for _ in range(5):
        assert httpx.post(url, json={"phone": phone}).status_code == 202
        # Marking the code used lifts the resend interval, leaving the hourly limit.
        network.sql("UPDATE otp_codes SET consumed_at = now() WHERE phone = %s", phone)
    assert httpx.post(url, json={"phone": phone}).status_code == 429


def test_codes_are_stored_hashed(network: Network) -> None:
    phone = new_phone()
    code = network.otp(phone)
    (stored,) = network.sql("SELECT code_hash FROM otp_codes WHERE phone = %s", phone)
    assert code not in stored[0]
    assert len(stored[0]) == 64


def test_invalid_phone_is_422(network: Network) -> None:
    reply = httpx.post(f"{network.bookings.base_url}/api/v1/otp", json={"phone": "10086"})
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "body.phone"


def test_dev_endpoint_404_for_unknown_phone(network: Network) -> None:
    reply = httpx.get(f"{network.bookings.base_url}/api/v1/dev/otp", params={"phone": new_phone()})
    assert reply.status_code == 404


def test_idempotency_key_without_code_is_refused(network: Network) -> None:
    slot = _slot(network)
    reply = network.book(slot, new_phone(), otp="123456", key=uuid.uuid4().hex)
    assert reply.status_code == 422
    assert reply.json()["code"] == "otp_expired"


def test_concurrent_guesses_get_no_more_judgements_than_the_limit(network: Network) -> None:
    """Issue 9, hole 8: the attempt is counted under the same lock as the check, so a burst
    of parallel guesses cannot get more than `otp_max_attempts` judgements of one code."""
    slot, phone = _slot(network), new_phone()
    code = network.otp(phone)
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 41)]
    body = {**slot, "phone": phone, "name": "李师傅"}

    def guess(otp: str) -> str:
        with httpx.Client(base_url=str(network.client.base_url), timeout=30) as client:
            reply = client.post(
                "/api/v1/bookings",
                json={**body, "otp": otp},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        return str(reply.json().get("code"))

    with ThreadPoolExecutor(len(guesses)) as pool:
        verdicts = list(pool.map(guess, guesses))
    assert verdicts.count("otp_wrong") == 5, verdicts
    assert verdicts.count("otp_exhausted") == 35, verdicts
    assert network.sql("SELECT attempts FROM otp_codes WHERE phone = %s", phone) == [(5,)]
    # Exhausted: even the right code is refused now.
    assert network.book(slot, phone, otp=code).json()["code"] == "otp_exhausted"
