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


class ChannelIn(BaseModel):
    """A new notification channel (only `webhook` so far)."""

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["webhook"]
    url: str = Field(min_length=1, max_length=2000)
    # Keys the HMAC a receiver checks; short secrets are guessable.
    secret: str = Field(min_length=16, max_length=200)
    districts: list[str] = Field(default_factory=list, max_length=100)
    min_severity: Literal["warning", "critical"] = "warning"
    events: list[AlarmEvent] = Field(default_factory=_every_event, min_length=1)


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


class ChannelsOut(BaseModel):
    """The channels an operator may see."""

    items: list[ChannelOut]


class DeliveryOut(BaseModel):
    """One delivery: `pending`, `sent`, or `failed` (retried at `next_attempt_at`)."""

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


class DeliveriesOut(BaseModel):
    """A channel's latest deliveries, newest first."""

    items: list[DeliveryOut]
