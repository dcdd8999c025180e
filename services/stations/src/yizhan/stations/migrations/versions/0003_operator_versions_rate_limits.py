"""Operator account versions (a change to an account ends its older tokens) and the shared
rate limiter's counters (logins).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from yizhan.common import ratelimit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operators", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    ratelimit.create_table()


def downgrade() -> None:
    ratelimit.drop_table()
    op.drop_column("operators", "version")
