"""Tables of the bookings database: livestream points, forum sessions, bookings, one-time
codes and idempotency keys. The migration (migrations/versions) is the authority on
constraints; the ones that keep bookings apart are repeated here so they are easy to find."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Booking statuses; a checked-in booking stays `confirmed` and gets `checked_in_at`.
CONFIRMED = "confirmed"
WAITLISTED = "waitlisted"
CANCELLED = "cancelled"
ACTIVE_STATUSES = (CONFIRMED, WAITLISTED)

LIVESTREAM = "livestream"
FORUM = "forum"

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
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ForumSession(Base):
    """A community forum session (or training, health check): a time and a number of seats."""

    __tablename__ = "forum_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="forum_sessions_ends_after_start"),
        CheckConstraint("seats > 0", name="forum_sessions_has_seats"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    topic: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seats: Mapped[int] = mapped_column(Integer)
    # Registration closes here; NULL means at the start.
    registration_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

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
            "status IN ('confirmed', 'waitlisted', 'cancelled')", name="bookings_status"
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
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    station_id: Mapped[str] = mapped_column(String(64))
    livestream_point_id: Mapped[int | None] = mapped_column(ForeignKey("livestream_points.id"))
    forum_session_id: Mapped[int | None] = mapped_column(ForeignKey("forum_sessions.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    phone: Mapped[str] = mapped_column(String(11))
    name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_device: Mapped[str | None] = mapped_column(String(64))


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
