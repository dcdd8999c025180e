"""Notification channels and their deliveries in the database, scoped like everything else:
an admin sees every channel; a district operator the channels whose districts are all theirs.
A channel created with no districts covers its creator's whole scope: the network for an
admin (stored as no districts), the operator's own districts otherwise (stored as such)."""

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.auth import Operator
from yizhan.telemetry.notifications import targets
from yizhan.telemetry.schemas import ChannelIn

SEVERITIES = ("warning", "critical")
EVENTS = ("alarm.opened", "alarm.cleared", "report.monthly")
KINDS = ("webhook", "sms", "wecom", "dingtalk", "email")
ROBOT_KINDS = ("wecom", "dingtalk")
# Mainland mobile numbers, as bookings takes them; e-mail addresses checked only for shape
# (the mail server is the judge).
PHONE = re.compile(r"^1[3-9][0-9]{9}$")
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
MIN_WEBHOOK_SECRET = 16
# A report delivery carries the XLSX in a signed JSON body: only a webhook can take it.
REPORT_KINDS = ("webhook",)


@dataclass(frozen=True)
class Channel:
    """A channel as operators see it (never its secret)."""

    id: int
    name: str
    kind: str
    url: str
    districts: list[str]
    min_severity: str
    events: list[str]
    created_by: str
    created_at: datetime
    recipients: list[str]
    repeat_minutes: int | None
    escalate_after_minutes: int | None
    escalate_to: int | None
    quiet_from: str | None
    quiet_until: str | None
    quiet_tz: str


@dataclass(frozen=True)
class Delivery:
    """One alarm event, or one district report, sent (or being sent) to one channel."""

    id: int
    event: str
    alarm_id: int | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime
    purpose: str
    channel_id: int
    channel_name: str
    channel_kind: str
    # None for a report delivery (no alarm behind it).
    station_id: str | None
    device_id: str | None
    code: str | None
    severity: str | None


_COLUMNS = (
    "id, name, kind, url, districts, min_severity, events, created_by, created_at, recipients,"
    " repeat_minutes, escalate_after_minutes, escalate_to, to_char(quiet_from, 'HH24:MI'),"
    " to_char(quiet_until, 'HH24:MI'), quiet_tz"
)
# Visible: every channel for whoever sees the network, else those inside one's districts.
_VISIBLE = "(:everything OR (cardinality(districts) > 0 AND districts <@ CAST(:mine AS text[])))"
_DELIVERY_COLUMNS = """
d.id, COALESCE(e.event, 'report.monthly'), e.alarm_id, d.status, d.attempts, d.last_error,
d.next_attempt_at, d.sent_at, d.created_at, d.purpose, c.id, c.name, c.kind, a.station_id,
a.device_id, a.code, a.severity
FROM notification_deliveries d
LEFT JOIN alarm_events e ON e.id = d.alarm_event_id
LEFT JOIN alarms a ON a.id = e.alarm_id
JOIN notification_channels c ON c.id = d.channel_id
"""


def _scope(operator: Operator) -> dict[str, object]:
    return {"everything": operator.sees_everything, "mine": list(operator.districts)}


def kind_errors(body: ChannelIn, allow_private: bool) -> list[tuple[str, str]]:
    """What the channel's kind needs and lacks, as (field, message) pairs; none when fine."""
    errors: list[tuple[str, str]] = []
    if body.kind in ("webhook", "wecom", "dingtalk"):
        if not body.url:
            errors.append(("url", "a URL is required for this kind of channel"))
        else:
            try:
                targets.check_url(body.url, allow_private)
            except targets.TargetRefused as exc:
                errors.append(("url", str(exc)))
    if body.kind == "webhook" and len(body.secret) < MIN_WEBHOOK_SECRET:
        errors.append(("secret", f"at least {MIN_WEBHOOK_SECRET} characters"))
    if body.kind in ("sms", "email"):
        pattern, what = (PHONE, "phone number") if body.kind == "sms" else (EMAIL, "address")
        if not body.recipients:
            errors.append(("recipients", f"at least one {what}"))
        for recipient in body.recipients:
            if not pattern.match(recipient):
                errors.append(("recipients", f"not a {what}: {recipient[:80]}"))
                break
    if "report.monthly" in body.events and body.kind not in REPORT_KINDS:
        errors.append(("events", "monthly reports go to webhook channels only"))
    if (body.quiet_from is None) != (body.quiet_until is None):
        errors.append(("quiet_until", "give both ends of the quiet hours, or neither"))
    elif body.quiet_from is not None and body.quiet_from == body.quiet_until:
        errors.append(("quiet_until", "the quiet hours must not start and end together"))
    try:
        zoneinfo.ZoneInfo(body.quiet_tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.append(("quiet_tz", "not an IANA time zone"))
    if (body.escalate_to is None) != (body.escalate_after_minutes is None):
        errors.append(("escalate_to", "give both the channel and the minutes, or neither"))
    return errors


def _clock(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


async def create(
    session: AsyncSession, body: ChannelIn, operator: Operator, now: datetime
) -> int | None:
    """Store a channel (districts and kind already checked); its id, or None when it would
    escalate to a channel the operator cannot see."""
    districts: Sequence[str] = body.districts
    if not districts and not operator.sees_everything:
        districts = operator.districts
    if body.escalate_to is not None and await _hidden(session, body.escalate_to, operator):
        return None
    values: dict[str, Any] = {
        "name": body.name.strip(),
        "kind": body.kind,
        "url": body.url,
        "secret": body.secret,
        "districts": sorted(set(districts)),
        "min_severity": body.min_severity,
        "events": list(dict.fromkeys(body.events)),
        "by": operator.username,
        "now": now,
        "recipients": list(dict.fromkeys(body.recipients)),
        "repeat": body.repeat_minutes,
        "escalate_after": body.escalate_after_minutes,
        "escalate_to": body.escalate_to,
        "quiet_from": _clock(body.quiet_from),
        "quiet_until": _clock(body.quiet_until),
        "quiet_tz": body.quiet_tz,
    }
    channel_id = await session.scalar(
        text(
            "INSERT INTO notification_channels"
            " (name, kind, url, secret, districts, min_severity, events, created_by, created_at,"
            " recipients, repeat_minutes, escalate_after_minutes, escalate_to, quiet_from,"
            " quiet_until, quiet_tz)"
            " VALUES (:name, :kind, :url, :secret, :districts, :min_severity, :events,"
            " :by, :now, :recipients, :repeat, :escalate_after, :escalate_to, :quiet_from,"
            " :quiet_until, :quiet_tz) RETURNING id"
        ),
        values,
    )
    await session.commit()
    return int(channel_id or 0)


async def _hidden(session: AsyncSession, channel_id: int, operator: Operator) -> bool:
    """True when the channel is NOT one the operator may see."""
    found = await session.scalar(
        text(f"SELECT id FROM notification_channels WHERE id = :id AND {_VISIBLE}"),  # noqa: S608 (constants)
        {"id": channel_id, **_scope(operator)},
    )
    return found is None


def masked_url(kind: str, url: str) -> str:
    """A robot's URL as listed: its query (the robot's key or access token, which lets anyone
    post to the group) cut to its last 4 characters."""
    if kind not in ROBOT_KINDS:
        return url
    parts = urlsplit(url)
    query = "&".join(
        f"{name}=…{value[-4:]}" for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(query=query))


async def visible(session: AsyncSession, operator: Operator) -> list[Channel]:
    """The channels the operator may see, oldest first (robot keys masked)."""
    rows = await session.execute(
        text(
            f"SELECT {_COLUMNS} FROM notification_channels WHERE {_VISIBLE} ORDER BY id"  # noqa: S608 (constants)
        ),
        _scope(operator),
    )
    found = [Channel(*row) for row in rows.all()]
    return [replace(c, url=masked_url(c.kind, c.url)) for c in found]


async def delete(session: AsyncSession, channel_id: int, operator: Operator) -> bool:
    """Remove a visible channel and its deliveries; False when there is none."""
    removed = await session.scalar(
        text(
            f"DELETE FROM notification_channels WHERE id = :id AND {_VISIBLE} RETURNING id"  # noqa: S608 (constants)
        ),
        {"id": channel_id, **_scope(operator)},
    )
    await session.commit()
    return removed is not None


async def deliveries(
    session: AsyncSession, channel_id: int, operator: Operator, limit: int
) -> list[Delivery] | None:
    """The channel's latest deliveries, newest first; None when the channel is not visible."""
    if await _hidden(session, channel_id, operator):
        return None
    rows = await session.execute(
        text(
            f"SELECT {_DELIVERY_COLUMNS} WHERE d.channel_id = :id ORDER BY d.id DESC LIMIT :limit"
        ),
        {"id": channel_id, "limit": limit},
    )
    return [Delivery(*row) for row in rows.all()]


async def all_deliveries(session: AsyncSession, operator: Operator, limit: int) -> list[Delivery]:
    """The latest deliveries of every channel the operator may see, newest first."""
    visible_channels = _VISIBLE.replace("districts", "c.districts")
    rows = await session.execute(
        text(
            f"SELECT {_DELIVERY_COLUMNS} WHERE {visible_channels} ORDER BY d.id DESC LIMIT :limit"
        ),
        {"limit": limit, **_scope(operator)},
    )
    return [Delivery(*row) for row in rows.all()]
