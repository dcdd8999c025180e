"""What a livestream slot earned (CONTRACT §4): households served and sales in yuan, recorded
after the slot by the worker (manage token) or an operator; one row per booking, replaced
when recorded again.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "livestream_outcomes",
        sa.Column(
            "booking_id",
            sa.BigInteger,
            sa.ForeignKey("bookings.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # Copied from the booking: the sums per station and period read this table alone.
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("households", sa.Integer, nullable=False),
        # Yuan with fen: numeric, so that sums are exact.
        sa.Column("sales_yuan", sa.Numeric(14, 2), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        # `worker`, or the operator's username.
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("households >= 0", name="livestream_outcomes_households"),
        sa.CheckConstraint("sales_yuan >= 0", name="livestream_outcomes_sales"),
    )
    op.create_index(
        "livestream_outcomes_station_start", "livestream_outcomes", ["station_id", "starts_at"]
    )


def downgrade() -> None:
    op.drop_table("livestream_outcomes")
