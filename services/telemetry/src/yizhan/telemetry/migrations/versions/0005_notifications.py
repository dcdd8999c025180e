"""Alarm notifications: channels, the outbox of alarm events, deliveries (notifications/).

`alarm_events` is filled by a trigger on `alarms`, in the transaction that opens or clears
the alarm, whoever does it (ingest's faults, the offline watcher): an alarm cannot change
without its event being recorded, and a restart loses nothing. The notifier turns each event
into one delivery per matching channel, and sends deliveries until they get a 2xx.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE notification_channels (
            id           bigserial PRIMARY KEY,
            name         text NOT NULL,
            kind         text NOT NULL,
            url          text NOT NULL,
            secret       text NOT NULL,
            districts    text[] NOT NULL DEFAULT '{}',
            min_severity text NOT NULL,
            events       text[] NOT NULL,
            created_by   text NOT NULL,
            created_at   timestamptz NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE alarm_events (
            id          bigserial PRIMARY KEY,
            alarm_id    bigint NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
            event       text NOT NULL,
            at          timestamptz NOT NULL,
            fanned_out  boolean NOT NULL DEFAULT false
        )
        """
    )
    op.execute("CREATE INDEX alarm_events_pending ON alarm_events (id) WHERE NOT fanned_out")
    op.execute(
        """
        CREATE TABLE notification_deliveries (
            id              bigserial PRIMARY KEY,
            channel_id      bigint NOT NULL
                            REFERENCES notification_channels (id) ON DELETE CASCADE,
            alarm_event_id  bigint NOT NULL REFERENCES alarm_events (id) ON DELETE CASCADE,
            body            bytea NOT NULL,
            status          text NOT NULL DEFAULT 'pending',
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            last_error      text,
            sent_at         timestamptz,
            created_at      timestamptz NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)"
        " WHERE status <> 'sent'"
    )
    op.execute(
        "CREATE INDEX notification_deliveries_channel"
        " ON notification_deliveries (channel_id, id DESC)"
    )
    # An alarm inserted already cleared (a fault whose clear came first) never opened.
    op.execute(
        """
        CREATE FUNCTION record_alarm_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' AND NEW.cleared_at IS NULL THEN
                INSERT INTO alarm_events (alarm_id, event, at)
                VALUES (NEW.id, 'alarm.opened', NEW.opened_at);
            ELSIF TG_OP = 'UPDATE' AND OLD.cleared_at IS NULL AND NEW.cleared_at IS NOT NULL THEN
                INSERT INTO alarm_events (alarm_id, event, at)
                VALUES (NEW.id, 'alarm.cleared', NEW.cleared_at);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER alarms_record_event AFTER INSERT OR UPDATE OF cleared_at ON alarms"
        " FOR EACH ROW EXECUTE FUNCTION record_alarm_event()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS alarms_record_event ON alarms")
    op.execute("DROP FUNCTION IF EXISTS record_alarm_event()")
    op.execute("DROP TABLE IF EXISTS notification_deliveries")
    op.execute("DROP TABLE IF EXISTS alarm_events")
    op.execute("DROP TABLE IF EXISTS notification_channels")
