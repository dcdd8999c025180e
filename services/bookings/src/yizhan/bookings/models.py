"""Tables of the bookings database: livestream points, forum sessions, bookings, opinions
and measures, one-time codes, idempotency keys, the SMS outbox and the audit log. The
migrations (migrations/versions) are the authority on constraints; the ones that keep
bookings apart are repeated here so they are easy to find."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from yizhan.common import ratelimit
from yizhan.common.audit import AuditLogColumns

# Booking statuses; a checked-in booking stays `confirmed` and gets `checked_in_at`.
CONFIRMED = "confirmed"
WAITLISTED = "waitlisted"
CANCELLED = "cancelled"
# Not checked in by the end of the check-in window: the rest of the slot or seat is freed
# and the booking counts against the worker (noshow.py).
NO_SHOW = "no_show"
ACTIVE_STATUSES = (CONFIRMED, WAITLISTED)
BOOKING_STATUSES = (CONFIRMED, WAITLISTED, CANCELLED, NO_SHOW)

# Booking kinds (what is booked). A forum session's own `kind` says what sort of session it is.
LIVESTREAM = "livestream"
FORUM = "forum"

# Sorts of capacity session: a community forum, a training, a free health check.
SESSION_KINDS = ("forum", "training", "health_check")
SESSION_SCHEDULED = "scheduled"
SESSION_CANCELLED = "cancelled"

# Opinions raised at a forum session, moved on by operators (opinions.py).
OPINION_RECEIVED = "received"
OPINION_IN_PROGRESS = "in_progress"
OPINION_RESOLVED = "resolved"
OPINION_DECLINED = "declined"
OPINION_STATUSES = (OPINION_RECEIVED, OPINION_IN_PROGRESS, OPINION_RESOLVED, OPINION_DECLINED)
OPINION_CATEGORIES = (
    "parking",
    "rest_space",
    "charging",
    "water_food",
    "pay_insurance",
    "platform_rules",
    "traffic_safety",
    "other",
)

# What a worker can report at a station (feedback.py), besides a rating of 1 to 5.
FEEDBACK_PROBLEMS = ("locked", "no_water", "charger_broken", "dirty", "other")

# Names the code matches on when PostgreSQL refuses a row (see locking.py).
NO_OVERLAP_CONSTRAINT = "bookings_livestream_no_overlap"
ONE_SEAT_PER_PHONE_INDEX = "bookings_forum_one_per_phone"
CODE_UNIQUE_CONSTRAINT = "bookings_code_key"


class Base(DeclarativeBase):
    """Declarative base of the bookings tables."""


class LivestreamPoint(Base):
    """A livestream corner at a station, booked exclusively by time slot."""

    __tablename__ = "livestream_points"
    __table_args__ = (
        CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="livestream_points_slot_size"),
        CheckConstraint("min_notice_minutes >= 0", name="livestream_points_notice"),
        CheckConstraint("max_days_ahead BETWEEN 1 AND 365", name="livestream_points_days_ahead"),
        CheckConstraint("max_steps BETWEEN 1 AND 48", name="livestream_points_max_steps"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # How long before its start a slot can still be booked (0: until it starts).
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # How far ahead a slot can be booked.
    max_days_ahead: Mapped[int] = mapped_column(Integer, default=30)
    # How many consecutive steps one booking may span.
    max_steps: Mapped[int] = mapped_column(Integer, default=4)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ForumSession(Base):
    """A community forum session (or training, health check): a time and a number of seats."""

    __tablename__ = "forum_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="forum_sessions_ends_after_start"),
        CheckConstraint("seats > 0", name="forum_sessions_has_seats"),
        CheckConstraint(
            "kind IN ('forum', 'training', 'health_check')", name="forum_sessions_kind"
        ),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="forum_sessions_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="forum")
    status: Mapped[str] = mapped_column(String(16), default=SESSION_SCHEDULED)
    topic: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seats: Mapped[int] = mapped_column(Integer)
    # Registration closes here; NULL means at the start.
    registration_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def registration_closes_at(self) -> datetime:
        """When booking a seat stops being possible."""
        return self.registration_deadline or self.starts_at


class Booking(Base):
    """A worker's booking of a livestream slot or a forum seat."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="bookings_ends_after_start"),
        CheckConstraint(
            "(kind = 'livestream' AND livestream_point_id IS NOT NULL AND forum_session_id IS NULL)"
            " OR (kind = 'forum' AND forum_session_id IS NOT NULL AND livestream_point_id IS NULL)",
            name="bookings_one_target",
        ),
        CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled', 'no_show')", name="bookings_status"
        ),
        # The database itself refuses two confirmed bookings of one point that overlap in time.
        ExcludeConstraint(
            ("livestream_point_id", "="),
            (text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
            using="gist",
            where=text("status = 'confirmed' AND livestream_point_id IS NOT NULL"),
            name=NO_OVERLAP_CONSTRAINT,
        ),
        Index(
            ONE_SEAT_PER_PHONE_INDEX,
            "forum_session_id",
            "phone",
            unique=True,
            postgresql_where=text(
                "status IN ('confirmed', 'waitlisted') AND forum_session_id IS NOT NULL"
            ),
        ),
        Index("bookings_station_start", "station_id", "starts_at"),
        Index("bookings_phone_end", "phone", "ends_at"),
        Index("bookings_session_queue", "forum_session_id", "status", "id"),
        # What the no-show sweep scans: confirmed bookings not checked in, by start.
        Index(
            "bookings_awaiting_checkin",
            "starts_at",
            postgresql_where=text("status = 'confirmed' AND checked_in_at IS NULL"),
        ),
        Index("bookings_phone_start", "phone", "starts_at"),
        # What the reminder job scans (reminders.py) and the retention job (retention.py).
        Index(
            "bookings_awaiting_reminder",
            "starts_at",
            postgresql_where=text("status = 'confirmed' AND reminded_at IS NULL"),
        ),
        Index("bookings_holding_phone", "ends_at", postgresql_where=text("phone IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    station_id: Mapped[str] = mapped_column(String(64))
    livestream_point_id: Mapped[int | None] = mapped_column(ForeignKey("livestream_points.id"))
    forum_session_id: Mapped[int | None] = mapped_column(ForeignKey("forum_sessions.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # NULL once erased (retention.py): the row and its counts stay, the person does not.
    phone: Mapped[str | None] = mapped_column(String(11))
    name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_device: Mapped[str | None] = mapped_column(String(64))
    # The operator who checked the booking in by hand (NULL for a kiosk scan).
    checked_in_by: Mapped[str | None] = mapped_column(String(64))
    no_show_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The reminder SMS before the start went out (reminders.py).
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Phone and name were erased (retention, or the worker asked).
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Opinion(Base):
    """An opinion an attendee raised at a forum session, tracked until resolved or declined."""

    __tablename__ = "opinions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('received', 'in_progress', 'resolved', 'declined')",
            name="opinions_status",
        ),
        # A resolved opinion names the measure taken; a declined one says why.
        CheckConstraint("status <> 'resolved' OR measure IS NOT NULL", name="opinions_measure"),
        CheckConstraint(
            "status <> 'declined' OR decline_reason IS NOT NULL", name="opinions_decline_reason"
        ),
        Index("opinions_station_created", "station_id", "created_at"),
        Index("opinions_session", "forum_session_id"),
        Index("opinions_booking", "booking_id"),
        CheckConstraint(
            "booking_id IS NOT NULL OR recorded_by IS NOT NULL", name="opinions_source"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    forum_session_id: Mapped[int] = mapped_column(ForeignKey("forum_sessions.id"))
    # The attendee's booking; NULL for an opinion an operator recorded as raised in the room.
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    station_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default=OPINION_RECEIVED)
    measure: Mapped[str | None] = mapped_column(String(1000))
    decline_reason: Mapped[str | None] = mapped_column(String(1000))
    handled_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The operator who recorded it as raised in the room (NULL when an attendee submitted it).
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    # The measure it is grouped under (many opinions lead to one measure).
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id"), index=True)


class Measure(Base):
    """An improvement measure (改进措施) a station's operators take in answer to opinions:
    many opinions raised at its sessions are grouped under one."""

    __tablename__ = "measures"
    __table_args__ = (Index("measures_station_created", "station_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(AuditLogColumns, Base):
    """One operator action on bookings' records: who, what, when, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_districts", "districts", postgresql_using="gin"),)


class SmsOutbox(Base):
    """A notification SMS waiting to be sent: written in the transaction that decided it, sent
    after commit by outbox.py, so that a promotion is never told without being made, nor made
    without being told."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        Index("sms_outbox_due", "next_attempt_at", postgresql_where=text("sent_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    text: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300))


class OtpCode(Base):
    """A one-time code sent to a phone; only its keyed hash is stored."""

    __tablename__ = "otp_codes"
    __table_args__ = (Index("otp_codes_phone_created", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone: Mapped[str] = mapped_column(String(11))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyKey(Base):
    """A client's Idempotency-Key, the request it came with, and the booking it made."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LivestreamOutcome(Base):
    """What a livestream slot earned: households served and sales, recorded after it."""

    __tablename__ = "livestream_outcomes"
    __table_args__ = (
        CheckConstraint("households >= 0", name="livestream_outcomes_households"),
        CheckConstraint("sales_yuan >= 0", name="livestream_outcomes_sales"),
        Index("livestream_outcomes_station_start", "station_id", "starts_at"),
    )

    booking_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    station_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    households: Mapped[int] = mapped_column(Integer)
    sales_yuan: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    note: Mapped[str] = mapped_column(String(500))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StationFeedback(Base):
    """A worker's word on a station, left through the QR code on its kiosk (no login)."""

    __tablename__ = "station_feedback"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="station_feedback_rating"),
        Index("station_feedback_station_created", "station_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int] = mapped_column(SmallInteger)
    problems: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The shared rate limiter's counters (libs/common ratelimit.py) live in this database too.
RATE_LIMITS = ratelimit.add_table(Base.metadata)


class DevOtpCode(Base):
    """Development only (YZ_ENV=dev/test): the last code sent to a phone, for
    GET /api/v1/dev/otp, shared by every worker process of the service."""

    __tablename__ = "dev_otp_codes"

    phone: Mapped[str] = mapped_column(String(11), primary_key=True)
    code: Mapped[str] = mapped_column(String(6))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
