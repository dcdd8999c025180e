"""Alarms that reach people (issue 14): station-wide alarms (a dark station has no device),
channel kinds beyond the webhook (SMS, WeCom and DingTalk robots, e-mail), repeats,
escalation and quiet hours, and a quick look-up of clock refusals (clock alarms).

- `alarms.device_id` may be NULL: an alarm of the whole station (`station_dark`); at most one
  such alarm per station and code is open.
- Channels gain `recipients` (phone numbers or e-mail addresses), `repeat_minutes`,
  `escalate_after_minutes` and `escalate_to` (another channel), and quiet hours
  (`quiet_from`..`quiet_until`, local time in `quiet_tz`).
- Deliveries gain `purpose` (`event`, `repeat`, `escalation`) and, for an escalation, the
  channel it escalated from.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE alarms ALTER COLUMN device_id DROP NOT NULL")
    op.execute(
        "CREATE UNIQUE INDEX alarms_open_station_wide ON alarms (station_id, code)"
        " WHERE device_id IS NULL AND cleared_at IS NULL"
    )
    op.execute(
        "CREATE INDEX dead_letters_clock ON dead_letters (received_at)"
        " WHERE reason IN ('ts_future', 'ts_stale')"
    )
    op.execute(
        """
        ALTER TABLE notification_channels
            ADD COLUMN recipients text[] NOT NULL DEFAULT '{}',
            ADD COLUMN repeat_minutes integer,
            ADD COLUMN escalate_after_minutes integer,
            ADD COLUMN escalate_to bigint
                REFERENCES notification_channels (id) ON DELETE SET NULL,
            ADD COLUMN quiet_from time,
            ADD COLUMN quiet_until time,
            ADD COLUMN quiet_tz text NOT NULL DEFAULT 'Asia/Shanghai'
        """
    )
    op.execute(
        """
        ALTER TABLE notification_deliveries
            ADD COLUMN purpose text NOT NULL DEFAULT 'event',
            ADD COLUMN source_channel_id bigint
                REFERENCES notification_channels (id) ON DELETE SET NULL
        """
    )
    op.execute(
        "CREATE INDEX notification_deliveries_event"
        " ON notification_deliveries (alarm_event_id, channel_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS notification_deliveries_event")
    op.execute(
        "ALTER TABLE notification_deliveries DROP COLUMN IF EXISTS source_channel_id,"
        " DROP COLUMN IF EXISTS purpose"
    )
    op.execute(
        "ALTER TABLE notification_channels DROP COLUMN IF EXISTS quiet_tz,"
        " DROP COLUMN IF EXISTS quiet_until, DROP COLUMN IF EXISTS quiet_from,"
        " DROP COLUMN IF EXISTS escalate_to, DROP COLUMN IF EXISTS escalate_after_minutes,"
        " DROP COLUMN IF EXISTS repeat_minutes, DROP COLUMN IF EXISTS recipients"
    )
    op.execute("DROP INDEX IF EXISTS dead_letters_clock")
    op.execute("DROP INDEX IF EXISTS alarms_open_station_wide")
    op.execute("DELETE FROM alarms WHERE device_id IS NULL")
    op.execute("ALTER TABLE alarms ALTER COLUMN device_id SET NOT NULL")
