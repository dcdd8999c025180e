"""Operators' actions audited (issue 14 item 5): the audit log, as stations keeps it.
Opinions recorded by an operator as raised in the room (no booking behind them), and
measures that group many opinions.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.String(64)),
        sa.Column(
            "districts", postgresql.ARRAY(sa.String(100)), nullable=False, server_default="{}"
        ),
        sa.Column("before", postgresql.JSONB),
        sa.Column("after", postgresql.JSONB),
    )
    op.create_index("ix_audit_log_station_id", "audit_log", ["station_id"])
    op.create_index("ix_audit_log_districts", "audit_log", ["districts"], postgresql_using="gin")
    op.create_table(
        "measures",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("measures_station_created", "measures", ["station_id", "created_at"])
    op.alter_column("opinions", "booking_id", nullable=True)
    op.add_column("opinions", sa.Column("recorded_by", sa.String(64)))
    op.add_column("opinions", sa.Column("measure_id", sa.BigInteger, sa.ForeignKey("measures.id")))
    op.create_index("ix_opinions_measure_id", "opinions", ["measure_id"])
    op.create_check_constraint(
        "opinions_source", "opinions", "booking_id IS NOT NULL OR recorded_by IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_constraint("opinions_source", "opinions")
    op.drop_index("ix_opinions_measure_id", "opinions")
    op.drop_column("opinions", "measure_id")
    op.drop_column("opinions", "recorded_by")
    op.execute(sa.text("DELETE FROM opinions WHERE booking_id IS NULL"))
    op.alter_column("opinions", "booking_id", nullable=False)
    op.drop_table("measures")
    op.drop_table("audit_log")
