"""Device presence intervals (equipment availability) and alarm acknowledgements, both for
the operator console (presence.py, alarm_desk.py).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE device_presence (
            id         bigserial PRIMARY KEY,
            device_id  text NOT NULL,
            station_id text NOT NULL,
            online     boolean NOT NULL,
            since      timestamptz NOT NULL,
            until      timestamptz NOT NULL,
            current    boolean NOT NULL DEFAULT true
        )
        """
    )
    # The sampler extends each device's one current stretch.
    op.execute(
        "CREATE UNIQUE INDEX device_presence_current ON device_presence (device_id) WHERE current"
    )
    # Availability reads the stretches overlapping a range, network-wide or per station.
    op.execute("CREATE INDEX device_presence_until ON device_presence (until)")
    op.execute("CREATE INDEX device_presence_station ON device_presence (station_id, until)")
    op.execute(
        """
        CREATE TABLE alarm_acks (
            alarm_id        bigint PRIMARY KEY REFERENCES alarms (id) ON DELETE CASCADE,
            acknowledged_by text NOT NULL,
            acknowledged_at timestamptz NOT NULL,
            note            text NOT NULL DEFAULT ''
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS alarm_acks")
    op.execute("DROP TABLE IF EXISTS device_presence")
