"""What people read: the delivery body (CONTRACT §3's webhook JSON, kept on each delivery) as
text for the robots, e-mail and SMS, Chinese first with English after (an SMS is Chinese
only: it is short). Times in the channel's zone."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EVENTS_ZH = {"alarm.opened": "告警", "alarm.cleared": "已恢复"}
EVENTS_EN = {"alarm.opened": "alarm", "alarm.cleared": "cleared"}
SEVERITIES_ZH = {"warning": "警告", "critical": "严重"}
# The codes the service itself raises; a device's own fault codes are shown as they come.
CODES_ZH = {
    "offline": "设备离线",
    "station_dark": "驿站全部设备离线",
    "clock": "设备时钟错误（消息被拒收）",
}
CODES_EN = {
    "offline": "device offline",
    "station_dark": "every device of the station offline",
    "clock": "device clock wrong (messages refused)",
}


@dataclass(frozen=True)
class Summary:
    """A subject line and a text, both in Chinese then English."""

    subject: str
    text: str
    short: str


def _local(stamp: str, tz: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(zoneinfo.ZoneInfo(tz)).strftime("%m-%d %H:%M")


def _tag_zh(body: dict[str, Any]) -> str:
    if body.get("escalated"):
        return "升级"
    if body.get("reminder"):
        return f"提醒 第{body['reminder']}次"
    return EVENTS_ZH.get(str(body["event"]), str(body["event"]))


def _tag_en(body: dict[str, Any]) -> str:
    if body.get("escalated"):
        return "escalated"
    if body.get("reminder"):
        return f"reminder {body['reminder']}"
    return EVENTS_EN.get(str(body["event"]), str(body["event"]))


def summarize(body: dict[str, Any], tz: str) -> Summary:
    """The delivery as texts for people."""
    station, alarm = body["station"], body["alarm"]
    code = alarm["code"]
    device = body.get("device_id") or ""
    since = _local(alarm["since"], tz)
    severity_zh = SEVERITIES_ZH.get(alarm["severity"], alarm["severity"])
    what_zh = CODES_ZH.get(code, code)
    what_en = CODES_EN.get(code, code)
    name_zh = station["name"]["zh"] or station["id"]
    name_en = station["name"]["en"] or station["id"]
    subject = f"【驿站{_tag_zh(body)}】{name_zh}：{what_zh}（{severity_zh}）"
    detail = f" · {alarm['message']}" if alarm.get("message") else ""
    lines_zh = [
        subject,
        f"驿站：{name_zh}（{station['district']}，{station['id']}）",
        f"设备：{device or '整个驿站'}",
        f"告警：{what_zh} · {severity_zh}{detail}",
        f"开始：{since}",
    ]
    if body["event"] == "alarm.cleared":
        lines_zh.append(f"恢复：{_local(body['at'], tz)}")
    line_en = (
        f"[Yizhan {_tag_en(body)}] {name_en} ({station['district']}): "
        f"{device + ': ' if device else ''}{what_en} ({alarm['severity']}) since {since}"
    )
    who = f"{name_zh} {device}" if device else name_zh
    short = f"【驿站】{who} {what_zh}（{severity_zh}）{_tag_zh(body)}，{since}"
    return Summary(subject=subject, text="\n".join([*lines_zh, "", line_en]), short=short)
