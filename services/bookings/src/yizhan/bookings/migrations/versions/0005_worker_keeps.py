"""Bookings a worker keeps, privacy and feedback at the station (issue 15): the reminder SMS
is sent once (`reminded_at`); a finished booking's phone and name can be erased while the row
(and so every count) stays (`phone` nullable, `erased_at`); feedback left at a station.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("reminded_at", sa.DateTime(timezone=True)))
    op.add_column("bookings", sa.Column("erased_at", sa.DateTime(timezone=True)))
    # NULL once erased: the one-seat-per-phone index then treats erased rows as distinct.
    op.alter_column("bookings", "phone", existing_type=sa.String(11), nullable=True)
    # What the reminder job scans: confirmed bookings not yet reminded, by start.
    op.create_index(
        "bookings_awaiting_reminder",
        "bookings",
        ["starts_at"],
        postgresql_where=sa.text("status = 'confirmed' AND reminded_at IS NULL"),
    )
    # What the retention job scans: bookings still holding a phone, by end.
    op.create_index(
        "bookings_holding_phone",
        "bookings",
        ["ends_at"],
        postgresql_where=sa.text("phone IS NOT NULL"),
    )
    op.create_table(
        "station_feedback",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("rating", sa.SmallInteger, nullable=False),
        # Some of: locked, no_water, charger_broken, dirty, other.
        sa.Column("problems", sa.ARRAY(sa.String(16)), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="station_feedback_rating"),
        sa.CheckConstraint(
            "problems <@ ARRAY['locked','no_water','charger_broken','dirty','other']"
            "::varchar(16)[]",
            name="station_feedback_problems",
        ),
    )
    op.create_index(
        "station_feedback_station_created", "station_feedback", ["station_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("station_feedback")
    op.drop_index("bookings_holding_phone", "bookings")
    op.drop_index("bookings_awaiting_reminder", "bookings")
    op.execute("DELETE FROM bookings WHERE phone IS NULL")
    op.alter_column("bookings", "phone", existing_type=sa.String(11), nullable=False)
    op.drop_column("bookings", "erased_at")
    op.drop_column("bookings", "reminded_at")
