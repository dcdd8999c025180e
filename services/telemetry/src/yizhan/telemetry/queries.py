"""The SQL the telemetry API side runs (usage figures, device state, alarms, availability),
in one place: the modules named in each section bind the values and shape the rows. The
ingest's statements stay with the ingest (ingest/store.py); what each usage figure is, is
figures.py."""

from yizhan.telemetry import figures

# usage.py

# The figures summed over the parts (each part holds them already, per key).
USAGE_OUTER_FIGURES = ", ".join(f"COALESCE(SUM(p.{name}), 0)" for name in figures.NAMES)
# Whole quarter hours [lo, hi) from the rollups, the partial ones around them from raw events.
USAGE_PARTS = f"""
    SELECT {{rollup_key}}, {figures.OVER_ROLLUPS}
    FROM {{rollup}} WHERE bucket >= :lo AND bucket < :hi {{stations}} GROUP BY 1
    UNION ALL
    SELECT {{raw_key}}, {figures.OVER_EVENTS}
    FROM events WHERE time >= :start AND time < :lo AND type IN {figures.USAGE_TYPES} {{stations}}
    GROUP BY 1
    UNION ALL
    SELECT {{raw_key}}, {figures.OVER_EVENTS}
    FROM events WHERE time >= :hi AND time < :end AND type IN {figures.USAGE_TYPES} {{stations}}
    GROUP BY 1
"""  # noqa: S608 (composed of constants; values are bound)
# Runs with the session's TimeZone set to the requested zone, so that date_trunc and
# `+ interval '1 day'` on timestamptz follow that zone's calendar (DST included).
USAGE_SERIES = f"""
WITH buckets AS (
    SELECT generate_series(
        date_trunc(:bucket, CAST(:start AS timestamptz)),
        CAST(:end AS timestamptz) - interval '1 microsecond',
        CAST(:step AS interval)
    ) AS start
), parts AS ({{parts}})
SELECT b.start, {USAGE_OUTER_FIGURES}
FROM buckets b LEFT JOIN parts p ON p.key = b.start
GROUP BY b.start ORDER BY b.start
"""  # noqa: S608 (composed of constants; values are bound)
USAGE_PER_STATION = f"""
SELECT p.key, {USAGE_OUTER_FIGURES}
FROM ({{parts}}) p GROUP BY p.key
"""  # noqa: S608 (composed of constants; values are bound)

# device_state.py

DEVICE_ONLINE = (
    "(last_seen > now() - make_interval(secs => :offline_after)"
    " AND (offline_at IS NULL OR last_seen > offline_at))"
)
DEVICE_STATES = f"""
SELECT device_id, {DEVICE_ONLINE}, last_seen, firmware FROM device_state
WHERE station_id = :station ORDER BY device_id
"""  # noqa: S608 (composed of constants; values are bound)
DEVICE_OPEN_ALARMS = """
SELECT device_id, code, severity, message, opened_at FROM alarms
WHERE station_id = :station AND cleared_at IS NULL ORDER BY opened_at, id
"""
# A start whose stop never came (a lost message, a kiosk replaced) is not shown forever.
SESSION_SHOWN_FOR = "24 hours"
DEVICE_CHARGING = f"""
SELECT device_id, session, connector, started_at FROM charge_sessions
WHERE station_id = :station AND stopped_at IS NULL
  AND started_at > now() - interval '{SESSION_SHOWN_FOR}'
ORDER BY started_at, session
"""  # noqa: S608 (composed of constants; values are bound)
DEVICE_DEVICE_COUNTS = f"""
SELECT station_id, COUNT(*), COUNT(*) FILTER (WHERE {DEVICE_ONLINE}) FROM device_state
WHERE station_id = ANY(:stations) GROUP BY station_id
"""  # noqa: S608 (composed of constants; values are bound)
DEVICE_ALARM_COUNTS = """
SELECT station_id, COUNT(*) FROM alarms
WHERE station_id = ANY(:stations) AND cleared_at IS NULL GROUP BY station_id
"""

# The public station finder (device_state.live_devices): every device at once, so open
# alarms and open sessions are gathered first (both are few) and joined.
DEVICE_LIVE = f"""
WITH open_alarms AS (
    SELECT device_id, bool_or(severity = 'critical') AS critical FROM alarms
    WHERE cleared_at IS NULL GROUP BY device_id
), charging AS (
    SELECT DISTINCT device_id FROM charge_sessions
    WHERE stopped_at IS NULL AND started_at > now() - interval '{SESSION_SHOWN_FOR}'
)
SELECT d.device_id, d.station_id, {DEVICE_ONLINE}, d.last_seen,
       c.device_id IS NOT NULL, COALESCE(a.critical, false), a.device_id IS NOT NULL
FROM device_state d
LEFT JOIN open_alarms a ON a.device_id = d.device_id
LEFT JOIN charging c ON c.device_id = d.device_id
WHERE CAST(:all AS boolean) OR d.station_id = ANY(:stations)
ORDER BY d.station_id, d.device_id
"""  # noqa: S608 (composed of constants; values are bound)

# alarm_desk.py

ALARM_COLUMNS = """
a.id, a.device_id, a.station_id, a.code, a.severity, a.message, a.opened_at,
k.acknowledged_at, k.acknowledged_by, k.note
"""
ALARM_OPEN = f"""
SELECT {ALARM_COLUMNS}
FROM alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id
WHERE a.cleared_at IS NULL {{stations}}
ORDER BY a.opened_at, a.id
LIMIT :limit
"""  # noqa: S608 (composed of constants; values are bound)
ALARM_COUNT = "SELECT COUNT(*) FROM alarms a WHERE a.cleared_at IS NULL {stations}"
ALARM_ACKNOWLEDGE = """
INSERT INTO alarm_acks (alarm_id, acknowledged_by, acknowledged_at, note)
SELECT a.id, :by, now(), :note FROM alarms a
WHERE a.id = :id AND a.cleared_at IS NULL {stations}
ON CONFLICT (alarm_id) DO UPDATE
    SET acknowledged_by = excluded.acknowledged_by,
        acknowledged_at = excluded.acknowledged_at,
        note = excluded.note
RETURNING alarm_id
"""
ALARM_ONE = f"""
SELECT {ALARM_COLUMNS}
FROM alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id
WHERE a.id = :id
"""  # noqa: S608 (composed of constants; values are bound)

# presence.py

# Per device over [start, end): seconds observed, online, and working (online with no open
# critical alarm: the presence stretches minus the union of the device's critical alarms).
# range_agg and multiranges need PostgreSQL 14 or later (the project runs 15).
PRESENCE_AVAILABILITY = """
WITH presence AS (
    SELECT device_id, station_id, online,
           tstzrange(GREATEST(since, :start), LEAST(until, :end)) AS span
    FROM device_presence
    WHERE until > :start AND since < :end {stations}
), critical AS (
    SELECT device_id,
           range_agg(tstzrange(opened_at, COALESCE(cleared_at, 'infinity'))) AS spans
    FROM alarms
    WHERE severity = 'critical' AND opened_at < :end
      AND (cleared_at IS NULL OR cleared_at > :start) {stations}
    GROUP BY device_id
)
SELECT p.device_id, p.station_id,
       SUM(EXTRACT(EPOCH FROM upper(p.span) - lower(p.span))),
       COALESCE(SUM(EXTRACT(EPOCH FROM upper(p.span) - lower(p.span))) FILTER (WHERE p.online), 0),
       COALESCE(SUM((
           SELECT SUM(EXTRACT(EPOCH FROM upper(w) - lower(w)))
           FROM unnest(multirange(p.span) - COALESCE(c.spans, '{{}}'::tstzmultirange)) AS w
       )) FILTER (WHERE p.online), 0)
FROM presence p LEFT JOIN critical c ON c.device_id = p.device_id
GROUP BY p.device_id, p.station_id
ORDER BY p.station_id, p.device_id
"""
