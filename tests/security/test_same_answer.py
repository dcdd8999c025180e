"""Absent and not-yours get the same answer (issue 9): a district operator learns nothing
about another district's booking codes from the operator routes."""

from datetime import date, timedelta

from tests.security.conftest import DISTRICT_B, Network, unique


def _booking_elsewhere(network: Network) -> str:
    station_id = unique("SEC-SAME")
    network.admin_post(
        "/api/v1/stations",
        {"id": station_id, "name": {"zh": "别区", "en": "Else"}, "district": DISTRICT_B},
    )
    with network.client(network.bookings, "admin") as admin:
        point = admin.post(
            "/api/v1/livestream-points",
            json={"station_id": station_id, "name": "直播点", "slot_minutes": 30},
        ).json()["id"]
        day = (date.today() + timedelta(days=1)).isoformat()
        slots = admin.get(f"/api/v1/livestream-points/{point}/slots", params={"date": day})
        slot = next(s for s in slots.json()["items"] if s["available"])
        phone = "13600001234"
        assert admin.post("/api/v1/otp", json={"phone": phone}).status_code == 202
        code = admin.get("/api/v1/dev/otp", params={"phone": phone}).json()["code"]
        booked = admin.post(
            "/api/v1/bookings",
            json={
                "livestream_point_id": point,
                "start": slot["start"],
                "end": slot["end"],
                "phone": phone,
                "name": "李师傅",
                "otp": code,
            },
            headers={"Idempotency-Key": unique("key")},
        )
    assert booked.status_code == 201, booked.text
    booking_code: str = booked.json()["code"]
    return booking_code


def test_another_districts_booking_looks_absent(network: Network) -> None:
    theirs = _booking_elsewhere(network)
    absent = "ZZZZ9999"
    with network.client(network.bookings, "district") as district:
        for action in ("check-in", "cancel"):
            not_yours = district.post(f"/api/v1/bookings/{theirs}/{action}")
            missing = district.post(f"/api/v1/bookings/{absent}/{action}")
            assert not_yours.status_code == missing.status_code == 404
            assert not_yours.json() == missing.json()
