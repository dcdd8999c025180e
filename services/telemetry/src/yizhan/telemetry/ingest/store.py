"""Where a batch of kiosk messages is stored: one PostgreSQL transaction per batch, with
psycopg 3 and COPY. Nothing is acknowledged to the broker before `write` returns."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from yizhan.telemetry.ingest import effects
from yizhan.telemetry.ingest.effects import AlarmChange, Arrival, Outcome
from yizhan.telemetry.ingest.protocol import MAX_PAYLOAD_BYTES, Event

log = logging.getLogger(__name__)

# Rows are deleted at each commit, so the table is created once per connection, not per batch.
_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS stage_keys (
    device_id text NOT NULL, seq bigint NOT NULL, ts timestamptz NOT NULL,
    received_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""
_NEW_KEYS = """
INSERT INTO message_keys (device_id, seq, ts, received_at)
SELECT device_id, seq, ts, received_at FROM stage_keys ORDER BY device_id, seq
ON CONFLICT DO NOTHING
RETURNING device_id, seq
"""
_COPY_KEYS = "COPY stage_keys (device_id, seq, ts, received_at) FROM STDIN"
_COPY_EVENTS = (
    "COPY events (time, received_at, station_id, device_id, seq, type, count, amount, ref, attrs)"
    " FROM STDIN"
)
_COPY_METRICS = "COPY metrics (time, station_id, device_id, metric, value) FROM STDIN"
_COPY_DEAD = (
    "COPY dead_letters (received_at, topic, station_id, device_id, reason, detail, payload)"
    " FROM STDIN"
)
_OPEN_ALARM = """
INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id, code) WHERE cleared_at IS NULL
DO UPDATE SET severity = EXCLUDED.severity, message = EXCLUDED.message
"""
_CLEAR_ALARM = """
UPDATE alarms SET cleared_at = GREATEST(opened_at, %s)
WHERE device_id = %s AND code = %s AND cleared_at IS NULL
"""
# GREATEST ignores NULLs: the newest sign of life and the newest offline moment win.
_DEVICE_STATE = """
INSERT INTO device_state AS d
    (device_id, station_id, last_seen, offline_at, state, state_ts, firmware)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO UPDATE SET
    station_id = EXCLUDED.station_id,
    last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
    offline_at = GREATEST(d.offline_at, EXCLUDED.offline_at),
    state = COALESCE(EXCLUDED.state, d.state),
    state_ts = COALESCE(EXCLUDED.state_ts, d.state_ts),
    firmware = COALESCE(EXCLUDED.firmware, d.firmware)
"""


@dataclass(frozen=True)
class DeadLetter:
    """A message kept for operators instead of being stored as data."""

    received_at: datetime
    topic: str
    station_id: str | None
    device_id: str | None
    reason: str
    detail: str
    payload: bytes


@dataclass
class Written:
    """What a committed batch did: each accepted message's outcome, and the new scans."""

    outcomes: list[Outcome]
    scans: list[Event]


class Store:
    """The writer thread's own database connection (reopened after a failure)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection | None = None

    def write(self, arrivals: Sequence[Arrival], dead_letters: Sequence[DeadLetter]) -> Written:
        """Store a batch in one transaction and commit it; raises psycopg.Error on failure
        (then nothing of the batch is stored)."""
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                fresh: set[effects.Key] = set()
                keys = effects.unique_keys(arrivals)
                if keys:
                    with cur.copy(_COPY_KEYS) as copy:
                        for key_row in keys:
                            copy.write_row(key_row)
                    cur.execute(_NEW_KEYS)
                    fresh = {(device_id, seq) for device_id, seq in cur.fetchall()}
                rows = effects.data_rows(arrivals, fresh)
                _copy(cur, _COPY_EVENTS, rows.events)
                _copy(cur, _COPY_METRICS, rows.metrics)
                _change_alarms(cur, rows.alarms)
                _update_devices(cur, effects.device_updates(arrivals))
                _copy(cur, _COPY_DEAD, [_dead_row(d) for d in dead_letters])
        except psycopg.OperationalError:
            self.close()
            raise
        return Written(rows.outcomes, rows.scans)

    def close(self) -> None:
        """Drop the connection (the next write opens a new one)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            # Autocommit outside `transaction()` blocks: each batch is exactly one transaction.
            conn = psycopg.connect(self._dsn, autocommit=True, application_name="yz-ingest")
            conn.execute(_STAGE)
            self._conn = conn
        return self._conn


def _copy(cur: psycopg.Cursor, statement: str, rows: Sequence[tuple[object, ...]]) -> None:
    if not rows:
        return
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _change_alarms(cur: psycopg.Cursor, changes: Sequence[AlarmChange]) -> None:
    # In arrival order: a fault and its clear may share a batch.
    for change in changes:
        if change.action == "open":
            cur.execute(
                _OPEN_ALARM,
                (
                    change.device_id,
                    change.station_id,
                    change.code,
                    change.severity,
                    change.message,
                    change.at,
                ),
            )
        else:
            cur.execute(_CLEAR_ALARM, (change.at, change.device_id, change.code))


def _update_devices(cur: psycopg.Cursor, updates: Sequence[effects.DeviceSeen]) -> None:
    if updates:
        cur.executemany(
            _DEVICE_STATE,
            [
                (
                    u.device_id,
                    u.station_id,
                    u.last_seen,
                    u.offline_at,
                    u.state,
                    u.state_ts,
                    u.firmware,
                )
                for u in updates
            ],
        )


def _dead_row(dead: DeadLetter) -> tuple[object, ...]:
    return (
        dead.received_at,
        _storable(dead.topic),
        dead.station_id,
        dead.device_id,
        dead.reason,
        _storable(dead.detail),
        dead.payload[:MAX_PAYLOAD_BYTES],
    )


def _storable(text: str) -> str:
    """Text PostgreSQL accepts: no NUL, valid UTF-8 (what devices send may be neither)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
