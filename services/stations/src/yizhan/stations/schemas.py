"""Request and response bodies of the stations HTTP API."""

import itertools
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
DeviceKind = Literal["charger", "water", "heater", "counter", "kiosk", "other"]
HostType = Literal[
    "bank_branch", "petrol_station", "battery_swap", "community_centre", "scenic_area", "other"
]
StationStatus = Literal["active", "suspended", "closed"]
DeviceStatus = Literal["active", "revoked"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
# Dated exceptions stay within a sane calendar (no date arithmetic near date.max).
FIRST_EXCEPTION_DATE = date(2000, 1, 1)
LAST_EXCEPTION_DATE = date(2099, 12, 31)
MAX_EXCEPTION_DAYS = 366
MAX_EXCEPTIONS = 200


def check_text(value: str) -> str:
    """Refuse what PostgreSQL cannot store in text (NUL) or encode (lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


PlainText = AfterValidator(check_text)


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length)


DistrictName = Annotated[str, _text(100, 1), PlainText]
Amenity = Annotated[str, _text(64, 1), PlainText]
Address = Annotated[str, _text(500), PlainText]
Contact = Annotated[str, _text(200), PlainText]
Note = Annotated[str, _text(200), PlainText]
ModelName = Annotated[str, _text(100), PlainText]
Firmware = Annotated[str, _text(50), PlainText]
SearchText = Annotated[str, _text(100), PlainText]
NamePart = Annotated[
    str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), PlainText
]


class LocalizedName(BaseModel):
    """A name in Chinese and English."""

    zh: NamePart
    en: NamePart


OpeningHours = dict[str, list[tuple[str, str]]]
HourRanges = list[tuple[str, str]]


def _check_ranges(label: str, ranges: HourRanges) -> None:
    for opens, closes in ranges:
        if not _HHMM.match(opens) or not _HHMM.match(closes):
            raise ValueError(f"{label}: times are HH:MM")
        if opens >= closes:
            raise ValueError(f"{label}: {opens} is not before {closes}")


def _check_opening_hours(value: OpeningHours | None) -> OpeningHours | None:
    if value is None:
        return None
    for day, ranges in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        _check_ranges(day, ranges)
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone name") from exc
    return value


class OpeningException(BaseModel):
    """Different hours on some dates (the station's local dates, both ends included):
    `hours: []` closes the station, e.g. for a holiday."""

    model_config = ConfigDict(extra="forbid")

    start: date
    end: date | None = Field(default=None, description="last day; the same as start if absent")
    hours: HourRanges = Field(default_factory=list, max_length=10)
    note: Note = ""

    @model_validator(mode="after")
    def _check(self) -> Self:
        end = self.end or self.start
        for day in (self.start, end):
            if not FIRST_EXCEPTION_DATE <= day <= LAST_EXCEPTION_DATE:
                raise ValueError(
                    f"dates must be between {FIRST_EXCEPTION_DATE} and {LAST_EXCEPTION_DATE}"
                )
        if end < self.start:
            raise ValueError("end is before start")
        if (end - self.start).days >= MAX_EXCEPTION_DAYS:
            raise ValueError(f"an exception covers at most {MAX_EXCEPTION_DAYS} days")
        _check_ranges(str(self.start), self.hours)
        return self

    def as_json(self) -> dict[str, Any]:
        """How the database keeps it (end always set)."""
        return {
            "start": self.start.isoformat(),
            "end": (self.end or self.start).isoformat(),
            "hours": [list(r) for r in self.hours],
            "note": self.note,
        }


OpeningExceptions = Annotated[list[OpeningException], Field(max_length=MAX_EXCEPTIONS)]


def _check_exceptions(value: list[OpeningException] | None) -> list[OpeningException] | None:
    if not value:
        return value
    spans = sorted((e.start, e.end or e.start) for e in value)
    for (_, previous_end), (start, _) in itertools.pairwise(spans):
        if start <= previous_end:
            raise ValueError(f"exceptions overlap on {start}: give each date one exception")
    return value


class StationCreate(BaseModel):
    """A new station: id, name and district are required, the rest has defaults."""

    model_config = ConfigDict(extra="forbid")

    id: Identifier
    name: LocalizedName
    district: DistrictName
    address: Address = ""
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    host_type: HostType = "other"
    timezone: str = "Asia/Shanghai"
    status: StationStatus = "active"
    opening_hours: OpeningHours | None = None
    opening_exceptions: OpeningExceptions = Field(default_factory=list)
    amenities: list[Amenity] = Field(default_factory=list, max_length=50)
    contact: Contact = ""

    _tz = field_validator("timezone")(_check_timezone)
    _hours = field_validator("opening_hours")(_check_opening_hours)
    _exceptions = field_validator("opening_exceptions")(_check_exceptions)


# Fields a PATCH may set to null (meaning: unknown / always open); the others may only change.
NULLABLE_STATION_FIELDS = frozenset({"latitude", "longitude", "opening_hours"})


class StationPatch(BaseModel):
    """Fields to change on a station; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: LocalizedName | None = None
    district: DistrictName | None = None
    address: Address | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    host_type: HostType | None = None
    timezone: str | None = None
    status: StationStatus | None = None
    opening_hours: OpeningHours | None = None
    opening_exceptions: OpeningExceptions | None = None
    amenities: list[Amenity] | None = Field(default=None, max_length=50)
    contact: Contact | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    _hours = field_validator("opening_hours")(_check_opening_hours)
    _exceptions = field_validator("opening_exceptions")(_check_exceptions)

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in self.model_fields_set - NULLABLE_STATION_FIELDS:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


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
    opening_exceptions: list[OpeningException]
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
    model: ModelName = ""
    firmware: Firmware = ""
    installed_at: datetime | None = None


class DevicePatch(BaseModel):
    """Fields of a device that change over its life (a new firmware, a reinstall)."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind | None = None
    model: ModelName | None = None
    firmware: Firmware | None = None
    installed_at: datetime | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in self.model_fields_set - {"installed_at"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class MqttCredentials(BaseModel):
    """Broker credentials of a device; the password is shown only once."""

    username: str
    password: str


BrokerState = Literal["synced", "pending", "unmanaged"]


class DeviceOut(BaseModel):
    """A device as the API shows it (never its password). `broker`: whether the broker holds
    the device's current credentials (`synced`), will get them on the next resync
    (`pending`), or is not managed by stations (`unmanaged`, a development broker)."""

    id: str
    station_id: str
    kind: str
    model: str
    firmware: str
    installed_at: datetime | None
    status: str
    mqtt_username: str
    broker: BrokerState
    created_at: datetime
    revoked_at: datetime | None


class DeviceProvisioned(DeviceOut):
    """A device just provisioned, or its credentials just rotated: the password only now."""

    mqtt: MqttCredentials


class TokenOut(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
