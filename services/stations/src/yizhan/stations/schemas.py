"""Request and response bodies of the stations HTTP API."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
DeviceKind = Literal["charger", "water", "counter", "kiosk", "other"]
HostType = Literal[
    "bank_branch", "petrol_station", "battery_swap", "community_centre", "scenic_area", "other"
]
StationStatus = Literal["active", "suspended", "closed"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class LocalizedName(BaseModel):
    """A name in Chinese and English."""

    zh: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


OpeningHours = dict[str, list[tuple[str, str]]]


def _check_opening_hours(value: OpeningHours | None) -> OpeningHours | None:
    if value is None:
        return None
    for day, ranges in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        for opens, closes in ranges:
            if not _HHMM.match(opens) or not _HHMM.match(closes):
                raise ValueError(f"{day}: times are HH:MM")
            if opens >= closes:
                raise ValueError(f"{day}: {opens} is not before {closes}")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone name") from exc
    return value


class StationCreate(BaseModel):
    """A new station: id, name and district are required, the rest has defaults."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: LocalizedName
    district: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    address: str = Field(default="", max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    host_type: HostType = "other"
    timezone: str = "Asia/Shanghai"
    status: StationStatus = "active"
    opening_hours: OpeningHours | None = None
    amenities: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list)
    contact: str = Field(default="", max_length=200)

    _tz = field_validator("timezone")(_check_timezone)
    _hours = field_validator("opening_hours")(_check_opening_hours)


class StationPatch(BaseModel):
    """Fields to change on a station; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: LocalizedName | None = None
    district: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    address: str | None = Field(default=None, max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    host_type: HostType | None = None
    timezone: str | None = None
    status: StationStatus | None = None
    opening_hours: OpeningHours | None = None
    amenities: list[Annotated[str, StringConstraints(max_length=64)]] | None = None
    contact: str | None = Field(default=None, max_length=200)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    _hours = field_validator("opening_hours")(_check_opening_hours)


class StationOut(BaseModel):
    """A station as the API shows it."""

    id: str
    name: LocalizedName
    district: str
    address: str
    latitude: float | None
    longitude: float | None
    host_type: str
    timezone: str
    status: str
    opening_hours: OpeningHours | None
    amenities: list[str]
    contact: str
    created_at: datetime
    updated_at: datetime


class Page(BaseModel):
    """A page of a list; `next` is the cursor of the following page, null at the end."""

    items: list[Any]
    next: str | None


class DeviceCreate(BaseModel):
    """A new device at a station."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    kind: DeviceKind
    model: str = Field(default="", max_length=100)
    firmware: str = Field(default="", max_length=50)


class MqttCredentials(BaseModel):
    """Broker credentials of a device; the password is shown only once."""

    username: str
    password: str


class DeviceOut(BaseModel):
    """A device as the API shows it (never its password)."""

    id: str
    station_id: str
    kind: str
    model: str
    firmware: str
    status: str
    mqtt_username: str
    created_at: datetime


class DeviceProvisioned(DeviceOut):
    """A device just provisioned, with its one-time credentials."""

    mqtt: MqttCredentials


class TokenOut(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
