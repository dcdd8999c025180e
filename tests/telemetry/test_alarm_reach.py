"""Alarms that reach people (issue 14): every channel kind against a real receiver (HTTP
robots and gateways on 127.0.0.1, a real SMTP server), quiet hours, and the notifier's
repeats, escalation and retries run turn by turn on a database of their own (so that the
clock can be moved on), with station facts from the real stations service."""

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import json
import time as time_module
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

import yizhan.telemetry
from tests.support.operators import create_operator, login
from tests.support.receiver import Receiver, running_receiver
from tests.support.services import RunningService
from tests.telemetry.conftest import Database, Kiosk, Registry, unique, wait_until
from yizhan.api.stations.v1 import stations_pb2_grpc
from yizhan.api.telemetry.v1 import notifications_pb2, notifications_pb2_grpc
from yizhan.common import rpc
from yizhan.common.auth import Operator
from yizhan.common.db import create_engine, run_migrations, session_factory
from yizhan.common.rpc import sync_channel
from yizhan.common.settings import DEV_SERVICE_TOKEN
from yizhan.common.sms import WebhookSmsSender
from yizhan.devstack.processes import free_port
from yizhan.telemetry.notifications import channels, notifier, quiet, senders, webhook
from yizhan.telemetry.peers.stations import StationsClient
from yizhan.telemetry.schemas import ChannelIn

MIGRATIONS = Path(yizhan.telemetry.__file__).parent / "migrations"
SECRET = "a-webhook-secret-of-some-length"
DING_SECRET = "SEC0123456789abcdef"
ADMIN = Operator("admin", "admin")


def _body(code: str = "LEAK", severity: str = "warning", device: str | None = "W-1") -> bytes:
    return webhook.render(
        webhook.AlarmFacts(
            event="alarm.opened",
            at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
            station_id="CQ-1",
            station_name_zh="解放碑驿站",
            station_name_en="Jiefangbei",
            district="渝中区",
            device_id=device,
            code=code,
            severity=severity,
            since=datetime(2026, 11, 30, 1, 58, tzinfo=UTC),
            message="water on the floor",
        )
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


class Inbox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


async def _send(target: senders.Target, body: bytes, **kinds: Any) -> None:
    async with httpx.AsyncClient() as client:
        await senders.deliver(
            senders.Senders(client, kinds.get("sms"), kinds.get("mail"), True), target, body
        )


def test_wecom_robot_gets_its_text_message(receiver: Receiver) -> None:
    target = senders.Target(
        "wecom", f"{receiver.url}/cgi-bin/webhook/send?key=K", "", [], "Asia/Shanghai"
    )
    asyncio.run(_send(target, _body()))
    (post,) = receiver.on("/cgi-bin/webhook/send")
    sent = post.json()
    assert sent["msgtype"] == "text"
    content = sent["text"]["content"]
    # Chinese first, in the channel's zone (01:58 UTC is 09:58 in Chongqing), English after.
    assert content.startswith("【驿站告警】解放碑驿站：LEAK（警告）")
    assert "11-30 09:58" in content
    assert "[Yizhan alarm] Jiefangbei (渝中区): W-1: LEAK (warning)" in content


def test_a_robot_that_answers_an_error_code_has_not_taken_the_message(receiver: Receiver) -> None:
    receiver.answer = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    target = senders.Target("wecom", f"{receiver.url}/send", "", [], "Asia/Shanghai")
    with pytest.raises(senders.SendFailed, match="93000"):
        asyncio.run(_send(target, _body()))


def test_dingtalk_robot_url_is_signed_as_dingtalk_documents(receiver: Receiver) -> None:
    target = senders.Target(
        "dingtalk", f"{receiver.url}/robot/send?access_token=T", DING_SECRET, [], "Asia/Shanghai"
    )
    asyncio.run(_send(target, _body("station_dark", "critical", None)))
    (post,) = receiver.on("/robot/send")
    query = parse_qs(urlsplit(post.path).query)
    assert query["access_token"] == ["T"]
    timestamp = query["timestamp"][0]
    # The receiver's own check: Base64(HMAC-SHA256(secret, "<timestamp>\n<secret>")).
    expected = base64.b64encode(
        hmac.new(
            DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256
        ).digest()
    ).decode()
    raw_sign = urlsplit(post.path).query.split("sign=")[1]
    assert unquote_plus(raw_sign) == expected
    assert abs(int(timestamp) / 1000 - datetime.now(UTC).timestamp()) < 60
    content = post.json()["text"]["content"]
    assert "驿站全部设备离线" in content
    assert "设备：整个驿站" in content


def test_email_goes_through_a_real_smtp_server(smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    mail = senders.MailSettings("127.0.0.1", port, "none", "", "", "alarms@yizhan.example")
    target = senders.Target(
        "email", "", "", ["ops@example.org", "lead@example.org"], "Asia/Shanghai"
    )
    asyncio.run(_send(target, _body(), mail=mail))
    ((to, message),) = inbox.messages
    assert to == ["ops@example.org", "lead@example.org"]
    assert message["Subject"] == "【驿站告警】解放碑驿站：LEAK（警告）"
    assert message["From"] == "alarms@yizhan.example"
    body = message.get_body(("plain",))
    assert body is not None
    assert "water on the floor" in body.get_content()


def test_without_a_mail_server_or_sms_sender_the_delivery_fails_visibly() -> None:
    for kind, recipients in (("email", ["a@b.cn"]), ("sms", ["13800138000"])):
        target = senders.Target(kind, "", "", recipients, "Asia/Shanghai")
        with pytest.raises(senders.SendFailed, match="configured"):
            asyncio.run(_send(target, _body()))


def test_sms_goes_to_each_number_through_the_pluggable_sender(receiver: Receiver) -> None:
    sms = WebhookSmsSender(f"{receiver.url}/sms", "gateway-token")
    target = senders.Target("sms", "", "", ["13800138000", "13900139000"], "Asia/Shanghai")
    asyncio.run(_send(target, _body(), sms=sms))
    posts = receiver.on("/sms")
    assert [p.json()["phone"] for p in posts] == ["13800138000", "13900139000"]
    assert posts[0].headers["Authorization"] == "Bearer gateway-token"
    assert posts[0].json()["text"] == "【驿站】解放碑驿站 W-1 LEAK（警告）告警，11-30 09:58"


def test_quiet_hours_hold_warnings_until_the_window_ends_but_not_critical_alarms() -> None:
    # 23:30 in Chongqing, quiet 22:00-07:00 (across midnight).
    now = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    held = quiet.held_until(now, time(22), time(7), "Asia/Shanghai", "warning")
    assert held == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert quiet.held_until(now, time(22), time(7), "Asia/Shanghai", "critical") is None
    assert quiet.held_until(now, time(8), time(20), "Asia/Shanghai", "warning") is None
    assert quiet.held_until(now, None, None, "Asia/Shanghai", "warning") is None
    # 06:59 local is still quiet; the window ends the same morning.
    early = datetime(2026, 11, 30, 22, 59, tzinfo=UTC)
    assert quiet.held_until(early, time(22), time(7), "Asia/Shanghai", "warning") == (
        datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    )


def test_channel_kinds_say_what_they_lack() -> None:
    def fields(**body: Any) -> list[str]:
        return [name for name, _ in channels.kind_errors(ChannelIn(name="n", **body), True)]

    assert fields(kind="webhook", url="http://127.0.0.1/x", secret="short") == ["secret"]
    assert fields(kind="wecom") == ["url"]
    assert fields(kind="dingtalk", url="http://127.0.0.1/robot") == []
    assert fields(kind="sms", recipients=["12345"]) == ["recipients"]
    assert fields(kind="email") == ["recipients"]
    assert fields(kind="email", recipients=["ops@example.org"], quiet_from="22:00") == [
        "quiet_until"
    ]
    assert fields(kind="sms", recipients=["13800138000"], escalate_to=1) == ["escalate_to"]
    assert fields(kind="sms", recipients=["13800138000"], quiet_tz="Mars/Olympus") == ["quiet_tz"]


@pytest.mark.integration
def test_repeats_escalation_quiet_hours_and_retries_turn_by_turn(
    new_database: Any, stations: RunningService, registry: Registry, receiver: Receiver
) -> None:
    url = new_database("tm_notify")
    run_migrations(url, MIGRATIONS)
    station = registry.station(unique("ST"), district="Yuzhong")
    asyncio.run(_turn_by_turn(url, stations, station, receiver))


async def _turn_by_turn(
    url: str, stations: RunningService, station: str, receiver: Receiver
) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    channel = rpc.aio_channel(stations.grpc_address, DEV_SERVICE_TOKEN)
    directory = StationsClient(stations_pb2_grpc.StationDirectoryStub(channel))
    settings = notifier.NotifierSettings(1.0, 2.0, 600.0, True)
    start = datetime.now(UTC).replace(microsecond=0)
    # Quiet from an hour ago to an hour from now, in Chongqing's time.
    local = start.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    quiet_from = (local - timedelta(hours=1)).strftime("%H:%M")
    quiet_until = (local + timedelta(hours=1)).strftime("%H:%M")
    async with sessions() as session, httpx.AsyncClient() as client:
        send = senders.Senders(client, None, None, True)

        async def create(**body: Any) -> int:
            made = await channels.create(
                session, ChannelIn(name=unique("ch"), **body), ADMIN, start
            )
            assert made is not None
            return made

        on_call = await create(
            kind="wecom",
            url=f"{receiver.url}/oncall",
            min_severity="critical",
            quiet_from=quiet_from,
            quiet_until=quiet_until,
        )
        first = await create(
            kind="webhook",
            url=f"{receiver.url}/first",
            secret=SECRET,
            repeat_minutes=5,
            escalate_after_minutes=10,
            escalate_to=on_call,
        )
        ding = await create(
            kind="dingtalk",
            url=f"{receiver.url}/ding?access_token=T",
            secret=DING_SECRET,
            min_severity="critical",
        )

        async def turn(at: datetime) -> None:
            await notifier.fan_out(session, directory, at)
            await notifier.plan(session, at)
            await notifier.send_due(session, send, settings, at)

        async def statuses(channel_id: int) -> list[tuple[str, str, int]]:
            found = await channels.deliveries(session, channel_id, ADMIN, 50)
            assert found is not None
            return [(d.purpose, d.status, d.attempts) for d in reversed(found)]

        alarm = await session.scalar(
            text(
                "INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)"
                " VALUES ('W-1', :station, 'LEAK', 'warning', 'wet', :at) RETURNING id"
            ),
            {"station": station, "at": start},
        )
        await session.commit()
        await turn(start)
        (opened,) = receiver.on("/first")
        assert opened.headers["X-Yizhan-Signature"] == webhook.signature(SECRET, opened.body)
        assert opened.json()["station"]["district"] == "Yuzhong"

        # Repeated every 5 minutes after the last one went out, while open and unacknowledged.
        await turn(start + timedelta(minutes=4))
        assert len(receiver.on("/first")) == 1
        await turn(start + timedelta(minutes=6))
        reminder = receiver.on("/first")[1]
        assert reminder.json()["reminder"] == 1
        assert reminder.headers["X-Yizhan-Signature"] == webhook.signature(SECRET, reminder.body)

        # Ten minutes unacknowledged: escalated to the on-call channel, whose quiet hours
        # hold a warning until they end.
        await turn(start + timedelta(minutes=11))
        assert ("escalation", "quiet", 0) in await statuses(on_call)
        assert receiver.on("/oncall") == []
        await turn(start + timedelta(hours=1, minutes=1))
        (escalated,) = receiver.on("/oncall")
        assert "【驿站升级】" in escalated.json()["text"]["content"]
        # Escalated once only.
        await turn(start + timedelta(hours=1, minutes=30))
        assert len(receiver.on("/oncall")) == 1

        # Acknowledged: no more reminders.
        await session.execute(
            text(
                "INSERT INTO alarm_acks (alarm_id, acknowledged_by, acknowledged_at)"
                " VALUES (:id, 'ops', :at)"
            ),
            {"id": alarm, "at": start},
        )
        await session.commit()
        told = len(receiver.on("/first"))
        await turn(start + timedelta(hours=3))
        assert len(receiver.on("/first")) == told

        # A critical alarm goes through the quiet hours at once; a robot that refuses it
        # (errcode) is retried with backoff until it takes it.
        receiver.answers["/ding"] = [(200, {"errcode": 310000, "errmsg": "sign not match"})]
        await session.execute(
            text(
                "INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)"
                " VALUES (NULL, :station, 'station_dark', 'critical', 'dark', :at)"
            ),
            {"station": station, "at": start},
        )
        await session.commit()
        await turn(start + timedelta(minutes=1))
        assert len(receiver.on("/oncall")) == 2  # the escalation, now the critical alarm
        failed = await channels.deliveries(session, ding, ADMIN, 1)
        assert failed is not None
        assert failed[0].status == "failed"
        assert "310000" in (failed[0].last_error or "")
        assert failed[0].device_id is None
        await turn(start + timedelta(minutes=1, seconds=1))
        assert len(receiver.on("/ding")) == 1  # not yet: the backoff is 2 s
        await turn(start + timedelta(minutes=1, seconds=5))
        assert len(receiver.on("/ding")) == 2
        assert await statuses(ding) == [("event", "sent", 2)]

        # The first alarm clears: the channel it was escalated to hears it too, although a
        # warning is below its minimum severity.
        await session.execute(
            text("UPDATE alarms SET cleared_at = :at WHERE id = :id"),
            {"id": alarm, "at": start + timedelta(hours=4)},
        )
        await session.commit()
        await turn(start + timedelta(hours=4))
        cleared = [p for p in receiver.on("/oncall") if "已恢复" in p.json()["text"]["content"]]
        assert len(cleared) == 1
        assert [
            p.json()["alarm"]["code"]
            for p in receiver.on("/first")
            if p.json()["event"] == "alarm.cleared"
        ] == ["LEAK"]
        everything = await channels.all_deliveries(session, ADMIN, 50)
        assert {d.channel_id for d in everything} == {first, on_call, ding}
    await channel.close()
    await engine.dispose()


@pytest.mark.integration
def test_a_station_whose_devices_are_all_offline_is_dark_until_one_is_heard(
    registry: Registry, kiosk: Kiosk, operator: httpx.Client, telemetry_database: Database
) -> None:
    station = registry.station(unique("ST"))
    devices = [registry.device(station, unique(kind), kind) for kind in ("water", "kiosk")]

    def status(device: str, state: str) -> None:
        kiosk.publish(
            f"yz/v1/st/{station}/dev/{device}/status",
            {"v": 1, "state": state, "ts": datetime.now(UTC).isoformat()},
        )

    def state() -> dict[str, Any]:
        reply = operator.get(f"/api/v1/stations/{station}/devices/state")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def dark_alarms(open_only: bool = True) -> list[tuple[Any, ...]]:
        rows = telemetry_database.rows(
            "SELECT device_id, severity, cleared_at FROM alarms"
            " WHERE station_id = %s AND code = 'station_dark'",
            (station,),
        )
        return [row for row in rows if row[2] is None or not open_only]

    for device in devices:
        status(device, "online")
    wait_until(lambda: len(state()["items"]) == 2)
    status(devices[0], "offline")
    wait_until(lambda: not state()["items"][0]["online"] or not state()["items"][1]["online"])
    # One of two offline: not dark.
    assert state()["dark"] is False
    assert dark_alarms() == []
    status(devices[1], "offline")
    wait_until(lambda: state()["dark"] is True)
    wait_until(lambda: dark_alarms() != [])
    assert dark_alarms() == [(None, "critical", None)]
    status(devices[1], "online")
    wait_until(lambda: dark_alarms() == [])
    assert state()["dark"] is False
    assert len(dark_alarms(open_only=False)) == 1


@pytest.mark.integration
def test_a_kiosk_whose_messages_keep_being_refused_for_their_time_has_a_clock_alarm(
    registry: Registry, kiosk: Kiosk, operator: httpx.Client
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("kiosk"), "kiosk")
    base = f"yz/v1/st/{station}/dev/{device}"
    kiosk.publish(f"{base}/status", {"v": 1, "state": "online", "ts": "2020-01-01T00:00:00Z"})

    def codes() -> list[str]:
        items = operator.get(f"/api/v1/stations/{station}/devices/state").json()["items"]
        return [alarm["code"] for item in items for alarm in item["alarms"]]

    wrong = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for seq in (1, 2):
        kiosk.publish(
            f"{base}/event", {"v": 1, "seq": seq, "ts": wrong, "type": "visit", "count": 1}
        )
    # Two refusals are not yet "keep arriving".
    time_module.sleep(3)
    assert "clock" not in codes()
    kiosk.publish(f"{base}/event", {"v": 1, "seq": 3, "ts": wrong, "type": "visit", "count": 1})
    wait_until(lambda: "clock" in codes())
    # Its clock corrected, the kiosk's next message is accepted: the alarm clears.
    now = datetime.now(UTC).isoformat()
    kiosk.publish(f"{base}/event", {"v": 1, "seq": 4, "ts": now, "type": "visit", "count": 1})
    wait_until(lambda: "clock" not in codes())


@pytest.mark.integration
def test_the_console_manages_channels_over_grpc_with_the_operators_own_rights(
    stations_db: str, stations: RunningService, telemetry: RunningService
) -> None:
    district = unique("Beibei")
    users = {role: unique(role) for role in ("district", "viewer")}
    for role, name in users.items():
        create_operator(stations_db, name, "grpc-operator-password", role, district)
    tokens = {role: login(stations, name, "grpc-operator-password") for role, name in users.items()}
    body = {"name": "值班", "kind": "sms", "recipients": ["13800138000"]}
    with sync_channel(telemetry.grpc_address, DEV_SERVICE_TOKEN) as channel:
        admin = notifications_pb2_grpc.NotificationAdminStub(channel)

        def call(method: str, role: str, **fields: Any) -> notifications_pb2.NotificationReply:
            token = tokens.get(role, "not-a-token")
            request = notifications_pb2.NotificationRequest(operator_token=token, **fields)
            reply: notifications_pb2.NotificationReply = getattr(admin, method)(request)
            return reply

        assert call("ListChannels", "nobody").code == "unauthorized"
        assert call("CreateChannel", "viewer", body_json=json.dumps(body)).code == "read_only"
        other = {**body, "districts": ["Elsewhere"]}
        assert call("CreateChannel", "district", body_json=json.dumps(other)).code == (
            "out_of_scope"
        )
        bad = call("CreateChannel", "district", body_json=json.dumps({**body, "recipients": ["1"]}))
        assert (bad.code, [e.field for e in bad.errors]) == ("invalid", ["recipients"])
        made = call("CreateChannel", "district", body_json=json.dumps(body))
        assert made.code == "", made
        channel_id = json.loads(made.result_json)["id"]
        # The viewer of the district sees it, cannot delete it; its creator can.
        listed = json.loads(call("ListChannels", "viewer").result_json)["items"]
        assert [(c["id"], c["districts"]) for c in listed] == [(channel_id, [district])]
        assert call("DeleteChannel", "viewer", channel_id=channel_id).code == "read_only"
        assert call("DeleteChannel", "district", channel_id=channel_id).code == ""
        assert call("DeleteChannel", "district", channel_id=channel_id).code == (
            "channel_not_found"
        )
        assert json.loads(call("ListDeliveries", "viewer").result_json) == {"items": []}


def test_a_robots_key_is_not_listed() -> None:
    # The key lets anyone post to the group: listings keep only its end.
    assert channels.masked_url(
        "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0"
    ) == ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…97a0")
    assert channels.masked_url("webhook", "https://hooks.example.org/x?a=1") == (
        "https://hooks.example.org/x?a=1"
    )
