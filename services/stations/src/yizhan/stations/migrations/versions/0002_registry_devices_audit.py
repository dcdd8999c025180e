"""Opening-hour exceptions, device lifecycle and broker state, the audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "stations",
        sa.Column("opening_exceptions", postgresql.JSONB, nullable=False, server_default="[]"),
    )
    # The amenity filter asks `amenities @> ARRAY[...]`.
    op.create_index("ix_stations_amenities", "stations", ["amenities"], postgresql_using="gin")
    op.add_column("devices", sa.Column("installed_at", sa.DateTime(timezone=True)))
    op.add_column(
        "devices",
        sa.Column("credential_generation", sa.Integer, nullable=False, server_default="1"),
    )
    op.add_column(
        "devices", sa.Column("broker_generation", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column(
        "devices",
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    # 0001 left these nullable although nothing ever stores NULL there (models.py says so).
    for table, column in (
        ("stations", "created_at"),
        ("stations", "updated_at"),
        ("devices", "created_at"),
        ("operators", "created_at"),
    ):
        # Names from the tuple above, not from any input.
        fill = f"UPDATE {table} SET {column} = now() WHERE {column} IS NULL"  # noqa: S608
        op.execute(sa.text(fill))
        op.alter_column(table, column, nullable=False)
    op.add_column("devices", sa.Column("revoked_at", sa.DateTime(timezone=True)))
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


def downgrade() -> None:
    for table, column in (
        ("stations", "created_at"),
        ("stations", "updated_at"),
        ("devices", "created_at"),
        ("operators", "created_at"),
    ):
        op.alter_column(table, column, nullable=True)
    op.drop_table("audit_log")
    for column in ("revoked_at", "updated_at", "broker_generation", "credential_generation"):
        op.drop_column("devices", column)
    op.drop_column("devices", "installed_at")
    op.drop_index("ix_stations_amenities", table_name="stations")
    op.drop_column("stations", "opening_exceptions")
