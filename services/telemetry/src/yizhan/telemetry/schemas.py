"""The telemetry API's request and response bodies (CONTRACT §3), in one place as in the other
services; the routes in api/ stay thin."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# GET /api/v1/usage


class FiguresOut(BaseModel):
    """The usage figures."""

    visits: int
    charge_sessions: int
    energy_kwh: float
    water_liters: float
    dispenses: int
    heat_uses: int
    heat_minutes: float


class BucketOut(BaseModel):
    """One calendar bucket: its start in the requested zone, and its figures."""

    start: str
    visits: int
    charge_sessions: int
    energy_kwh: float
    water_liters: float
    dispenses: int
    heat_uses: int
    heat_minutes: float


class UsageOut(BaseModel):
    """Every bucket of the range, zeros included, and the totals."""

    scope: str
    bucket: str
    tz: str
    series: list[BucketOut]
    totals: FiguresOut


# GET /api/v1/stations/{id}/devices/state


class AlarmOut(BaseModel):
    """An open alarm."""

    code: str
    severity: str
    since: datetime


class ChargingOut(BaseModel):
    """A charging session in progress (started, not stopped)."""

    session: str
    connector: int | None
    since: datetime


class DeviceStateOut(BaseModel):
    """A device as telemetry last heard of it (CONTRACT §3, plus its sessions in progress)."""

    device_id: str
    online: bool
    last_seen: datetime
    alarms: list[AlarmOut]
    charging: list[ChargingOut]


class DeviceStatesOut(BaseModel):
    """The devices of a station that have reported at least once."""

    items: list[DeviceStateOut]
    # The station is dark: telemetry has heard devices of it and every one is offline now
    # (its `station_dark` alarm is open; dark_stations.py).
    dark: bool = False


# GET /api/v1/dead-letters[/summary]


class DeadLetterOut(BaseModel):
    """A refused message: its topic, payload (as text), reason code and detail."""

    id: int
    received_at: datetime
    topic: str
    station_id: str | None
    device_id: str | None
    reason: str
    detail: str
    payload: str


class DeadLetterPage(BaseModel):
    """Newest first; pass `next` as `before` for the following page."""

    items: list[DeadLetterOut]
    next: str | None


class DeadLetterSummary(BaseModel):
    """Dead letters per reason code since a moment; every reason code is listed."""

    since: datetime
    reasons: dict[str, int]
    total: int


# /api/v1/notification-channels


# `report.monthly`: the district report of the month before, sent on the 1st (issue 14); a
# channel gets it only when it asks for it.
AlarmEvent = Literal["alarm.opened", "alarm.cleared", "report.monthly"]


def _every_event() -> list[AlarmEvent]:
    return ["alarm.opened", "alarm.cleared"]


ChannelKind = Literal["webhook", "sms", "wecom", "dingtalk", "email"]
# HH:MM, local time of the channel's quiet_tz.
_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class ChannelIn(BaseModel):
    """A new notification channel. What each kind needs besides the common fields
    (notifications/channels.py `kind_errors` says it, field by field):
    `webhook` a URL and a secret (16+ characters) to sign with; `wecom` its robot's webhook
    URL; `dingtalk` its robot's webhook URL and, when the robot signs, its `SEC...` secret;
    `sms` phone numbers and `email` addresses in `recipients`."""

    name: str = Field(min_length=1, max_length=100)
    kind: ChannelKind
    url: str = Field(default="", max_length=2000)
    # Keys the HMAC a receiver checks (webhook) or DingTalk's signed URL.
    secret: str = Field(default="", max_length=200)
    recipients: list[str] = Field(default_factory=list, max_length=20)
    districts: list[str] = Field(default_factory=list, max_length=100)
    min_severity: Literal["warning", "critical"] = "warning"
    events: list[AlarmEvent] = Field(default_factory=_every_event, min_length=1)
    # While an alarm stays open and unacknowledged, send it again every so many minutes.
    repeat_minutes: int | None = Field(default=None, ge=5, le=1440)
    # Unacknowledged this long after this channel was told: tell `escalate_to` too.
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=1440)
    escalate_to: int | None = None
    # Nothing but critical alarms between these local times (held until the end).
    quiet_from: str | None = Field(default=None, pattern=_CLOCK_TIME)
    quiet_until: str | None = Field(default=None, pattern=_CLOCK_TIME)
    quiet_tz: str = Field(default="Asia/Shanghai", max_length=64)


class ChannelCreated(BaseModel):
    """The new channel's id."""

    id: int


class ChannelOut(BaseModel):
    """A channel as listed (never its secret)."""

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


class ChannelsOut(BaseModel):
    """The channels an operator may see."""

    items: list[ChannelOut]


class DeliveryOut(BaseModel):
    """One delivery: `pending`, `sent`, `failed` (retried at `next_attempt_at`) or `quiet`
    (held by the channel's quiet hours until `next_attempt_at`); `purpose` is `event`,
    `repeat` or `escalation`."""

    id: int
    event: str
    # None for a district report's delivery (event `report.monthly`).
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
    # The alarm's; None for a report's delivery.
    station_id: str | None
    device_id: str | None
    code: str | None
    severity: str | None


class DeliveriesOut(BaseModel):
    """A channel's latest deliveries, newest first."""

    items: list[DeliveryOut]
