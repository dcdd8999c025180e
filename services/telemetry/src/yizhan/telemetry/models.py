"""Tables of the telemetry database (created by migrations/versions/, read here by queries).

`events` and `metrics` are the time series (TimescaleDB hypertables when available), written
only by ingest/store.py. A hypertable cannot carry a unique key without its time column, so
the (device_id, seq) duplicate check lives in its own table, `message_keys`.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

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
    # visit: people; charge.stop: Wh; water.dispense: litres; session or code.
    Column("count", Integer),
    Column("amount", Float),
    Column("ref", Text),
    Column("attrs", JSONB, nullable=False),
)

metrics = Table(
    "metrics",
    metadata,
    Column("time", DateTime(timezone=True), nullable=False),
    Column("station_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("value", Float, nullable=False),
)

message_keys = Table(
    "message_keys",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
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
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("station_id", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("message", Text),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("cleared_at", DateTime(timezone=True)),
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
)
