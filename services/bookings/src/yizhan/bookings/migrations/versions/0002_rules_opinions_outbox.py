"""Booking rules per livestream point, session kinds and cancellation, no-shows, manual
check-in, opinions, and the SMS outbox.

Revision ID: 0002
Revises: 0001
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column(
        "livestream_points",
        sa.Column("min_notice_minutes", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column(
        "livestream_points",
        sa.Column("max_days_ahead", sa.Integer, nullable=False, server_default="30"),
    )
    op.add_column(
        "livestream_points", sa.Column("max_steps", sa.Integer, nullable=False, server_default="4")
    )
    op.add_column("livestream_points", _timestamp("updated_at"))
    op.create_check_constraint(
        "livestream_points_notice", "livestream_points", "min_notice_minutes >= 0"
    )
    op.create_check_constraint(
        "livestream_points_days_ahead", "livestream_points", "max_days_ahead BETWEEN 1 AND 365"
    )
    op.create_check_constraint(
        "livestream_points_max_steps", "livestream_points", "max_steps BETWEEN 1 AND 48"
    )

    op.add_column(
        "forum_sessions",
        sa.Column("kind", sa.String(16), nullable=False, server_default="forum"),
    )
    op.add_column(
        "forum_sessions",
        sa.Column("status", sa.String(16), nullable=False, server_default="scheduled"),
    )
    op.add_column("forum_sessions", _timestamp("updated_at"))
    op.add_column("forum_sessions", _timestamp("cancelled_at"))
    op.create_check_constraint(
        "forum_sessions_kind", "forum_sessions", "kind IN ('forum', 'training', 'health_check')"
    )
    op.create_check_constraint(
        "forum_sessions_status", "forum_sessions", "status IN ('scheduled', 'cancelled')"
    )

    op.drop_constraint("bookings_status", "bookings", type_="check")
    op.create_check_constraint(
        "bookings_status",
        "bookings",
        "status IN ('confirmed', 'waitlisted', 'cancelled', 'no_show')",
    )
    op.add_column("bookings", sa.Column("checked_in_by", sa.String(64)))
    op.add_column("bookings", _timestamp("no_show_at"))
    op.execute(
        """
        CREATE INDEX bookings_awaiting_checkin ON bookings (starts_at)
        WHERE status = 'confirmed' AND checked_in_at IS NULL
        """
    )
    op.create_index("bookings_phone_start", "bookings", ["phone", "starts_at"])

    op.create_table(
        "opinions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "forum_session_id",
            sa.BigInteger,
            sa.ForeignKey("forum_sessions.id"),
            nullable=False,
        ),
        sa.Column("booking_id", sa.BigInteger, sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("measure", sa.String(1000)),
        sa.Column("decline_reason", sa.String(1000)),
        sa.Column("handled_by", sa.String(64)),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        _timestamp("closed_at"),
        sa.CheckConstraint(
            "status IN ('received', 'in_progress', 'resolved', 'declined')",
            name="opinions_status",
        ),
        sa.CheckConstraint("status <> 'resolved' OR measure IS NOT NULL", name="opinions_measure"),
        sa.CheckConstraint(
            "status <> 'declined' OR decline_reason IS NOT NULL", name="opinions_decline_reason"
        ),
    )
    op.create_index("opinions_station_created", "opinions", ["station_id", "created_at"])
    op.create_index("opinions_session", "opinions", ["forum_session_id"])
    op.create_index("opinions_booking", "opinions", ["booking_id"])

    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("next_attempt_at"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _timestamp("sent_at"),
        sa.Column("last_error", sa.String(300)),
    )
    op.execute("CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE sent_at IS NULL")


def downgrade() -> None:
    op.drop_table("sms_outbox")
    op.drop_table("opinions")
    op.drop_index("bookings_phone_start", "bookings")
    op.drop_index("bookings_awaiting_checkin", "bookings")
    op.drop_column("bookings", "no_show_at")
    op.drop_column("bookings", "checked_in_by")
    op.execute("UPDATE bookings SET status = 'cancelled' WHERE status = 'no_show'")
    op.drop_constraint("bookings_status", "bookings", type_="check")
    op.create_check_constraint(
        "bookings_status", "bookings", "status IN ('confirmed', 'waitlisted', 'cancelled')"
    )
    for name in ("forum_sessions_status", "forum_sessions_kind"):
        op.drop_constraint(name, "forum_sessions", type_="check")
    for column in ("cancelled_at", "updated_at", "status", "kind"):
        op.drop_column("forum_sessions", column)
    for name in ("livestream_points_max_steps", "livestream_points_days_ahead"):
        op.drop_constraint(name, "livestream_points", type_="check")
    op.drop_constraint("livestream_points_notice", "livestream_points", type_="check")
    for column in ("updated_at", "max_steps", "max_days_ahead", "min_notice_minutes"):
        op.drop_column("livestream_points", column)
