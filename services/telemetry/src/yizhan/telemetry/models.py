"""Tables of the telemetry database as migrations/versions/ create them on plain PostgreSQL
(tests/telemetry/test_migrations.py fails when the two drift apart).

`events` and `metrics` are the time series (TimescaleDB hypertables when available), written
only by ingest/store.py. A hypertable cannot carry a unique key without its time column, so
the (device_id, seq) duplicate check lives in its own table, `message_keys`.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("time", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("station_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    # visit: people; heat.use: seconds; charge.stop: Wh; water.dispense: litres; session or code.
    Column("count", Integer),
    Column("amount", Float),
    Column("ref", Text),
    Column("attrs", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("events_time_brin", "time", postgresql_using="brin"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("time", DateTime(timezone=True), nullable=False),
    Column("station_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("value", Float, nullable=False),
    Index("metrics_time_brin", "time", postgresql_using="brin"),
)

message_keys = Table(
    "message_keys",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("message_keys_ts_brin", "ts", postgresql_using="brin"),
)

device_state = Table(
    "device_state",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("station_id", Text, nullable=False),
    # When we last received anything from it (our clock, not the device's).
    Column("last_seen", DateTime(timezone=True), nullable=False),
    # When its last offline status or Last Will arrived; it is online again once
    # last_seen is later.
    Column("offline_at", DateTime(timezone=True)),
    Column("state", Text),
    Column("state_ts", DateTime(timezone=True)),
    Column("firmware", Text),
    Index("device_state_station", "station_id"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", BigInteger, primary_key=True),
    # NULL for an alarm of the whole station (a dark station: station_alarms.py).
    Column("device_id", Text),
    Column("station_id", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("message", Text),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
    # The seq of the fault that opened it (a replayed fault must not open it again).
    Column("opened_seq", BigInteger),
    Index(
        "alarms_open",
        "device_id",
        "code",
        unique=True,
        postgresql_where=text("cleared_at IS NULL"),
    ),
    Index("alarms_open_station", "station_id", postgresql_where=text("cleared_at IS NULL")),
    Index(
        "alarms_open_station_wide",
        "station_id",
        "code",
        unique=True,
        postgresql_where=text("device_id IS NULL AND cleared_at IS NULL"),
    ),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", Text, nullable=False),
    # From the topic when it parses; not verified against the registry.
    Column("station_id", Text),
    Column("device_id", Text),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Index("dead_letters_received_brin", "received_at", postgresql_using="brin"),
)

# Newest first within a station, a device or a reason (the listings page backwards).
Index("events_station_time", events.c.station_id, events.c.time.desc())
Index("metrics_device_time", metrics.c.device_id, metrics.c.time.desc())
Index("dead_letters_reason", dead_letters.c.reason, dead_letters.c.id.desc())
Index("dead_letters_station", dead_letters.c.station_id, dead_letters.c.id.desc())
# Clock refusals of the last minutes (clock_alarms.py).
Index(
    "dead_letters_clock",
    dead_letters.c.received_at,
    postgresql_where=text("reason IN ('ts_future', 'ts_stale')"),
)

# The latest clear of each (device, code): a fault older than it does not reopen the alarm.
alarm_clears = Table(
    "alarm_clears",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("code", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("cleared_at", DateTime(timezone=True), nullable=False),
)

alarm_acks = Table(
    "alarm_acks",
    metadata,
    Column("alarm_id", BigInteger, ForeignKey("alarms.id", ondelete="CASCADE"), primary_key=True),
    Column("acknowledged_by", Text, nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, server_default=text("''")),
)

# Online and offline intervals of each device (presence.py samples them).
device_presence = Table(
    "device_presence",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("station_id", Text, nullable=False),
    Column("online", Boolean, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("current", Boolean, nullable=False, server_default=text("true")),
    Index("device_presence_current", "device_id", unique=True, postgresql_where=text("current")),
    Index("device_presence_station", "station_id", "until"),
    Index("device_presence_until", "until"),
)

charge_sessions = Table(
    "charge_sessions",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("session", Text, primary_key=True),
    Column("station_id", Text, nullable=False),
    Column("connector", Integer),
    Column("started_at", DateTime(timezone=True)),
    Column("stopped_at", DateTime(timezone=True)),
    Column("energy_wh", Float),
    Column("stop_reason", Text),
    Index(
        "charge_sessions_open",
        "station_id",
        "started_at",
        postgresql_where=text("stopped_at IS NULL"),
    ),
)

# Quarter-hour rollups of the usage figures (figures.py), per station and for the network;
# with TimescaleDB they are continuous aggregates instead (migrations 0003, 0004).
usage_15m = Table(
    "usage_15m",
    metadata,
    Column("station_id", Text, primary_key=True),
    Column("bucket", DateTime(timezone=True), primary_key=True),
    Column("visits", BigInteger, nullable=False),
    Column("charge_sessions", BigInteger, nullable=False),
    Column("energy_wh", Numeric, nullable=False),
    Column("water_liters", Numeric, nullable=False),
    Column("dispenses", BigInteger, nullable=False),
    Column("heat_uses", BigInteger, nullable=False),
    Column("heat_seconds", BigInteger, nullable=False),
)

usage_network_15m = Table(
    "usage_network_15m",
    metadata,
    Column("bucket", DateTime(timezone=True), primary_key=True),
    Column("visits", BigInteger, nullable=False),
    Column("charge_sessions", BigInteger, nullable=False),
    Column("energy_wh", Numeric, nullable=False),
    Column("water_liters", Numeric, nullable=False),
    Column("dispenses", BigInteger, nullable=False),
    Column("heat_uses", BigInteger, nullable=False),
    Column("heat_seconds", BigInteger, nullable=False),
)

# Alarm notifications (migration 0004, notifications/): channels operators set up, the outbox
# of alarm events (filled by a trigger on `alarms`), one delivery per event and channel.
notification_channels = Table(
    "notification_channels",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("districts", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("min_severity", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Migration 0007: phone numbers or e-mail addresses (SMS and e-mail channels).
    Column("recipients", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("repeat_minutes", Integer),
    Column("escalate_after_minutes", Integer),
    Column(
        "escalate_to",
        BigInteger,
        ForeignKey("notification_channels.id", ondelete="SET NULL"),
    ),
    Column("quiet_from", Time),
    Column("quiet_until", Time),
    Column("quiet_tz", Text, nullable=False, server_default=text("'Asia/Shanghai'")),
)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("alarm_id", BigInteger, ForeignKey("alarms.id", ondelete="CASCADE"), nullable=False),
    Column("event", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("fanned_out", Boolean, nullable=False, server_default=text("false")),
    Index("alarm_events_pending", "id", postgresql_where=text("NOT fanned_out")),
)

# A district's report for a period, handed over once by the console (migration 0006).
report_notices = Table(
    "report_notices",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("district", Text, nullable=False),
    Column("period_first", Date, nullable=False),
    Column("period_last", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("district", "period_first", "period_last", name="report_notices_once"),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column(
        "channel_id",
        BigInteger,
        ForeignKey("notification_channels.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # An alarm event's delivery, or (migration 0006) a district report's.
    Column(
        "alarm_event_id",
        BigInteger,
        ForeignKey("alarm_events.id", ondelete="CASCADE"),
        nullable=True,
    ),
    # The exact bytes signed and sent: every retry sends the same body and signature.
    Column("body", LargeBinary, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column(
        "report_notice_id",
        BigInteger,
        ForeignKey("report_notices.id", ondelete="CASCADE"),
        nullable=True,
    ),
    # Migration 0007: `event` (the alarm's own), `repeat`, or `escalation` (from the channel
    # `source_channel_id`).
    Column("purpose", Text, nullable=False, server_default=text("'event'")),
    Column(
        "source_channel_id",
        BigInteger,
        ForeignKey("notification_channels.id", ondelete="SET NULL"),
    ),
    Index("notification_deliveries_event", "alarm_event_id", "channel_id"),
    Index(
        "notification_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status <> 'sent'"),
    ),
)
Index(
    "notification_deliveries_channel",
    notification_deliveries.c.channel_id,
    notification_deliveries.c.id.desc(),
)
