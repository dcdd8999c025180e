"""Development only: the last one-time code sent to each phone, in plain, for
GET /api/v1/dev/otp (CONTRACT.md §4). In the database rather than in a process's memory
because the service now answers from several worker processes (issue 16); never written
outside YZ_ENV=dev/test.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dev_otp_codes",
        sa.Column("phone", sa.String(11), primary_key=True),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dev_otp_codes")
