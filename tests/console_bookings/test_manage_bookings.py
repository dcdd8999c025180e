"""Bookings-side management in the console (issue 14 items 1 and 5), against the running
services: a district operator adds, changes and retires a livestream point, schedules,
changes and cancels a session, checks a worker in by hand and cancels a booking for its
holder, records opinions raised in the room, groups them under a measure and moves them on;
every action lands in bookings' audit log with who and the record before and after. Another
district's station is refused (403), and a viewer cannot change anything."""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.console_bookings.conftest import (
    DISTRICT,
    DISTRICT_PASSWORD,
    OTHER_DISTRICT_STATION,
    VIEWER_PASSWORD,
    Desk,
    token,
)

pytestmark = pytest.mark.integration

STATION = "BKM-0001"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@contextmanager
def _console_client(stack: Desk, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url("console"), timeout=20) as client:
        login = client.post("/console/login", data={"username": username, "password": password})
        assert login.status_code == 303, login.text
        yield client


@pytest.fixture(scope="module")
def station(stack: Desk, admin: dict[str, str]) -> str:
    """A station of the district operator's district, for this module alone."""
    body = {
        "id": STATION,
        "name": {"zh": "预约管理驿站", "en": "Bookings desk"},
        "district": DISTRICT,
    }
    reply = httpx.post(f"{stack.url('stations')}/api/v1/stations", json=body, headers=admin)
    assert reply.status_code == 201, reply.text
    return STATION


@pytest.fixture(scope="module")
def console(stack: Desk, district_operator: dict[str, str]) -> Iterator[httpx.Client]:
    """The district operator signed in to the console."""
    with _console_client(stack, "nanchuan", DISTRICT_PASSWORD) as client:
        yield client


def _page(station_id: str, path: str = "bookings") -> str:
    return f"/console/manage/stations/{station_id}/{path}"


def _audit(stack: Desk, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    reply = httpx.get(f"{stack.url('bookings')}/api/v1/audit", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _entry(
    entries: list[dict[str, Any]], action: str, entity: str, entity_id: object
) -> dict[str, Any]:
    found = [
        e
        for e in entries
        if (e["action"], e["entity"], e["entity_id"]) == (action, entity, str(entity_id))
    ]
    assert found, f"no {action} {entity} {entity_id} in {entries}"
    return found[0]


def _points(stack: Desk, headers: dict[str, str]) -> list[dict[str, Any]]:
    reply = httpx.get(
        f"{stack.url('bookings')}/api/v1/livestream-points",
        params={"station_id": STATION},
        headers=headers,
    )
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _sessions(stack: Desk, headers: dict[str, str]) -> list[dict[str, Any]]:
    reply = httpx.get(
        f"{stack.url('bookings')}/api/v1/forum-sessions",
        params={"station_id": STATION, "past_days": 30},
        headers=headers,
    )
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _local_input(moment: datetime) -> str:
    """What a `datetime-local` field sends, in the station's zone."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def test_points_are_added_changed_retired_and_audited(
    stack: Desk, station: str, console: httpx.Client, district_operator: dict[str, str]
) -> None:
    # A field that is not a number, and one bookings refuses: each is its field's error.
    bad = console.post(
        f"{_page(station)}/points",
        data={"name": "直播角", "slot_minutes": "半小时", "max_days_ahead": "30", "max_steps": "4"},
    )
    assert bad.status_code == 422
    assert 'id="point-slot_minutes-error"' in bad.text
    assert "请输入整数" in bad.text
    refused = console.post(
        f"{_page(station)}/points",
        data={"name": "直播角", "slot_minutes": "7", "max_days_ahead": "30", "max_steps": "4"},
    )
    assert refused.status_code == 422
    assert 'id="point-slot_minutes-error"' in refused.text
    assert 'value="直播角"' in refused.text
    assert _points(stack, district_operator) == []

    made = console.post(
        f"{_page(station)}/points",
        data={"name": "直播角", "slot_minutes": "30", "max_days_ahead": "30", "max_steps": "4"},
    )
    assert made.status_code == 303
    [point] = _points(stack, district_operator)
    assert (point["name"], point["slot_minutes"], point["active"]) == ("直播角", 30, True)

    changed = console.post(
        f"{_page(station)}/points/{point['id']}",
        data={"name": "助农直播角", "slot_minutes": "60", "max_days_ahead": "14", "max_steps": "2"},
    )
    assert changed.status_code == 303
    retired = console.post(f"{_page(station)}/points/{point['id']}", data={"active": "0"})
    assert retired.status_code == 303
    [point] = _points(stack, district_operator)
    assert (point["name"], point["slot_minutes"], point["active"]) == ("助农直播角", 60, False)

    entries = _audit(stack, district_operator, station_id=station, entity="livestream_point")
    created = _entry(entries, "create", "livestream_point", point["id"])
    assert created["actor"] == "nanchuan"
    assert created["before"] is None
    assert created["after"]["name"] == "直播角"
    update = _entry(entries, "update", "livestream_point", point["id"])
    assert (update["before"]["name"], update["after"]["name"]) == ("直播角", "助农直播角")
    assert (update["before"]["slot_minutes"], update["after"]["slot_minutes"]) == (30, 60)
    retire = _entry(entries, "retire", "livestream_point", point["id"])
    assert (retire["before"]["active"], retire["after"]["active"]) == (True, False)

    # The page shows the point as retired, and the audited actions.
    page = console.get(_page(station))
    assert page.status_code == 200
    assert "已停用" in page.text
    assert "助农直播角" in page.text
    assert 'data-audit="' in page.text
    assert "nanchuan" in page.text


def test_sessions_are_scheduled_changed_cancelled_and_audited(
    stack: Desk, station: str, console: httpx.Client, district_operator: dict[str, str]
) -> None:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    form = {
        "topic": "骑手议事会",
        "kind": "forum",
        "host": "工会",
        "start": _local_input(start),
        "end": _local_input(start - timedelta(hours=1)),
        "seats": "20",
    }
    backwards = console.post(f"{_page(station)}/sessions", data=form)
    assert backwards.status_code == 422
    assert 'id="session-end-error"' in backwards.text
    no_time = console.post(f"{_page(station)}/sessions", data={**form, "start": ""})
    assert no_time.status_code == 422
    assert 'id="session-start-error"' in no_time.text

    made = console.post(
        f"{_page(station)}/sessions",
        data={**form, "end": _local_input(start + timedelta(hours=2))},
    )
    assert made.status_code == 303
    [session] = [s for s in _sessions(stack, district_operator) if s["topic"] == "骑手议事会"]
    assert datetime.fromisoformat(session["start"]) == start
    assert session["seats"] == 20

    edit = console.get(f"{_page(station)}/sessions/{session['id']}")
    assert edit.status_code == 200
    assert 'value="骑手议事会"' in edit.text
    changed = console.post(
        f"{_page(station)}/sessions/{session['id']}",
        data={
            "topic": "骑手议事会（扩大）",
            "kind": "forum",
            "host": "工会",
            "start": _local_input(start),
            "end": _local_input(start + timedelta(hours=2)),
            "seats": "40",
        },
    )
    assert changed.status_code == 303
    cancelled = console.post(f"{_page(station)}/sessions/{session['id']}/cancel")
    assert cancelled.status_code == 303
    [session] = [s for s in _sessions(stack, district_operator) if s["id"] == session["id"]]
    assert (session["topic"], session["seats"], session["status"]) == (
        "骑手议事会（扩大）",
        40,
        "cancelled",
    )

    entries = _audit(stack, district_operator, station_id=station, entity="forum_session")
    assert _entry(entries, "create", "forum_session", session["id"])["after"]["seats"] == 20
    update = _entry(entries, "update", "forum_session", session["id"])
    assert (update["before"]["seats"], update["after"]["seats"]) == (20, 40)
    cancel = _entry(entries, "cancel", "forum_session", session["id"])
    assert (cancel["before"]["status"], cancel["after"]["status"]) == ("scheduled", "cancelled")
    assert cancel["actor"] == "nanchuan"


def _book_seat(stack: Desk, session_id: int) -> str:
    """A worker books a seat through the public API; the booking code."""
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    bookings = stack.url("bookings")
    assert httpx.post(f"{bookings}/api/v1/otp", json={"phone": phone}).status_code == 202
    otp = httpx.get(f"{bookings}/api/v1/dev/otp", params={"phone": phone}).json()["code"]
    reply = httpx.post(
        f"{bookings}/api/v1/bookings",
        json={"forum_session_id": session_id, "phone": phone, "name": "王师傅", "otp": otp},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert reply.status_code == 201, reply.text
    code: str = reply.json()["code"]
    return code


def test_check_in_by_hand_and_operator_cancel_are_audited(
    stack: Desk, station: str, console: httpx.Client, district_operator: dict[str, str]
) -> None:
    bookings = stack.url("bookings")
    soon = datetime.now(UTC) + timedelta(minutes=5)
    session = httpx.post(
        f"{bookings}/api/v1/forum-sessions",
        json={
            "station_id": station,
            "topic": "安全培训",
            "kind": "training",
            "start": soon.isoformat(),
            "end": (soon + timedelta(hours=1)).isoformat(),
            "seats": 5,
        },
        headers=district_operator,
    )
    assert session.status_code == 201, session.text
    code = _book_seat(stack, session.json()["id"])

    unknown = console.post(f"{_page(station)}/check-in", data={"code": "ZZZZZZZZ"})
    assert unknown.status_code == 422
    assert 'id="checkin-code-error"' in unknown.text
    done = console.post(f"{_page(station)}/check-in", data={"code": code.lower()})
    assert done.status_code == 303
    assert "done=checked_in" in done.headers["location"]
    again = console.post(f"{_page(station)}/check-in", data={"code": code})
    assert again.status_code == 409
    assert "已经签到过了" in again.text

    entries = _audit(stack, district_operator, station_id=station, entity="booking")
    entry = _entry(entries, "check_in", "booking", code)
    assert entry["actor"] == "nanchuan"
    assert entry["before"]["checked_in_at"] is None
    assert entry["after"]["checked_in_at"]
    # Never the worker's phone or name.
    assert "王师傅" not in str(entry)
    assert "139" not in str(entry["after"].get("phone", ""))

    # An operator cancels another booking for its holder: audited too.
    other = _book_seat(stack, session.json()["id"])
    unknown = console.post(f"{_page(station)}/cancel", data={"code": "ZZZZZZZZ"})
    assert unknown.status_code == 422
    assert 'id="cancel-code-error"' in unknown.text
    cancel = console.post(f"{_page(station)}/cancel", data={"code": other})
    assert cancel.status_code == 303
    assert "done=booking_cancelled" in cancel.headers["location"]
    held = httpx.get(
        f"{bookings}/api/v1/bookings/export.csv",
        params={"station_id": station},
        headers=district_operator,
    )
    assert any(other in line and "已取消" in line for line in held.text.splitlines())
    entries = _audit(stack, district_operator, station_id=station, entity="booking")
    entry = _entry(entries, "cancel", "booking", other)
    assert (entry["before"]["status"], entry["after"]["status"]) == ("confirmed", "cancelled")


def _opinions(stack: Desk, headers: dict[str, str], station_id: str) -> list[dict[str, Any]]:
    reply = httpx.get(
        f"{stack.url('bookings')}/api/v1/opinions",
        params={"station_id": station_id},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _past_session(stack: Desk, headers: dict[str, str], station_id: str, topic: str) -> int:
    """A session held yesterday (operators record meetings held, to log their opinions)."""
    start = datetime.now(UTC) - timedelta(days=1)
    reply = httpx.post(
        f"{stack.url('bookings')}/api/v1/forum-sessions",
        json={
            "station_id": station_id,
            "topic": topic,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "seats": 30,
        },
        headers=headers,
    )
    assert reply.status_code == 201, reply.text
    session_id: int = reply.json()["id"]
    return session_id


def test_opinions_are_recorded_grouped_moved_and_audited(
    stack: Desk, station: str, console: httpx.Client, district_operator: dict[str, str]
) -> None:
    session_id = _past_session(stack, district_operator, station, "停车问题议事会")
    empty = console.post(
        _page(station, "opinions"),
        data={"forum_session_id": str(session_id), "category": "parking", "text": ""},
    )
    assert empty.status_code == 422
    assert 'id="record-text-error"' in empty.text
    for text in ("小区门口没有电动车停放点", "商场不让骑手进出停车"):
        made = console.post(
            _page(station, "opinions"),
            data={"forum_session_id": str(session_id), "category": "parking", "text": text},
        )
        assert made.status_code == 303, made.text
    opinions = _opinions(stack, district_operator, station)
    assert {o["text"] for o in opinions} == {"小区门口没有电动车停放点", "商场不让骑手进出停车"}
    assert {o["recorded_by"] for o in opinions} == {"nanchuan"}
    first, second = sorted(o["id"] for o in opinions)

    # Nothing ticked is the tick boxes' error; then both under one new measure.
    nothing = console.post(f"{_page(station, 'opinions')}/group", data={"text": "设骑手停车区"})
    assert nothing.status_code == 422
    assert "请先勾选意见" in nothing.text
    grouped = console.post(
        f"{_page(station, 'opinions')}/group",
        data={"opinion_ids": [str(first), str(second)], "text": "与物业协商设骑手停车区"},
    )
    assert grouped.status_code == 303
    measures = httpx.get(
        f"{stack.url('bookings')}/api/v1/measures",
        params={"station_id": station},
        headers=district_operator,
    ).json()["items"]
    assert [(m["text"], m["opinions"]) for m in measures] == [("与物业协商设骑手停车区", 2)]

    # received -> resolved is not a move; in_progress -> resolved takes the group's measure.
    skip = console.post(
        f"{_page(station, 'opinions')}/{first}/move", data={"status": "resolved", "note": ""}
    )
    assert skip.status_code == 422
    assert "意见不能转到这个状态" in skip.text
    for status in ("in_progress", "resolved"):
        moved = console.post(
            f"{_page(station, 'opinions')}/{first}/move", data={"status": status, "note": ""}
        )
        assert moved.status_code == 303, moved.text
    no_reason = console.post(
        f"{_page(station, 'opinions')}/{second}/move", data={"status": "declined", "note": ""}
    )
    assert no_reason.status_code == 422
    assert "不予采纳需要写明理由" in no_reason.text
    declined = console.post(
        f"{_page(station, 'opinions')}/{second}/move",
        data={"status": "declined", "note": "商场属私人场所"},
    )
    assert declined.status_code == 303
    by_id = {o["id"]: o for o in _opinions(stack, district_operator, station)}
    assert (by_id[first]["status"], by_id[first]["measure"]) == (
        "resolved",
        "与物业协商设骑手停车区",
    )
    assert (by_id[second]["status"], by_id[second]["reason"]) == ("declined", "商场属私人场所")

    entries = _audit(stack, district_operator, station_id=station)
    assert _entry(entries, "record", "opinion", first)["after"]["status"] == "received"
    group = _entry(entries, "group", "opinion", second)
    assert group["before"]["measure_id"] is None
    assert group["after"]["measure_id"] == measures[0]["id"]
    moves = [e for e in entries if (e["action"], e["entity_id"]) == ("move", str(first))]
    assert [(e["before"]["status"], e["after"]["status"]) for e in moves] == [
        ("in_progress", "resolved"),
        ("received", "in_progress"),
    ]
    assert _entry(entries, "create", "measure", measures[0]["id"])["actor"] == "nanchuan"

    page = console.get(_page(station, "opinions"))
    assert page.status_code == 200
    assert "与物业协商设骑手停车区" in page.text


def test_another_districts_station_is_refused(
    stack: Desk,
    station: str,
    console: httpx.Client,
    admin: dict[str, str],
    district_operator: dict[str, str],
) -> None:
    other = OTHER_DISTRICT_STATION
    assert console.get(_page(other)).status_code == 403
    assert console.get(_page(other, "opinions")).status_code == 403
    made = console.post(f"{_page(other)}/points", data={"name": "越权", "slot_minutes": "30"})
    assert made.status_code == 403
    # An opinion of the other district moved through one's own station's address: bookings
    # judges the opinion's own station and refuses.
    session_id = _past_session(stack, admin, other, "别区议事会")
    opinion = httpx.post(
        f"{stack.url('bookings')}/api/v1/opinions",
        json={"forum_session_id": session_id, "category": "other", "text": "别区的意见"},
        headers=admin,
    )
    assert opinion.status_code == 201, opinion.text
    opinion_id = opinion.json()["id"]
    moved = console.post(
        f"{_page(station, 'opinions')}/{opinion_id}/move", data={"status": "in_progress"}
    )
    assert moved.status_code == 403
    grouped = console.post(
        f"{_page(station, 'opinions')}/group",
        data={"opinion_ids": [str(opinion_id)], "text": "越权措施"},
    )
    assert grouped.status_code == 422
    [still] = [o for o in _opinions(stack, admin, other) if o["id"] == opinion_id]
    assert (still["status"], still["measure_id"]) == ("received", None)
    # Their audit stays out of the district operator's reading.
    assert _audit(stack, admin, station_id=other, entity="opinion")
    reply = httpx.get(
        f"{stack.url('bookings')}/api/v1/audit",
        params={"station_id": other},
        headers=district_operator,
    )
    assert reply.status_code == 404
    assert all(e["station_id"] != other for e in _audit(stack, district_operator))


def test_a_viewer_cannot_write(stack: Desk, station: str) -> None:
    viewer = "bk-viewer"
    with _console_client(stack, viewer, VIEWER_PASSWORD) as client:
        assert client.get(_page(station)).status_code == 403
        made = client.post(f"{_page(station)}/points", data={"name": "只读", "slot_minutes": "30"})
        assert made.status_code == 403
        checked = client.post(f"{_page(station)}/check-in", data={"code": "ABCDEFGH"})
        assert checked.status_code == 403
    # The station page offers no management links to a viewer.
    with _console_client(stack, viewer, VIEWER_PASSWORD) as client:
        page = client.get(f"/console/stations/{station}")
        assert page.status_code == 200
        assert not re.search(r"/console/manage/stations/[^/]+/bookings", page.text)
    # Bookings itself refuses a viewer's token, whoever asks.
    headers = token(stack, viewer, VIEWER_PASSWORD)
    reply = httpx.post(
        f"{stack.url('bookings')}/api/v1/livestream-points",
        json={"station_id": station, "name": "只读"},
        headers=headers,
    )
    assert reply.status_code == 403
