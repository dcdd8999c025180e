"""Livestream points, forum sessions, bookings, one-time codes, idempotency keys.

Revision ID: 0001
Revises:
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # btree_gist lets one GiST index compare the point id (=) and the time range (&&).
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "livestream_points",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("slot_minutes", sa.Integer, nullable=False, server_default="30"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="livestream_points_slot_size"),
    )
    op.create_index("ix_livestream_points_station_id", "livestream_points", ["station_id"])
    op.create_table(
        "forum_sessions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False, server_default=""),
        _timestamp("starts_at", nullable=False),
        _timestamp("ends_at", nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        _timestamp("registration_deadline"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.CheckConstraint("ends_at > starts_at", name="forum_sessions_ends_after_start"),
        sa.CheckConstraint("seats > 0", name="forum_sessions_has_seats"),
    )
    op.create_index("ix_forum_sessions_station_id", "forum_sessions", ["station_id"])
    op.create_table(
        "bookings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("livestream_point_id", sa.BigInteger, sa.ForeignKey("livestream_points.id")),
        sa.Column("forum_session_id", sa.BigInteger, sa.ForeignKey("forum_sessions.id")),
        _timestamp("starts_at", nullable=False),
        _timestamp("ends_at", nullable=False),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("cancelled_at"),
        _timestamp("promoted_at"),
        _timestamp("checked_in_at"),
        sa.Column("checked_in_device", sa.String(64)),
        sa.UniqueConstraint("code", name="bookings_code_key"),
        sa.CheckConstraint("ends_at > starts_at", name="bookings_ends_after_start"),
        sa.CheckConstraint(
            "(kind = 'livestream' AND livestream_point_id IS NOT NULL AND forum_session_id IS NULL)"
            " OR (kind = 'forum' AND forum_session_id IS NOT NULL AND livestream_point_id IS NULL)",
            name="bookings_one_target",
        ),
        sa.CheckConstraint(
            "status IN ('confirmed', 'waitlisted', 'cancelled')", name="bookings_status"
        ),
    )
    # Never double-booked: two confirmed bookings of one livestream point may not overlap in
    # time. PostgreSQL checks this at INSERT/UPDATE, waiting for concurrent writers, so no
    # application race can get past it (see yizhan.bookings.locking).
    op.execute(
        """
        ALTER TABLE bookings ADD CONSTRAINT bookings_livestream_no_overlap
        EXCLUDE USING gist (
            livestream_point_id WITH =,
            tstzrange(starts_at, ends_at, '[)') WITH &&
        ) WHERE (status = 'confirmed' AND livestream_point_id IS NOT NULL)
        """
    )
    # One active booking per phone and forum session.
    op.execute(
        """
        CREATE UNIQUE INDEX bookings_forum_one_per_phone ON bookings (forum_session_id, phone)
        WHERE status IN ('confirmed', 'waitlisted') AND forum_session_id IS NOT NULL
        """
    )
    op.create_index("bookings_station_start", "bookings", ["station_id", "starts_at"])
    op.create_index("bookings_phone_end", "bookings", ["phone", "ends_at"])
    op.create_index("bookings_session_queue", "bookings", ["forum_session_id", "status", "id"])
    op.create_table(
        "otp_codes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at", nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _timestamp("consumed_at"),
    )
    op.create_index("otp_codes_phone_created", "otp_codes", ["phone", "created_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("booking_id", sa.BigInteger, sa.ForeignKey("bookings.id", ondelete="CASCADE")),
        _timestamp("created_at", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("otp_codes")
    op.drop_table("bookings")
    op.drop_table("forum_sessions")
    op.drop_table("livestream_points")
