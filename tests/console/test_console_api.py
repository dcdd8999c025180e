"""The console's figures through its API against the running network: the same numbers as
telemetry's contract API, district scope everywhere, alarms, dead letters, live events."""

import csv
import io
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.console.conftest import DISTRICT, OTHER_DISTRICT_STATION, Faulty, Stack, wait_until

pytestmark = pytest.mark.e2e


def _console(stack: Stack, headers: dict[str, str], path: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{stack.url('console')}/api/v1/console/{path}", params=params, headers=headers, timeout=30
    )


def _json(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_overview_series_are_telemetrys_usage(stack: Stack, admin: dict[str, str]) -> None:
    view = _json(_console(stack, admin, "overview", period="7d", bucket="day"))
    rows = view["tables"]["series"]["rows"]
    assert len(rows) == 7
    assert sum(row["visits"] for row in rows) > 0
    usage = httpx.get(
        f"{stack.url('telemetry')}/api/v1/usage",
        params={
            "scope": "network",
            "from": view["period"]["start"],
            "to": view["period"]["end"],
            "bucket": "day",
        },
        headers=admin,
    ).json()
    # The last bucket is today, which the simulator is still filling.
    for row, bucket in list(zip(rows, usage["series"], strict=True))[:-1]:
        assert datetime.fromisoformat(row["start"]) == datetime.fromisoformat(bucket["start"])
        for key in ("visits", "charge_sessions", "dispenses"):
            assert row[key] == bucket[key], (key, row, bucket)
        for key in ("energy_kwh", "water_liters"):
            assert row[key] == pytest.approx(bucket[key], abs=0.001)
    cards = {card["key"]: card for card in view["cards"]}
    assert cards["visits"]["today"] > 0
    assert cards["bookings_confirmed"]["period"] is not None  # from bookings over gRPC
    assert len(view["tables"]["peak_hours"]["rows"]) == 168
    assert view["now"]["devices"] >= 52


def test_every_table_exports_as_csv_with_bom(stack: Stack, admin: dict[str, str]) -> None:
    view = _json(_console(stack, admin, "overview", period="today"))
    for name, table in view["tables"].items():
        reply = _console(stack, admin, f"overview/{name}.csv", period="today")
        assert reply.status_code == 200, (name, reply.text)
        assert reply.headers["content-type"].startswith("text/csv")
        assert reply.content.startswith("\ufeff".encode())
        header, *rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
        assert header == [c["label"] for c in table["columns"]]
        assert len(rows) == len(table["rows"]), name


def test_district_operator_sees_only_their_district(
    stack: Stack, district_operator: dict[str, str], faulty: Faulty
) -> None:
    view = _json(_console(stack, district_operator, "overview", period="7d"))
    assert {row["district"] for row in view["tables"]["stations"]["rows"]} == {DISTRICT}
    assert view["scope"]["whole_network"] is False
    assert OTHER_DISTRICT_STATION not in view["scope"]["stations"]
    assert all(
        row["station_id"] in view["scope"]["stations"]
        for row in view["tables"]["availability"]["rows"]
    )
    # Another district, by station or by name: as if it did not exist.
    assert (
        _console(stack, district_operator, f"stations/{OTHER_DISTRICT_STATION}").status_code == 404
    )
    assert _console(stack, district_operator, "overview", district="渝中区").status_code == 404
    alarms = _json(_console(stack, district_operator, "alarms"))
    assert {row["station_id"] for row in alarms["tables"]["alarms"]["rows"]} <= set(
        view["scope"]["stations"]
    )
    letters = alarms["tables"]["dead_letters"]["rows"]
    assert all(row["station_id"] in view["scope"]["stations"] for row in letters)


def test_alarm_and_dead_letter_reach_the_console(
    stack: Stack, admin: dict[str, str], district_operator: dict[str, str], faulty: Faulty
) -> None:
    def alarm() -> dict[str, Any] | None:
        rows = _json(_console(stack, district_operator, "alarms"))["tables"]["alarms"]["rows"]
        return next((r for r in rows if r["device_id"] == faulty.device_id), None)

    found = wait_until(alarm)
    assert found["code"] == faulty.alarm_code
    assert found["severity"] == "critical"
    letters = _json(_console(stack, admin, f"stations/{faulty.station_id}"))["tables"][
        "dead_letters"
    ]["rows"]
    assert any(row["reason"] == "malformed_json" for row in letters), letters

    url = f"{stack.url('console')}/api/v1/console/alarms/{found['id']}/acknowledge"
    done = httpx.post(url, json={"note": "水箱检查中"}, headers=district_operator)
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged_by"] == "nanchuan"
    assert done.json()["note"] == "水箱检查中"
    assert httpx.post(url, json={"note": ""}).status_code == 401


def test_availability_is_share_of_time_online(stack: Stack, admin: dict[str, str]) -> None:
    def observed() -> list[dict[str, Any]]:
        rows = _json(_console(stack, admin, "overview", period="today"))["tables"]["availability"][
            "rows"
        ]
        return [r for r in rows if r["observed_hours"] and r["observed_hours"] > 0]

    rows = wait_until(observed)
    for row in rows:
        assert 0 <= row["all"] <= 100
    device_rows = _json(_console(stack, admin, "stations/CQ-NC-0001", period="today"))["tables"][
        "devices"
    ]["rows"]
    assert any(row["online_share"] is not None for row in device_rows)


def test_bad_period_and_missing_token(stack: Stack, admin: dict[str, str]) -> None:
    assert _console(stack, admin, "overview", period="century").status_code == 422
    bad = _console(stack, admin, "overview", period="custom", **{"from": "2026-01-02"})
    assert bad.status_code == 422
    assert _console(stack, {}, "overview").status_code == 401


def test_live_events_need_a_session(stack: Stack) -> None:
    reply = httpx.get(f"{stack.url('console')}/console/live", timeout=10)
    assert reply.status_code == 401
    page = httpx.get(stack.console, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/console/login"


def test_live_events_stream_device_state(stack: Stack) -> None:
    from tests.console.conftest import ADMIN_PASSWORD

    with httpx.Client(base_url=stack.url("console"), timeout=15) as client:
        login = client.post(
            "/console/login", data={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 303
        cookies = dict(client.cookies)
        with httpx.stream(
            "GET",
            f"{stack.url('console')}/console/live",
            params={"station": "CQ-NC-0001"},
            cookies=cookies,
            timeout=15,
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = []
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    break
    assert "event: state" in lines
    assert '"devices"' in lines[-1]


def test_booking_cards_are_bookings_figures(stack: Stack, admin: dict[str, str]) -> None:
    view = _json(_console(stack, admin, "overview", period="30d"))
    cards = {card["key"]: card["period"] for card in view["cards"]}
    stats = httpx.get(
        f"{stack.url('bookings')}/api/v1/stats",
        params={"from": view["period"]["start"], "to": view["period"]["end"]},
        headers=admin,
    )
    assert stats.status_code == 200, stats.text
    totals = stats.json()["totals"]
    assert cards["bookings_checked_in"] == totals["checked_in"]
    assert cards["bookings_no_show"] == totals["no_shows"]
    assert cards["bookings_confirmed"] == totals["livestream_bookings"] + totals["forum_confirmed"]
