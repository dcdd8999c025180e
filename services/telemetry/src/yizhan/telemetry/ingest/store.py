"""Where a batch of kiosk messages is stored: one SQL statement per batch (one round trip,
its own transaction), then, only for batches with faults or charging events, a few more
statements in the same transaction. Nothing is acknowledged before `write` returns.

Why one statement: the writer is one thread among others in a Python process, and every
round trip to PostgreSQL hands the interpreter lock away and waits to get it back. Data-
modifying CTEs do everything the batch needs in one go:
1. insert the batch's (device, seq) keys, skipping those already stored (duplicates);
2. the events and metric readings of the new keys only (joined on the inserted keys);
3. device state (every message, duplicates too, is a sign of life) and dead letters;
4. without TimescaleDB, the usage rollups, from the new events (the same expressions as the
   continuous aggregates of migration 0003, so both paths add up the same numbers);
and it answers with the keys that were duplicates (usually none).

Rows are inserted sorted (keys by device and seq, devices by id, rollups by station and
bucket) so that two ingest replicas take row locks in the same order and cannot deadlock.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_dumps

from yizhan.telemetry import figures, storage
from yizhan.telemetry.ingest import effects
from yizhan.telemetry.ingest.effects import AlarmChange, Arrival, Outcome, SessionChange
from yizhan.telemetry.ingest.protocol import MAX_PAYLOAD_BYTES, Event

log = logging.getLogger(__name__)

_BATCH = """
WITH msg AS (
    SELECT m.device_id, m.seq, m.station_id,
           TIMESTAMPTZ 'epoch' + m.ts_us * INTERVAL '1 microsecond' AS ts,
           TIMESTAMPTZ 'epoch' + m.received_us * INTERVAL '1 microsecond' AS received_at, m.i
    FROM unnest(%(device_id)s::text[], %(seq)s::int8[], %(station_id)s::text[],
                %(ts_us)s::int8[], %(received_us)s::int8[])
        WITH ORDINALITY AS m(device_id, seq, station_id, ts_us, received_us, i)
), new_keys AS (
    INSERT INTO message_keys AS k (device_id, seq, ts, received_at)
    SELECT device_id, seq, ts, received_at FROM msg ORDER BY device_id, seq
    ON CONFLICT DO NOTHING
    RETURNING k.device_id, k.seq
), fresh AS (
    SELECT msg.* FROM msg JOIN new_keys USING (device_id, seq)
), new_metrics AS (
    INSERT INTO metrics (time, station_id, device_id, metric, value)
    SELECT f.ts, f.station_id, f.device_id, x.metric, x.value
    FROM unnest(%(metric_of)s::int8[], %(metric)s::text[], %(value)s::float8[])
        AS x(i, metric, value)
    JOIN fresh f ON f.i = x.i
), new_events AS (
    INSERT INTO events (time, received_at, station_id, device_id, seq, type, count, amount,
                        ref, attrs)
    SELECT f.ts, f.received_at, f.station_id, f.device_id, f.seq, e.type, e.count, e.amount,
           e.ref, e.attrs
    FROM unnest(%(event_of)s::int8[], %(event_type)s::text[], %(count)s::int4[],
                %(amount)s::float8[], %(ref)s::text[], %(attrs)s::jsonb[])
        AS e(i, type, count, amount, ref, attrs)
    JOIN fresh f ON f.i = e.i
    RETURNING station_id, time, type, count, amount
), seen AS (
    -- GREATEST ignores NULLs: the newest sign of life and the newest offline moment win.
    INSERT INTO device_state AS d
        (device_id, station_id, last_seen, offline_at, state, state_ts, firmware)
    SELECT * FROM unnest(%(d_device_id)s::text[], %(d_station_id)s::text[],
                         %(d_last_seen)s::timestamptz[], %(d_offline_at)s::timestamptz[],
                         %(d_state)s::text[], %(d_state_ts)s::timestamptz[],
                         %(d_firmware)s::text[])
    ON CONFLICT (device_id) DO UPDATE SET
        station_id = EXCLUDED.station_id,
        last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen),
        offline_at = GREATEST(d.offline_at, EXCLUDED.offline_at),
        state = COALESCE(EXCLUDED.state, d.state),
        state_ts = COALESCE(EXCLUDED.state_ts, d.state_ts),
        firmware = COALESCE(EXCLUDED.firmware, d.firmware)
), dead AS (
    INSERT INTO dead_letters (received_at, topic, station_id, device_id, reason, detail, payload)
    SELECT * FROM unnest(%(dl_received_at)s::timestamptz[], %(dl_topic)s::text[],
                         %(dl_station_id)s::text[], %(dl_device_id)s::text[],
                         %(dl_reason)s::text[], %(dl_detail)s::text[], %(dl_payload)s::bytea[])
){rollups}
SELECT device_id, seq FROM msg EXCEPT ALL SELECT device_id, seq FROM new_keys
"""
_ROLLUP_SET = ", ".join(f"{name} = u.{name} + EXCLUDED.{name}" for name in figures.NAMES)
# Without TimescaleDB: the new usage events added to the quarter-hour rollups.
_ROLLUPS = f""", usage_rows AS (
    SELECT station_id,
           date_bin(INTERVAL '15 minutes', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           {figures.OVER_EVENTS}
    FROM new_events WHERE type IN {figures.USAGE_TYPES}
    GROUP BY 1, 2
), station_rollup AS (
    INSERT INTO usage_15m AS u (station_id, bucket, {figures.COLUMNS})
    SELECT * FROM usage_rows ORDER BY station_id, bucket
    ON CONFLICT (station_id, bucket) DO UPDATE SET {_ROLLUP_SET}
), network_rollup AS (
    INSERT INTO usage_network_15m AS u (bucket, {figures.COLUMNS})
    SELECT bucket, {figures.OVER_ROLLUPS}
    FROM usage_rows GROUP BY bucket ORDER BY bucket
    ON CONFLICT (bucket) DO UPDATE SET {_ROLLUP_SET}
)"""  # noqa: S608 (composed of constants; values are bound)

# A fault opens an alarm, unless a later clear (by seq) already came: then it is recorded
# as cleared. A repeated fault refreshes the open alarm, which keeps its first opening.
_OPEN_ALARM = """
INSERT INTO alarms (device_id, station_id, code, severity, message, opened_at, opened_seq,
                    cleared_at)
SELECT %(device)s, %(station)s, %(code)s, %(severity)s, %(message)s, %(at)s, %(seq)s,
       (SELECT GREATEST(c.cleared_at, %(at)s) FROM alarm_clears c
        WHERE c.device_id = %(device)s AND c.code = %(code)s AND c.seq > %(seq)s)
ON CONFLICT (device_id, code) WHERE cleared_at IS NULL
DO UPDATE SET
    severity = CASE WHEN EXCLUDED.opened_seq >= alarms.opened_seq OR alarms.opened_seq IS NULL
                    THEN EXCLUDED.severity ELSE alarms.severity END,
    message = CASE WHEN EXCLUDED.opened_seq >= alarms.opened_seq OR alarms.opened_seq IS NULL
                   THEN EXCLUDED.message ELSE alarms.message END,
    opened_at = LEAST(alarms.opened_at, EXCLUDED.opened_at),
    opened_seq = LEAST(alarms.opened_seq, EXCLUDED.opened_seq)
"""
_CLEAR_ALARM = """
UPDATE alarms SET cleared_at = GREATEST(opened_at, %(at)s)
WHERE device_id = %(device)s AND code = %(code)s AND cleared_at IS NULL
  AND (opened_seq IS NULL OR opened_seq < %(seq)s)
"""
_REMEMBER_CLEAR = """
INSERT INTO alarm_clears AS c (device_id, code, seq, cleared_at)
VALUES (%(device)s, %(code)s, %(seq)s, %(at)s)
ON CONFLICT (device_id, code) DO UPDATE SET seq = EXCLUDED.seq, cleared_at = EXCLUDED.cleared_at
WHERE EXCLUDED.seq > c.seq
"""
# LEAST/GREATEST ignore NULLs: the earliest start and the latest stop win, whichever arrives
# first.
_SESSIONS = """
INSERT INTO charge_sessions AS c
    (device_id, session, station_id, connector, started_at, stopped_at, energy_wh, stop_reason)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int4[], %s::timestamptz[],
                     %s::timestamptz[], %s::float8[], %s::text[])
ON CONFLICT (device_id, session) DO UPDATE SET
    station_id = EXCLUDED.station_id,
    connector = CASE WHEN EXCLUDED.started_at < c.started_at OR c.started_at IS NULL
                     THEN COALESCE(EXCLUDED.connector, c.connector) ELSE c.connector END,
    started_at = LEAST(c.started_at, EXCLUDED.started_at),
    energy_wh = CASE WHEN EXCLUDED.stopped_at >= c.stopped_at OR c.stopped_at IS NULL
                     THEN COALESCE(EXCLUDED.energy_wh, c.energy_wh) ELSE c.energy_wh END,
    stop_reason = CASE WHEN EXCLUDED.stopped_at >= c.stopped_at OR c.stopped_at IS NULL
                       THEN COALESCE(EXCLUDED.stop_reason, c.stop_reason) ELSE c.stop_reason END,
    stopped_at = GREATEST(c.stopped_at, EXCLUDED.stopped_at)
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
    """What a committed batch did: each accepted message's outcome, the new scans, and the
    time range of its new usage events (for the continuous aggregates' late refresh)."""

    outcomes: list[Outcome]
    scans: list[Event]
    usage_range: tuple[datetime, datetime] | None = None


class Store:
    """The writer thread's own database connection (reopened after a failure)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection | None = None
        self._statement = _BATCH.format(rollups="")

    def write(self, arrivals: Sequence[Arrival], dead_letters: Sequence[DeadLetter]) -> Written:
        """Store a batch and commit it; raises psycopg.Error on failure (then nothing of the
        batch is stored)."""
        conn = self._connection()
        batch = effects.columns(arrivals)
        params = _batch_params(batch, effects.device_updates(arrivals), dead_letters)
        try:
            if batch.followups:
                with conn.transaction(), conn.cursor() as cur:
                    duplicates = self._insert(cur, params)
                    rows = effects.effects(arrivals, duplicates)
                    _upsert_sessions(cur, rows.sessions.values())
                    _change_alarms(cur, rows.alarms)
            else:
                # One statement in autocommit: its own transaction, no BEGIN/COMMIT trips.
                with conn.cursor() as cur:
                    duplicates = self._insert(cur, params)
                rows = effects.effects(arrivals, duplicates)
        except psycopg.OperationalError:
            self.close()
            raise
        usage_range = None
        if rows.usage:
            times = [event.ts for event in rows.usage]
            usage_range = (min(times), max(times))
        return Written(rows.outcomes, rows.scans, usage_range)

    def close(self) -> None:
        """Drop the connection (the next write opens a new one)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _insert(self, cur: psycopg.Cursor, params: dict[str, Any]) -> set[effects.Key]:
        cur.execute(self._statement, params)
        return {(device_id, seq) for device_id, seq in cur.fetchall()}

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._dsn, autocommit=True, application_name="yz-ingest")
            set_json_dumps(orjson.dumps, context=conn)
            rollups = _ROLLUPS if storage.keeps_rollups(conn) else ""
            self._statement = _BATCH.format(rollups=rollups)
            self._conn = conn
        return self._conn


def _text_array(items: Sequence[str]) -> str:
    """An array literal of ids or metric names, which the protocol limits to letters, digits,
    `_` and `-`; quoted so that an id like `null` stays text."""
    return '{"' + '","'.join(items) + '"}' if items else "{}"


def _number_array(items: Iterable[int | float]) -> str:
    """An array literal of finite numbers (repr round-trips a float exactly)."""
    return "{" + ",".join(map(repr, items)) + "}"


def _epoch_us(moments: Iterable[datetime]) -> str:
    return _number_array(round(moment.timestamp() * 1_000_000) for moment in moments)


def _batch_params(
    batch: effects.Columns,
    devices: Sequence[effects.DeviceSeen],
    dead_letters: Sequence[DeadLetter],
) -> dict[str, Any]:
    # The columns with one element per message or reading go as array literals joined here:
    # psycopg's list adaptation walks the elements in Python, which cost a quarter of
    # ingest's time. The rest (an element per event, device or dead letter) is adapted.
    return {
        "device_id": _text_array(batch.device_id),
        "seq": _number_array(batch.seq),
        "station_id": _text_array(batch.station_id),
        "ts_us": _epoch_us(batch.ts),
        "received_us": _epoch_us(batch.received_at),
        "metric_of": _number_array(batch.metric_of),
        "metric": _text_array(batch.metric),
        "value": _number_array(batch.value),
        "event_of": batch.event_of,
        "event_type": batch.event_type,
        "count": batch.count,
        "amount": batch.amount,
        "ref": batch.ref,
        "attrs": [Jsonb(attrs) for attrs in batch.attrs],
        "d_device_id": [d.device_id for d in devices],
        "d_station_id": [d.station_id for d in devices],
        "d_last_seen": [d.last_seen for d in devices],
        "d_offline_at": [d.offline_at for d in devices],
        "d_state": [d.state for d in devices],
        "d_state_ts": [d.state_ts for d in devices],
        "d_firmware": [d.firmware for d in devices],
        "dl_received_at": [d.received_at for d in dead_letters],
        "dl_topic": [_storable(d.topic) for d in dead_letters],
        "dl_station_id": [d.station_id for d in dead_letters],
        "dl_device_id": [d.device_id for d in dead_letters],
        "dl_reason": [d.reason for d in dead_letters],
        "dl_detail": [_storable(d.detail) for d in dead_letters],
        "dl_payload": [d.payload[:MAX_PAYLOAD_BYTES] for d in dead_letters],
    }


def _upsert_sessions(cur: psycopg.Cursor, changes: Iterable[SessionChange]) -> None:
    ordered = sorted(changes, key=lambda c: (c.device_id, c.session))
    if not ordered:
        return
    cur.execute(
        _SESSIONS,
        [
            [c.device_id for c in ordered],
            [c.session for c in ordered],
            [c.station_id for c in ordered],
            [c.connector for c in ordered],
            [c.started_at for c in ordered],
            [c.stopped_at for c in ordered],
            [c.energy_wh for c in ordered],
            [c.stop_reason for c in ordered],
        ],
    )


def _change_alarms(cur: psycopg.Cursor, changes: Sequence[AlarmChange]) -> None:
    # In arrival order: a fault and its clear may share a batch. Faults are rare: one
    # statement each is fine.
    for change in changes:
        params = {
            "device": change.device_id,
            "station": change.station_id,
            "code": change.code,
            "at": change.at,
            "seq": change.seq,
            "severity": change.severity,
            "message": change.message,
        }
        if change.action == "open":
            cur.execute(_OPEN_ALARM, params)
        else:
            cur.execute(_CLEAR_ALARM, params)
            cur.execute(_REMEMBER_CLEAR, params)


def _storable(text: str) -> str:
    """Text PostgreSQL accepts: no NUL, valid UTF-8 (what devices send may be neither)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
