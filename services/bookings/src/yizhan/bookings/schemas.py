"""Request and response bodies of the bookings HTTP API."""

from datetime import datetime
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from yizhan.bookings.booking_service import Choice, ForumChoice, LivestreamChoice
from yizhan.bookings.errors import InvalidInput
from yizhan.bookings.phones import Phone

StationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# A name as the worker wants to be called; control characters are refused.
PersonName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
OtpDigits = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class OtpRequest(BaseModel):
    """POST /api/v1/otp."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone


class OtpAccepted(BaseModel):
    """The code is on its way."""

    status: str = "sent"
    expires_in_seconds: int


class DevOtp(BaseModel):
    """The last code sent to a phone (development only)."""

    phone: str
    code: str


class BookingIn(BaseModel):
    """POST /api/v1/bookings: a livestream slot or a forum seat, and who books it."""

    model_config = ConfigDict(extra="forbid")

    livestream_point_id: int | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    forum_session_id: int | None = None
    phone: Phone
    name: PersonName
    otp: OtpDigits

    def choice(self) -> Choice:
        """What is booked; InvalidInput naming the field when the request is incomplete."""
        livestream = (self.livestream_point_id, self.start, self.end)
        if self.forum_session_id is not None:
            if any(part is not None for part in livestream):
                raise InvalidInput("target_ambiguous", field="forum_session_id")
            return ForumChoice(self.forum_session_id)
        point_id, start, end = livestream
        if point_id is None:
            raise InvalidInput("target_required", field="livestream_point_id")
        if start is None:
            raise InvalidInput("slot_required", field="start")
        if end is None:
            raise InvalidInput("slot_required", field="end")
        return LivestreamChoice(point_id, start, end)


class BookingCreated(BaseModel):
    """201 answer of POST /api/v1/bookings (CONTRACT §4)."""

    code: str
    status: str
    manage_token: str


class BookingOut(BaseModel):
    """A booking as its holder (with the manage token) or an operator sees it."""

    code: str
    kind: str
    status: str
    station_id: str
    livestream_point_id: int | None
    forum_session_id: int | None
    title: str = Field(description="the livestream point's name or the session's topic")
    start: datetime
    end: datetime
    name: str
    phone: str = Field(description="masked: 138****8000")
    created_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None


class BookingPage(BaseModel):
    """A page of bookings; `next` is the cursor of the following page, null at the end."""

    items: list[BookingOut]
    next: str | None


class LivestreamPointIn(BaseModel):
    """A new livestream point at a station."""

    model_config = ConfigDict(extra="forbid")

    station_id: StationId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    slot_minutes: int = Field(default=30, ge=5, le=240, multiple_of=5)


class LivestreamPointOut(BaseModel):
    """A livestream point (CONTRACT §4)."""

    id: int
    station_id: str
    name: str
    slot_minutes: int


class LivestreamPointList(BaseModel):
    """GET /api/v1/livestream-points."""

    items: list[LivestreamPointOut]


class SlotOut(BaseModel):
    """One step of the day, in the station's local time."""

    start: datetime
    end: datetime
    available: bool


class SlotList(BaseModel):
    """GET /api/v1/livestream-points/{id}/slots."""

    items: list[SlotOut]


class ForumSessionIn(BaseModel):
    """A new forum session (or training, health check) with limited seats."""

    model_config = ConfigDict(extra="forbid")

    station_id: StationId
    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    host: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    start: AwareDatetime
    end: AwareDatetime
    seats: int = Field(ge=1, le=10_000)
    registration_deadline: AwareDatetime | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.registration_deadline is not None and self.registration_deadline > self.start:
            raise ValueError("registration_deadline must not be after start")
        return self


class ForumSessionOut(BaseModel):
    """A forum session with its free seats (CONTRACT §4)."""

    id: int
    station_id: str
    topic: str
    host: str
    start: datetime
    end: datetime
    seats: int
    seats_left: int
    registration_deadline: datetime | None


class ForumSessionList(BaseModel):
    """GET /api/v1/forum-sessions."""

    items: list[ForumSessionOut]
