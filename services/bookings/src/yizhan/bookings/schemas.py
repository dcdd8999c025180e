"""Request and response bodies of the bookings HTTP API."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from yizhan.bookings.booking_service import Choice, ForumChoice, LivestreamChoice
from yizhan.bookings.errors import InvalidInput
from yizhan.bookings.phones import Phone

SessionKind = Literal["forum", "training", "health_check"]
OpinionCategory = Literal[
    "parking",
    "rest_space",
    "charging",
    "water_food",
    "pay_insurance",
    "platform_rules",
    "traffic_safety",
    "other",
]
OpinionStatus = Literal["received", "in_progress", "resolved", "declined"]
# Free text an operator or a worker writes: trimmed, no control characters but line breaks.
LongText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f]+$",
    ),
]

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


class OutcomeIn(BaseModel):
    """What a livestream slot earned, recorded after it started."""

    model_config = ConfigDict(extra="forbid")

    households: int = Field(ge=0, le=1_000_000, description="households served")
    sales_yuan: Decimal = Field(
        ge=0, le=Decimal("999999999999.99"), decimal_places=2, description="sales in yuan"
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class OutcomeOut(BaseModel):
    """A livestream booking's recorded outcome."""

    code: str
    households: int
    sales_yuan: float
    note: str
    recorded_by: str
    recorded_at: datetime


class BookingPage(BaseModel):
    """A page of bookings; `next` is the cursor of the following page, null at the end."""

    items: list[BookingOut]
    next: str | None


class LivestreamPointIn(BaseModel):
    """A new livestream point at a station, with its booking rules."""

    model_config = ConfigDict(extra="forbid")

    station_id: StationId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    slot_minutes: int = Field(default=30, ge=5, le=240, multiple_of=5)
    min_notice_minutes: int = Field(default=0, ge=0, le=7 * 24 * 60)
    max_days_ahead: int = Field(default=30, ge=1, le=365)
    max_steps: int = Field(default=4, ge=1, le=48)


class LivestreamPointPatch(BaseModel):
    """Changes to a livestream point; bookings already made keep their times."""

    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None
    slot_minutes: int | None = Field(default=None, ge=5, le=240, multiple_of=5)
    min_notice_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    max_days_ahead: int | None = Field(default=None, ge=1, le=365)
    max_steps: int | None = Field(default=None, ge=1, le=48)
    active: bool | None = None


class LivestreamPointOut(BaseModel):
    """A livestream point (CONTRACT §4) with its booking rules."""

    id: int
    station_id: str
    name: str
    slot_minutes: int
    min_notice_minutes: int
    max_days_ahead: int
    max_steps: int = Field(description="consecutive slots one booking may span")
    active: bool


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


Topic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Host = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class ForumSessionIn(BaseModel):
    """A new forum session (or training, health check) with limited seats."""

    model_config = ConfigDict(extra="forbid")

    station_id: StationId
    kind: SessionKind = "forum"
    topic: Topic
    host: Host = ""
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


class ForumSessionPatch(BaseModel):
    """Changes to a session that has not started; a field left out stays as it is
    (`registration_deadline: null` clears it: registration then closes at the start)."""

    model_config = ConfigDict(extra="forbid")

    kind: SessionKind | None = None
    topic: Topic | None = None
    host: Host | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    seats: int | None = Field(default=None, ge=1, le=10_000)
    registration_deadline: AwareDatetime | None = None


class ForumSessionOut(BaseModel):
    """A forum session with its free seats (CONTRACT §4)."""

    id: int
    station_id: str
    kind: str
    status: str
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


class CheckInOut(BaseModel):
    """The outcome of a check-in by hand, as a kiosk would show it (CONTRACT §2 reasons)."""

    code: str
    ok: bool
    reason: str | None
    message: dict[str, str]


class OpinionPatch(BaseModel):
    """An operator moves an opinion on: resolving needs `measure`, declining `reason`."""

    model_config = ConfigDict(extra="forbid")

    status: OpinionStatus
    measure: LongText | None = None
    reason: LongText | None = None


class OpinionOut(BaseModel):
    """An opinion with where it came from and what became of it."""

    id: int
    forum_session_id: int
    station_id: str
    category: str
    text: str
    status: str
    measure: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    # The measure it is grouped under; who recorded it when raised in the room (else null).
    measure_id: int | None = None
    recorded_by: str | None = None


class OpinionIn(BaseModel):
    """An opinion raised in the room at a session, recorded by an operator."""

    model_config = ConfigDict(extra="forbid")

    forum_session_id: int = Field(ge=1)
    category: OpinionCategory
    text: LongText


class MeasureIn(BaseModel):
    """Group opinions of a station under one measure: a new one (`text`) or an existing one
    (`measure_id`)."""

    model_config = ConfigDict(extra="forbid")

    station_id: StationId
    opinion_ids: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, max_length=500)
    text: LongText | None = None
    measure_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_measure(self) -> Self:
        if (self.text is None) == (self.measure_id is None):
            raise ValueError("give either text (a new measure) or measure_id")
        return self


class MeasureOut(BaseModel):
    """A measure and how many opinions it groups."""

    id: int
    station_id: str
    text: str
    created_by: str
    created_at: datetime
    opinions: int


class MeasureList(BaseModel):
    """A station's measures, newest first."""

    items: list[MeasureOut]


class OpinionPage(BaseModel):
    """A page of opinions, newest first; `next` is the cursor of the following page."""

    items: list[OpinionOut]
    next: str | None


class FiguresOut(BaseModel):
    """Booking figures of a station, a district or the network (see stats.py)."""

    livestream_bookings: int
    livestream_booked_minutes: int
    livestream_open_minutes: int
    livestream_utilisation: float
    forum_sessions: int
    forum_seats: int
    forum_confirmed: int
    forum_waitlisted: int
    checked_in: int
    no_shows: int
    cancelled: int
    no_show_rate: float
    opinions: dict[str, int]
    opinions_total: int
    # Livestream slots whose outcome was recorded, households served, sales in yuan.
    livestream_outcomes: int
    livestream_households: int
    livestream_sales_yuan: float


class StationFiguresOut(FiguresOut):
    """A station's figures."""

    station_id: str
    district: str


class DistrictFiguresOut(FiguresOut):
    """A district's figures: the sum of its stations'."""

    district: str


class StatsOut(BaseModel):
    """GET /api/v1/stats."""

    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    stations: list[StationFiguresOut]
    districts: list[DistrictFiguresOut]
    totals: FiguresOut
