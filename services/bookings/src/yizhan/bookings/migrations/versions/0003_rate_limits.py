"""The shared rate limiter's counters (one-time codes per client address).

Revision ID: 0003
Revises: 0002
"""

from yizhan.common import ratelimit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ratelimit.create_table()


def downgrade() -> None:
    ratelimit.drop_table()
