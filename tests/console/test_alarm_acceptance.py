"""Issue 14's acceptance, as a district operator in a real browser (Chromium, zh) on the
network `make run` starts (its broker locked: only provisioned accounts publish): add a
webhook channel in the console (a field error first), create a station and a kiosk, read its
credentials, publish with them and see the figure; raise a fault and see it appear on the
alarms page without reloading; the webhook gets the signed delivery within 10 s, and the
deliveries page says it was sent. axe-core finds nothing on the alarms, channels and
deliveries pages. (The month's report is issue 14 item 3's test.)"""

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import DISTRICT, DISTRICT_PASSWORD, Stack, publish, wait_until
from tests.support.axe import assert_accessible
from tests.support.browser import chromium
from tests.support.receiver import Post, running_receiver

pytestmark = pytest.mark.e2e

STATION = "ALM-0001"
DEVICE = "ALM-0001-K1"
SECRET = "acceptance-webhook-secret"
FAULT = "DISPENSER_JAM"
DELIVERY_SECONDS = 10.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's pages."""
    with chromium() as launched:
        yield launched


def _sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url('console')}/console/login")
    page.fill("#username", "nanchuan")
    page.fill("#password", DISTRICT_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/console/")


def _add_webhook_channel(page: Page, stack: Stack, url: str) -> None:
    page.click("header nav >> text=告警通知")
    page.wait_for_url("**/console/channels")
    assert_accessible(page)
    page.fill("#ch-name", "南川值班")
    page.select_option("#ch-kind", "webhook")
    page.fill("#ch-url", url)
    page.fill("#ch-secret", "short")
    page.select_option("#ch-min_severity", "critical")
    page.click("form.manage button[type=submit]")
    # What a webhook lacks is that field's error; the rest of the form is kept.
    expect(page.locator("#ch-secret-error")).to_be_visible()
    expect(page.locator("#ch-url")).to_have_value(url)
    assert_accessible(page)
    page.fill("#ch-secret", SECRET)
    page.click("form.manage button[type=submit]")
    page.wait_for_url("**/console/channels?created=*")
    row = page.locator("table[data-table=channels] tr:has-text('南川值班')")
    expect(row).to_contain_text("Webhook（签名）")
    expect(row).to_contain_text(DISTRICT)
    expect(row).to_contain_text("严重")


def _create_station_and_kiosk(page: Page) -> tuple[str, str]:
    page.click("text=新建驿站")
    page.wait_for_url("**/console/manage/stations/new")
    page.fill("#id", STATION)
    page.fill("#name_zh", "告警验收驿站")
    page.fill("#name_en", "Alarm acceptance station")
    page.click("form.manage button[type=submit]")
    page.wait_for_url(f"**/console/manage/stations/{STATION}/devices/new?created=1")
    page.fill("#id", DEVICE)
    page.select_option("#kind", "kiosk")
    page.click("form.manage button[type=submit]")
    expect(page.locator(".credentials-card .cred-device")).to_have_text(DEVICE)
    username = page.locator(".credentials-card .cred-username").inner_text().strip()
    password = page.locator(".credentials-card .cred-password").inner_text().strip()
    return username, password


def _ours(receiver_posts: list[Post]) -> list[Post]:
    """The deliveries about this test's fault (the demo's stations of the district raise
    alarms of their own now and then)."""
    return [
        p
        for p in receiver_posts
        if p.json().get("station", {}).get("id") == STATION
        and p.json().get("alarm", {}).get("code") == FAULT
    ]


def test_a_district_operator_hears_of_a_fault_within_seconds(
    browser: Browser, stack: Stack, district_operator: dict[str, str]
) -> None:
    with running_receiver() as receiver:
        page = browser.new_page(locale="zh-CN")
        _sign_in(page, stack)
        _add_webhook_channel(page, stack, f"{receiver.url}/hook")
        username, password = _create_station_and_kiosk(page)
        # A second channel whose receiver is broken: its delivery is shown failed, with why.
        receiver.answers["/broken"] = [(500, {})] * 50
        broken = httpx.post(
            f"{stack.url('telemetry')}/api/v1/notification-channels",
            json={
                "name": "坏的接收端",
                "kind": "webhook",
                "url": f"{receiver.url}/broken",
                "secret": SECRET,
                "min_severity": "critical",
            },
            headers=district_operator,
        )
        assert broken.status_code == 201, broken.text

        # The kiosk publishes with the credentials shown (the broker is locked: only a
        # provisioned account gets through), and the figure shows on its station page.
        topic = f"yz/v1/st/{STATION}/dev/{DEVICE}/event"
        visit = {"v": 1, "seq": 1, "ts": datetime.now(UTC).isoformat(), "type": "visit", "count": 3}

        def published_visit() -> bool:
            try:
                publish(stack, topic, json.dumps(visit), username, password)
            except Exception:  # the broker learns of the account within moments
                return False
            return True

        assert wait_until(published_visit)
        figure = page.locator(".card[data-figure=visits] .period-value")

        def figure_shown() -> bool:
            page.goto(f"{stack.url('console')}/console/stations/{STATION}?period=today")
            return figure.inner_text().strip() == "3"

        assert wait_until(figure_shown)

        # A fault appears on the alarms page without reloading it.
        page.goto(f"{stack.url('console')}/console/alarms")
        page.evaluate("window.notReloaded = true")
        fault = {
            "v": 1,
            "seq": 2,
            "ts": datetime.now(UTC).isoformat(),
            "type": "fault",
            "code": FAULT,
            "severity": "critical",
            "message": "出水口卡住",
        }
        published = time.monotonic()
        publish(stack, topic, json.dumps(fault), username, password)
        expect(page.locator(f"#live-alarms tr:has-text('{DEVICE}')")).to_contain_text(
            FAULT, timeout=20_000
        )
        assert page.evaluate("window.notReloaded === true")
        assert_accessible(page)

        # The webhook has the signed delivery within 10 s of the fault.
        wait_until(lambda: _ours(receiver.on("/hook")), timeout=DELIVERY_SECONDS + 5)
        (delivery,) = _ours(receiver.on("/hook"))
        assert delivery.at - published < DELIVERY_SECONDS
        expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["X-Yizhan-Signature"] == expected
        body = delivery.json()
        assert body["event"] == "alarm.opened"
        assert body["station"] == {
            "id": STATION,
            "name": {"zh": "告警验收驿站", "en": "Alarm acceptance station"},
            "district": DISTRICT,
        }
        assert (body["device_id"], body["alarm"]["severity"]) == (DEVICE, "critical")
        assert body["alarm"]["message"] == "出水口卡住"

        # The console lists the delivery as sent.
        page.click("header nav >> text=告警通知")
        page.click("text=通知发送记录")
        page.wait_for_url("**/console/deliveries")
        row = page.locator(
            f"table[data-table=deliveries] tr:has-text('{FAULT}'):has-text('南川值班')"
        ).first
        expect(row).to_contain_text("已送达")
        expect(row).to_contain_text(STATION)
        failed = page.locator(
            f"table[data-table=deliveries] tr:has-text('{FAULT}'):has-text('坏的接收端')"
        ).first
        expect(failed).to_contain_text("失败，将重试")
        expect(failed).to_contain_text("answered 500")
        assert int(failed.locator("td.num").inner_text()) >= 1
        assert_accessible(page)

        # The same through the API: the district operator sees the channel's delivery.
        deliveries = httpx.get(
            f"{stack.url('telemetry')}/api/v1/notification-deliveries",
            headers=district_operator,
        ).json()["items"]
        assert any(d["code"] == FAULT and d["status"] == "sent" for d in deliveries)
        page.close()


def test_channel_pages_keep_to_the_operators_districts(
    stack: Stack, admin: dict[str, str], district_operator: dict[str, str]
) -> None:
    console = stack.url("console")
    with httpx.Client(base_url=console) as client:
        signed_in = client.post(
            "/console/login", data={"username": "nanchuan", "password": DISTRICT_PASSWORD}
        )
        assert signed_in.status_code == 303
        mail = {
            "name": "邮件值班",
            "kind": "email",
            "recipients": "ops@example.org, lead@example.org",
            "min_severity": "warning",
            "events": ["alarm.opened", "alarm.cleared"],
            "quiet_from": "22:00",
            "quiet_until": "07:00",
        }
        # Another district is that field's error; nothing is created.
        elsewhere = client.post("/console/channels", data={**mail, "districts": "渝中区"})
        assert elsewhere.status_code == 422
        assert 'id="ch-districts-error"' in elsewhere.text
        # A form posted from another site is refused, even with the session cookie.
        forged = client.post(
            "/console/channels", data=mail, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403
        created = client.post("/console/channels", data={**mail, "repeat_minutes": "30"})
        assert created.status_code == 303, created.text
        listed = client.get("/console/channels")
        assert "ops@example.org, lead@example.org" in listed.text
        assert "每30分钟重复" in listed.text
        assert "免打扰 22:00–07:00" in listed.text
        assert "repeat every 30 min" in client.get("/console/channels?lang=en").text

        # The admin's channel for another district does not exist for the district operator.
        theirs = httpx.post(
            f"{stack.url('telemetry')}/api/v1/notification-channels",
            json={
                "name": "渝中值班",
                "kind": "sms",
                "recipients": ["13800138000"],
                "districts": ["渝中区"],
            },
            headers=admin,
        )
        assert theirs.status_code == 201, theirs.text
        assert "渝中值班" not in client.get("/console/channels").text
        assert client.post(f"/console/channels/{theirs.json()['id']}/delete").status_code == 404
        mine = [
            c["id"]
            for c in httpx.get(
                f"{stack.url('telemetry')}/api/v1/notification-channels", headers=district_operator
            ).json()["items"]
            if c["name"] == "邮件值班"
        ]
        assert client.post(f"/console/channels/{mine[0]}/delete").status_code == 303
        assert "邮件值班" not in client.get("/console/channels").text


def test_a_dark_station_shows_on_the_alarms_page_and_in_the_api(
    stack: Stack, admin: dict[str, str], district_operator: dict[str, str]
) -> None:
    stations, telemetry = stack.url("stations"), stack.url("telemetry")
    body = {
        "id": "ALM-DARK",
        "name": {"zh": "熄灯驿站", "en": "Dark station"},
        "district": DISTRICT,
    }
    assert httpx.post(f"{stations}/api/v1/stations", json=body, headers=admin).status_code == 201
    device = httpx.post(
        f"{stations}/api/v1/stations/ALM-DARK/devices",
        json={"id": "ALM-DARK-W1", "kind": "water"},
        headers=admin,
    ).json()
    topic = "yz/v1/st/ALM-DARK/dev/ALM-DARK-W1/status"
    user, password = device["mqtt"]["username"], device["mqtt"]["password"]

    def status(state: str) -> bool:
        payload = {"v": 1, "state": state, "ts": datetime.now(UTC).isoformat()}
        try:
            publish(stack, topic, json.dumps(payload), user, password)
        except Exception:  # the broker learns of the account within moments
            return False
        return True

    def dark() -> bool:
        reply = httpx.get(
            f"{telemetry}/api/v1/stations/ALM-DARK/devices/state", headers=district_operator
        )
        return bool(reply.json().get("dark"))

    assert wait_until(lambda: status("online"))
    assert wait_until(lambda: status("offline") and dark())
    with httpx.Client(base_url=stack.url("console")) as client:
        client.post("/console/login", data={"username": "nanchuan", "password": DISTRICT_PASSWORD})

        def dark_row() -> str:
            page = client.get("/console/alarms").text
            rows = [row for row in page.split("<tr") if "station_dark" in row and "ALM-DARK" in row]
            return rows[0] if rows else ""

        row = wait_until(dark_row)
        assert "整个驿站" in row
        assert "sev-critical" in row
    assert wait_until(lambda: status("online") and not dark())
