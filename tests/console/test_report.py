"""The district report (issue 14 item 3, issue 17) against the running stack: a district of
its own gets known usage (heating included) in a period and the period before, and a
livestream slot with a recorded outcome. In Chromium (zh) the operator opens the printable
report, downloads its XLSX, and the workbook's totals equal GET /api/v1/usage's and the
bookings API's for the same district and period; the station page lists the slot's outcome;
the overview compares last month with the month before. axe-core checks the new pages.
The monthly schedule, run for a chosen day, sends the month's report to a local webhook
receiver once, signed, with the XLSX whose totals are the usage API's."""

import base64
import hashlib
import hmac
import io
import json
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect

from tests.console.conftest import ADMIN_PASSWORD, Stack, publish, wait_until
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from yizhan.console.i18n import translator
from yizhan.console.sources import FIGURES
from yizhan.devstack.postgres import SUPERUSER
from yizhan.devstack.processes import free_port

pytestmark = pytest.mark.e2e

DISTRICT = "报告测试区"
PARKING = "门口没有地方停电动车"
MICROWAVE = "想要一台微波炉热饭"
MEASURE = "在北门划出 20 个临时停车位"
ZONE = ZoneInfo("Asia/Shanghai")
T = translator("zh")


@dataclass(frozen=True)
class ReportCase:
    """The district's period and what was published into it."""

    first: date
    last: date
    station_ids: tuple[str, str]
    booking_code: str
    # The local day of the period the usage happened on.
    used_on: date

    def range(self) -> tuple[str, str]:
        """The period as instants (local midnights), as the usage API takes it."""
        start = datetime.combine(self.first, time(0), ZONE)
        end = datetime.combine(self.last + timedelta(days=1), time(0), ZONE)
        return start.isoformat(), end.isoformat()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _device(stack: Stack, admin: dict[str, str], station: str, kind: str) -> dict[str, str]:
    reply = httpx.post(
        f"{stack.url('stations')}/api/v1/stations/{station}/devices",
        json={"id": f"{station}-{kind}", "kind": kind},
        headers=admin,
    )
    assert reply.status_code == 201, reply.text
    mqtt: dict[str, str] = reply.json()["mqtt"]
    return mqtt


def _events(stack: Stack, station: str, kind: str, mqtt: dict[str, str], events: list[Any]) -> None:
    for seq, (moment, body) in enumerate(events, start=1):
        payload = {"v": 1, "seq": seq, "ts": moment.isoformat(), **body}
        topic = f"yz/v1/st/{station}/dev/{station}-{kind}/event"
        publish(stack, topic, json.dumps(payload), mqtt["username"], mqtt["password"])


def _book(stack: Stack, target: dict[str, Any]) -> dict[str, str]:
    """A worker's booking through the public API (code by the dev SMS sender)."""
    bookings = stack.url("bookings")
    phone = "139" + str(uuid.uuid4().int)[:8]
    assert httpx.post(f"{bookings}/api/v1/otp", json={"phone": phone}).status_code == 202
    otp = httpx.get(f"{bookings}/api/v1/dev/otp", params={"phone": phone}).json()["code"]
    made = httpx.post(
        f"{bookings}/api/v1/bookings",
        json={**target, "phone": phone, "name": "李师傅", "otp": otp},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert made.status_code == 201, made.text
    booking: dict[str, str] = made.json()
    return booking


def _opinions(stack: Stack, admin: dict[str, str], station: str) -> None:
    """A forum session about to start, two attendees checked in by hand, each raising an
    opinion; the first resolved with a measure, the second left received."""
    bookings = stack.url("bookings")
    start = datetime.now(ZONE) + timedelta(minutes=10)
    session = httpx.post(
        f"{bookings}/api/v1/forum-sessions",
        json={
            "station_id": station,
            "kind": "forum",
            "topic": "骑手停车难",
            "host": "区总工会",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "seats": 5,
        },
        headers=admin,
    )
    assert session.status_code == 201, session.text
    for text in (PARKING, MICROWAVE):
        seat = _book(stack, {"forum_session_id": session.json()["id"]})
        checked = httpx.post(f"{bookings}/api/v1/bookings/{seat['code']}/check-in", headers=admin)
        assert checked.status_code == 200, checked.text
        raised = httpx.post(
            f"{bookings}/b/{seat['code']}/opinions",
            data={"category": "parking", "text": text, "token": seat["manage_token"]},
        )
        assert raised.status_code == 303, raised.text
    listed = httpx.get(
        f"{bookings}/api/v1/opinions", params={"station_id": station}, headers=admin
    ).json()["items"]
    (first,) = [o for o in listed if o["text"] == PARKING]
    move = f"{bookings}/api/v1/opinions/{first['id']}"
    assert httpx.patch(move, json={"status": "in_progress"}, headers=admin).is_success
    resolved = httpx.patch(move, json={"status": "resolved", "measure": MEASURE}, headers=admin)
    assert resolved.status_code == 200, resolved.text


def _livestream_outcome(stack: Stack, admin: dict[str, str], station: str, at: datetime) -> str:
    """Book tomorrow's first slot, move it to `at` (tests cannot wait for the clock), and
    record its outcome as an operator."""
    bookings = stack.url("bookings")
    point = httpx.post(
        f"{bookings}/api/v1/livestream-points",
        json={"station_id": station, "name": "赶场直播", "slot_minutes": 30},
        headers=admin,
    )
    assert point.status_code == 201, point.text
    point_id = point.json()["id"]
    day = (datetime.now(ZONE) + timedelta(days=1)).date().isoformat()
    slots = httpx.get(f"{bookings}/api/v1/livestream-points/{point_id}/slots?date={day}").json()
    slot = next(s for s in slots["items"] if s["available"])
    made = _book(
        stack, {"livestream_point_id": point_id, "start": slot["start"], "end": slot["end"]}
    )
    code = made["code"]
    dsn = f"host=127.0.0.1 port={stack.ports['pg']} user={SUPERUSER} dbname=yz_bookings"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE bookings SET starts_at = %s, ends_at = %s WHERE code = %s",
            (at, at + timedelta(minutes=30), code),
        )
    outcome = httpx.put(
        f"{bookings}/api/v1/bookings/{code}/outcome",
        json={"households": 12, "sales_yuan": 860.5, "note": "赶场天"},
        headers=admin,
    )
    assert outcome.status_code == 200, outcome.text
    return code


@pytest.fixture(scope="module")
def case(stack: Stack, admin: dict[str, str]) -> ReportCase:
    """Two stations of the district; usage in a period of three days ending three days ago
    and in the three days before it; a livestream slot in the period with its outcome; two
    opinions raised today at a forum session, one resolved with a measure."""
    today = datetime.now(ZONE).date()
    first, last = today - timedelta(days=5), today - timedelta(days=3)
    station_ids = ("REP-0001", "REP-0002")
    for station in station_ids:
        body = {"id": station, "name": {"zh": f"报告驿站{station[-1]}", "en": station}}
        reply = httpx.post(
            f"{stack.url('stations')}/api/v1/stations",
            json={**body, "district": DISTRICT},
            headers=admin,
        )
        assert reply.status_code == 201, reply.text

    def noon(day: date) -> datetime:
        return datetime.combine(day, time(12), ZONE)

    now_day, before_day = noon(first + timedelta(days=1)), noon(first - timedelta(days=2))
    one, two = station_ids
    _events(
        stack,
        one,
        "counter",
        _device(stack, admin, one, "counter"),
        [(now_day, {"type": "visit", "count": 7}), (before_day, {"type": "visit", "count": 3})],
    )
    _events(
        stack,
        one,
        "heater",
        _device(stack, admin, one, "heater"),
        [
            (now_day, {"type": "heat.use", "seconds": 120}),
            (before_day, {"type": "heat.use", "seconds": 60}),
            (before_day + timedelta(minutes=5), {"type": "heat.use", "seconds": 60}),
        ],
    )
    _events(
        stack,
        one,
        "water",
        _device(stack, admin, one, "water"),
        [(now_day, {"type": "water.dispense", "liters": 0.5})],
    )
    _events(
        stack,
        two,
        "charger",
        _device(stack, admin, two, "charger"),
        [
            (now_day, {"type": "charge.start", "session": "s1", "connector": 1}),
            (
                now_day + timedelta(minutes=40),
                {"type": "charge.stop", "session": "s1", "energy_wh": 1500},
            ),
        ],
    )
    code = _livestream_outcome(stack, admin, one, now_day + timedelta(hours=3))
    _opinions(stack, admin, two)
    return ReportCase(first, last, station_ids, code, now_day.date())


def _usage_totals(stack: Stack, admin: dict[str, str], case: ReportCase) -> dict[str, Any]:
    start, end = case.range()
    reply = httpx.get(
        f"{stack.url('telemetry')}/api/v1/usage",
        params={"scope": f"district:{DISTRICT}", "from": start, "to": end, "bucket": "day"},
        headers=admin,
    )
    assert reply.status_code == 200, reply.text
    totals: dict[str, Any] = reply.json()["totals"]
    return totals


def _sheet_rows(book: Any, title_key: str) -> tuple[list[str], list[list[Any]]]:
    sheet = book[T(title_key)[:31]]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [str(c) for c in rows[0]], rows[1:]


def _total_row(book: Any, title_key: str) -> dict[str, Any]:
    header, rows = _sheet_rows(book, title_key)
    (total,) = [row for row in rows if row and row[1] == T("total")]
    return dict(zip(header, total, strict=True))


def test_monthly_report_downloads_and_matches_the_apis(
    browser: Browser, stack: Stack, admin: dict[str, str], case: ReportCase
) -> None:
    expected = {
        "visits": 7,
        "charge_sessions": 1,
        "energy_kwh": 1.5,
        "water_liters": 0.5,
        "dispenses": 1,
        "heat_uses": 1,
        "heat_minutes": 2.0,
    }
    # Ingest is asynchronous: wait until the usage API has every message.
    wait_until(lambda: _usage_totals(stack, admin, case) == expected)

    page = browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")

    # The overview offers last month and compares every card with the period before.
    page.select_option("#period", "last_month")
    page.click("#picker button[type=submit]")
    page.wait_for_url("**period=last_month**")
    expect(page.locator("[data-figure=visits] .compare")).to_contain_text(T("previous_period"))

    page.click("nav a[href='/console/reports']")
    page.wait_for_url("**/console/reports**")
    page.select_option("#report-picker select[name=district]", DISTRICT)
    page.select_option("#report-picker select[name=period]", "custom")
    page.fill("#report-picker input[name=from]", case.first.isoformat())
    page.fill("#report-picker input[name=to]", case.last.isoformat())
    page.click("#report-picker button[type=submit]")
    page.wait_for_url("**period=custom**")
    summary = page.locator("#report-summary")
    expect(summary.locator("tr[data-figure=visits] td.period")).to_have_text("7")
    expect(summary.locator("tr[data-figure=visits] td.previous")).to_have_text("3")
    expect(summary.locator("tr[data-figure=heat_uses] td.previous")).to_have_text("2")
    expect(page.locator("#report-livestream_slots")).to_contain_text("860.50")
    assert_accessible(page)

    # Printable: on paper the navigation and the picker are gone, the tables stay.
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator("#report-picker")).to_be_hidden()
    expect(page.locator("#report-summary")).to_be_visible()
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.click("#report-xlsx")
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))

    # Usage: the workbook's district total is the usage API's, figure by figure.
    totals = _usage_totals(stack, admin, case)
    row = _total_row(book, "report_stations")
    assert {key: row[T(key)] for key in FIGURES} == totals
    previous = _total_row(book, "report_stations_previous")
    assert (previous[T("visits")], previous[T("heat_uses")]) == (3, 2)

    # Bookings and livestream outcomes: the bookings API's figures for the same stations.
    start, end = case.range()
    stats = httpx.get(
        f"{stack.url('bookings')}/api/v1/stats",
        params={"from": start, "to": end, "station_id": list(case.station_ids)},
        headers=admin,
    )
    assert stats.status_code == 200, stats.text
    api = stats.json()["totals"]
    bookings = _total_row(book, "report_bookings")
    assert bookings[T("bookings_checked_in")] == api["checked_in"]
    assert bookings[T("bookings_no_show")] == api["no_shows"]
    assert bookings[T("bookings_confirmed")] == api["livestream_bookings"] + api["forum_confirmed"]
    livestream = _total_row(book, "report_livestream")
    assert livestream[T("livestream_households")] == api["livestream_households"] == 12
    assert livestream[T("livestream_sales_yuan")] == api["livestream_sales_yuan"] == 860.5
    _, slots = _sheet_rows(book, "livestream_slots")
    assert [(r[0], r[4], r[5]) for r in slots] == [(case.station_ids[0], 12, 860.5)]

    # The station page lists the slot's outcome and the season's sums (issue 17).
    page.goto(
        f"{stack.url('console')}/console/stations/{case.station_ids[0]}"
        f"?period=custom&from={case.first}&to={case.last}"
    )
    expect(page.locator("#table-livestream_slots")).to_contain_text("860.5")
    expect(page.locator("#table-livestream_season")).to_contain_text("12")

    # English is one tap away on the report too.
    page.goto(f"{stack.url('console')}/console/reports?period=last_month&district={DISTRICT}")
    page.click("#lang-switch")
    expect(page.locator("main h2").first).to_contain_text("District report")
    assert_accessible(page)
    page.close()


def test_overview_cards_compare_with_the_period_before(
    stack: Stack, admin: dict[str, str], case: ReportCase
) -> None:
    def cards() -> dict[str, dict[str, Any]]:
        reply = httpx.get(
            f"{stack.url('console')}/api/v1/console/overview",
            params={
                "district": DISTRICT,
                "period": "custom",
                "from": case.first.isoformat(),
                "to": case.last.isoformat(),
            },
            headers=admin,
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        return {card["key"]: card for card in reply.json()["cards"]}

    visits = wait_until(lambda: (found := cards()["visits"])["previous"] == 3 and found)
    assert (visits["period"], visits["change_percent"]) == (7, pytest.approx(133.333, abs=0.01))
    heat = cards()["heat_uses"]
    assert (heat["period"], heat["previous"], heat["change_percent"]) == (1, 2, -50)

    # Heating in the station's peak hours: the one use, at noon of its weekday (issue 17).
    station = httpx.get(
        f"{stack.url('console')}/api/v1/console/stations/{case.station_ids[0]}",
        params={"period": "custom", "from": case.first.isoformat(), "to": case.last.isoformat()},
        headers=admin,
        timeout=30,
    ).json()
    heated = [r for r in station["tables"]["peak_hours"]["rows"] if r["heat_uses"]]
    assert [(r["hour_of_day"], r["heat_uses"]) for r in heated] == [(12, 1)]


def test_the_report_through_the_api_is_scoped(
    stack: Stack,
    admin: dict[str, str],
    district_operator: dict[str, str],
    case: ReportCase,
) -> None:
    url = f"{stack.url('console')}/api/v1/console/report"
    params = {
        "district": DISTRICT,
        "period": "custom",
        "from": case.first.isoformat(),
        "to": case.last.isoformat(),
    }
    reply = httpx.get(url, params=params, headers=admin, timeout=60)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    (total,) = [r for r in report["tables"]["stations"]["rows"] if r["station_id"] == ""]
    assert {key: total[key] for key in FIGURES} == _usage_totals(stack, admin, case)
    assert report["previous_period"]["to"] == (case.first - timedelta(days=1)).isoformat()
    assert httpx.get(url, params=params, timeout=60).status_code == 401
    # Another district's operator cannot have it, as JSON or as XLSX.
    for path in ("", ".xlsx"):
        kept_out = httpx.get(url + path, params=params, headers=district_operator, timeout=60)
        assert kept_out.status_code == 404, kept_out.text
    bad = httpx.get(url, params={**params, "to": "2026-13-01"}, headers=admin, timeout=60)
    assert bad.status_code == 422

    # Opinions raised this month: the measure they led to, and what is still open.
    month = httpx.get(
        url, params={"district": DISTRICT, "period": "month"}, headers=admin, timeout=60
    ).json()["tables"]
    assert [
        (r["measure"], r["opinions_count"], r["opinions_text"]) for r in month["measures"]["rows"]
    ] == [(MEASURE, 1, PARKING)]
    assert [(r["station_id"], r["opinions_text"]) for r in month["open_opinions"]["rows"]] == [
        (case.station_ids[1], MICROWAVE)
    ]


class _Receiver(BaseHTTPRequestHandler):
    """A channel's webhook receiver: keeps what it is sent."""

    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers.get("X-Yizhan-Signature", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local HTTP receiver; its URL and what it received."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    finally:
        server.shutdown()


def _send_reports(stack: Stack, day: date) -> list[dict[str, Any]]:
    env = dict(os.environ)
    for name in ("stations", "telemetry", "bookings"):
        env[f"YZ_{name.upper()}_GRPC"] = f"127.0.0.1:{stack.ports[f'{name}_grpc']}"
    env["YZ_CONSOLE_PUBLIC_URL"] = stack.url("console")
    done = subprocess.run(
        ["yz-console", "send-reports", "--date", day.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_monthly_report_goes_to_a_channel_once(
    stack: Stack,
    admin: dict[str, str],
    case: ReportCase,
    receiver: tuple[str, list[tuple[str, bytes]]],
) -> None:
    url, received = receiver
    secret = "report-channel-secret-0123456789"
    channel = httpx.post(
        f"{stack.url('telemetry')}/api/v1/notification-channels",
        json={
            "name": "区工会月报",
            "kind": "webhook",
            "url": url,
            "secret": secret,
            "districts": [DISTRICT],
            "events": ["report.monthly"],
        },
        headers=admin,
    )
    assert channel.status_code == 201, channel.text
    # The month of the case's usage is due on the 1st of the month after it.
    month_first = case.used_on.replace(day=1)
    due = (month_first + timedelta(days=32)).replace(day=1)
    # Not yet due the day before: nothing is handed over.
    assert _send_reports(stack, due - timedelta(days=1)) == []
    outcomes = {o["district"]: o for o in _send_reports(stack, due)}
    assert outcomes[DISTRICT]["result"] == "sent"
    assert outcomes[DISTRICT]["deliveries"] == 1
    assert outcomes[DISTRICT]["from"] == month_first.isoformat()

    def delivered() -> list[dict[str, Any]]:
        mine = []
        for signature, body in received:
            message = json.loads(body)
            if message.get("district") == DISTRICT:
                digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                assert signature == f"sha256={digest}"
                mine.append(message)
        return mine

    (message,) = wait_until(delivered)
    assert message["event"] == "report.monthly"
    assert message["period"] == {
        "from": month_first.isoformat(),
        "to": (due - timedelta(days=1)).isoformat(),
    }
    assert message["report"]["url"].startswith(f"{stack.console}reports?")
    book = load_workbook(io.BytesIO(base64.b64decode(message["report"]["xlsx_base64"])))
    start = datetime.combine(month_first, time(0), ZONE).isoformat()
    end = datetime.combine(due, time(0), ZONE).isoformat()
    usage = httpx.get(
        f"{stack.url('telemetry')}/api/v1/usage",
        params={"scope": f"district:{DISTRICT}", "from": start, "to": end, "bucket": "day"},
        headers=admin,
    ).json()["totals"]
    row = _total_row(book, "report_stations")
    assert {key: row[T(key)] for key in FIGURES} == usage
    assert usage["visits"] >= 7

    # The delivery is listed with the channel's, as sent (once the notifier has recorded it).
    listing = (
        f"{stack.url('telemetry')}/api/v1/notification-channels/{channel.json()['id']}/deliveries"
    )

    def listed() -> list[tuple[str, Any, str]]:
        items = httpx.get(listing, headers=admin).json()["items"]
        return [(d["event"], d["alarm_id"], d["status"]) for d in items]

    wait_until(lambda: listed() == [("report.monthly", None, "sent")])
    # The console's deliveries page lists it without an alarm's severity (no `sev-None`).
    (delivery,) = httpx.get(listing, headers=admin).json()["items"]
    with httpx.Client(base_url=stack.url("console"), timeout=30) as console:
        signed_in = console.post(
            "/console/login", data={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert signed_in.status_code == 303
        page = console.get("/console/deliveries").text
    tag = re.search(rf'<tr data-delivery="{delivery["id"]}"[^>]*>', page)
    assert tag is not None
    assert tag.group(0) == f'<tr data-delivery="{delivery["id"]}" data-status="sent">'

    # Run again (a restart, a second replica, a run by hand): nothing is sent twice.
    again = {o["district"]: o for o in _send_reports(stack, due)}
    assert again[DISTRICT]["result"] == "already"
