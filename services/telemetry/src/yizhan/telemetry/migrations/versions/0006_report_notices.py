"""District reports sent through the notification channels (issue 14 item 3): the console
hands telemetry each month's report for a district once; telemetry keeps it as a notice (one
per district and period, so a repeated hand-over sends nothing twice) and queues one
delivery per channel subscribed to `report.monthly`, sent by the same notifier as alarms.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE report_notices (
            id           bigserial PRIMARY KEY,
            district     text NOT NULL,
            period_first date NOT NULL,
            period_last  date NOT NULL,
            created_at   timestamptz NOT NULL,
            CONSTRAINT report_notices_once UNIQUE (district, period_first, period_last)
        )
        """
    )
    op.execute("ALTER TABLE notification_deliveries ALTER COLUMN alarm_event_id DROP NOT NULL")
    op.execute(
        "ALTER TABLE notification_deliveries ADD COLUMN report_notice_id bigint"
        " REFERENCES report_notices (id) ON DELETE CASCADE"
    )


def downgrade() -> None:
    op.execute("DELETE FROM notification_deliveries WHERE alarm_event_id IS NULL")
    op.execute("ALTER TABLE notification_deliveries DROP COLUMN report_notice_id")
    op.execute("ALTER TABLE notification_deliveries ALTER COLUMN alarm_event_id SET NOT NULL")
    op.execute("DROP TABLE report_notices")
