"""The notifier of the API process: alarm events (the outbox a trigger on `alarms` fills)
become one delivery per matching channel, repeats and escalations are added while alarms
stay open, and deliveries are sent until they get through.

Every `notify_poll_seconds`, in order:
1. fan out: each new event to the channels of its district and severity (and an alarm's
   clearing also to the channels it was escalated to); a channel in its quiet hours holds
   the delivery (`quiet`, quiet.py) unless the alarm is critical;
2. repeat: a channel with `repeat_minutes` gets an alarm again (`"reminder": n` in the body)
   every so many minutes after its last one went out, while the alarm is open and nobody
   has acknowledged it (an acknowledged alarm is someone's: reminders stop);
3. escalate: a channel with `escalate_to` and `escalate_after_minutes` hands an alarm still
   open and unacknowledged that long after it was first told to the other channel, once
   (`"escalated": true` in the body); that channel's quiet hours apply, its filters do not;
4. send what is due, every kind the same way (senders.py): failures wait the common backoff
   (yizhan.common.backoff), from `notify_retry_first_seconds` up to
   `notify_retry_max_seconds`, and are retried for as long as the channel exists.

A delivery leaves within about `notify_poll_seconds` of its alarm opening or clearing (the
contract asks for 10 s). Everything lives in the database: a restart (or a crash mid-send)
loses nothing, at worst a delivery goes twice. Replicas share sending with SKIP LOCKED;
repeats and escalations are planned by one replica at a time (an advisory lock)."""

import asyncio
import logging
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.common.backoff import backoff_delay
from yizhan.common.sms import SmsSender
from yizhan.telemetry.notifications import quiet, senders, webhook
from yizhan.telemetry.peers.stations import StationRef, StationsClient

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 100
SEND_BATCH = 50
PLAN_BATCH = 200
# Kept on a delivery so that operators can read why it failed, not a whole error page.
MAX_ERROR_LENGTH = 300
# pg_try_advisory_xact_lock key of the repeat and escalation planner ("yznotify").
PLANNER_LOCK = 0x797A6E6F74696679

_PENDING_EVENTS = """
SELECT e.id, e.event, e.at, a.device_id, a.station_id, a.code, a.severity, a.message,
       a.opened_at, a.id
FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id
WHERE NOT e.fanned_out ORDER BY e.id LIMIT :limit
FOR UPDATE OF e SKIP LOCKED
"""
_CHANNEL_QUIET = "id, quiet_from, quiet_until, quiet_tz"
_MATCHING_CHANNELS = f"""
SELECT {_CHANNEL_QUIET} FROM notification_channels
WHERE :event = ANY(events)
  AND (cardinality(districts) = 0 OR :district = ANY(districts))
  AND (min_severity = 'warning' OR :severity = 'critical')
UNION
SELECT c.id, c.quiet_from, c.quiet_until, c.quiet_tz
FROM notification_deliveries d
JOIN alarm_events o ON o.id = d.alarm_event_id
JOIN notification_channels c ON c.id = d.channel_id
WHERE :event = 'alarm.cleared' AND d.purpose = 'escalation' AND o.alarm_id = :alarm
  AND :event = ANY(c.events)
"""  # noqa: S608 (composed of constants; values are bound)
_ADD_DELIVERY = """
INSERT INTO notification_deliveries
    (channel_id, alarm_event_id, body, status, next_attempt_at, created_at, purpose,
     source_channel_id)
VALUES (:channel, :event, :body, :status, :at, :now, :purpose, :source)
"""
# Per channel with repeats and open, unacknowledged alarm it was told of: how many times,
# and when the last went out (none still waiting: a held or failing one is not repeated).
_DUE_REPEATS = """
SELECT c.id, d.alarm_event_id, c.quiet_from, c.quiet_until, c.quiet_tz, a.severity,
       (array_agg(d.body ORDER BY d.id))[1], COUNT(*)
FROM notification_deliveries d
JOIN notification_channels c ON c.id = d.channel_id
JOIN alarm_events e ON e.id = d.alarm_event_id AND e.event = 'alarm.opened'
JOIN alarms a ON a.id = e.alarm_id AND a.cleared_at IS NULL
WHERE c.repeat_minutes IS NOT NULL AND d.purpose IN ('event', 'repeat')
  AND NOT EXISTS (SELECT 1 FROM alarm_acks k WHERE k.alarm_id = a.id)
GROUP BY c.id, d.alarm_event_id, c.quiet_from, c.quiet_until, c.quiet_tz, a.severity,
         c.repeat_minutes
HAVING bool_and(d.status = 'sent')
   AND MAX(d.sent_at) <= :now - make_interval(mins => c.repeat_minutes)
LIMIT :limit
"""
_DUE_ESCALATIONS = """
SELECT t.id, d.alarm_event_id, t.quiet_from, t.quiet_until, t.quiet_tz, a.severity, d.body,
       s.id
FROM notification_deliveries d
JOIN notification_channels s ON s.id = d.channel_id
JOIN notification_channels t ON t.id = s.escalate_to
JOIN alarm_events e ON e.id = d.alarm_event_id AND e.event = 'alarm.opened'
JOIN alarms a ON a.id = e.alarm_id AND a.cleared_at IS NULL
WHERE d.purpose = 'event' AND s.escalate_after_minutes IS NOT NULL
  AND d.created_at <= :now - make_interval(mins => s.escalate_after_minutes)
  AND NOT EXISTS (SELECT 1 FROM alarm_acks k WHERE k.alarm_id = a.id)
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries x
                  WHERE x.alarm_event_id = d.alarm_event_id AND x.purpose = 'escalation'
                    AND x.source_channel_id = s.id)
LIMIT :limit
"""
_DUE = """
SELECT d.id, d.attempts, d.body, c.kind, c.url, c.secret, c.recipients, c.quiet_tz
FROM notification_deliveries d JOIN notification_channels c ON c.id = d.channel_id
WHERE d.status <> 'sent' AND d.next_attempt_at <= :now
ORDER BY d.next_attempt_at LIMIT :limit
FOR UPDATE OF d SKIP LOCKED
"""


@dataclass(frozen=True)
class NotifierSettings:
    """How often the notifier looks, how it retries, and how it sends."""

    poll_seconds: float
    retry_first_seconds: float
    retry_max_seconds: float
    allow_private_targets: bool
    sms: SmsSender | None = None
    mail: senders.MailSettings | None = None


async def _add(
    session: AsyncSession,
    channel: Sequence[Any],
    event_id: int,
    body: bytes,
    severity: str,
    now: datetime,
    purpose: str = "event",
    source: int | None = None,
) -> None:
    """One delivery to a channel (id, quiet_from, quiet_until, quiet_tz), held in its quiet
    hours."""
    channel_id, start, end, tz = channel
    held = quiet.held_until(now, _as_time(start), _as_time(end), tz, severity)
    await session.execute(
        text(_ADD_DELIVERY),
        {
            "channel": channel_id,
            "event": event_id,
            "body": body,
            "status": "pending" if held is None else "quiet",
            "at": now if held is None else held,
            "now": now,
            "purpose": purpose,
            "source": source,
        },
    )


def _as_time(value: object) -> time | None:
    return value if isinstance(value, time) else None


async def fan_out(session: AsyncSession, stations: StationsClient, now: datetime) -> int:
    """Turn pending alarm events into deliveries; how many events were handled."""
    events = (await session.execute(text(_PENDING_EVENTS), {"limit": FAN_OUT_BATCH})).all()
    known: dict[str, StationRef | None] = {}
    for row in events:
        event_id, event, at, device_id, station_id, code, severity, message, since, alarm = row
        if station_id not in known:
            # Stations away: the exception rolls back, and the events wait for the next turn.
            known[station_id] = await stations.get_station(station_id)
        station = known[station_id]
        facts = webhook.AlarmFacts(
            event=event,
            at=at,
            station_id=station_id,
            station_name_zh=station.name_zh if station else "",
            station_name_en=station.name_en if station else "",
            district=station.district if station else "",
            device_id=device_id,
            code=code,
            severity=severity,
            since=since,
            message=message,
        )
        channels = await session.execute(
            text(_MATCHING_CHANNELS),
            {"event": event, "district": facts.district, "severity": severity, "alarm": alarm},
        )
        body = webhook.render(facts)
        for channel in channels.all():
            await _add(session, channel, event_id, body, severity, now)
    if events:
        await session.execute(
            text("UPDATE alarm_events SET fanned_out = true WHERE id = ANY(:ids)"),
            {"ids": [row[0] for row in events]},
        )
    await session.commit()
    return len(events)


def _again(body: bytes, now: datetime, **extra: object) -> bytes:
    """The first delivery's body, sent again now (`at`), with what makes it a repeat or an
    escalation."""
    facts = orjson.loads(body)
    facts["at"] = now.isoformat()
    facts.update(extra)
    return orjson.dumps(facts)


async def plan(session: AsyncSession, now: datetime) -> int:
    """Add the repeats and escalations that are due; how many."""
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PLANNER_LOCK}
    )
    if not locked:
        await session.rollback()
        return 0
    params = {"now": now, "limit": PLAN_BATCH}
    added = 0
    for row in (await session.execute(text(_DUE_REPEATS), params)).all():
        channel = (row[0], row[2], row[3], row[4])
        body = _again(row[6], now, reminder=int(row[7]))
        await _add(session, channel, row[1], body, row[5], now, "repeat")
        added += 1
    for row in (await session.execute(text(_DUE_ESCALATIONS), params)).all():
        channel = (row[0], row[2], row[3], row[4])
        body = _again(row[6], now, escalated=True)
        await _add(session, channel, row[1], body, row[5], now, "escalation", source=row[7])
        added += 1
    await session.commit()
    return added


async def _attempt(
    delivery_senders: senders.Senders, target: senders.Target, body: bytes
) -> str | None:
    """None when delivered, else why not."""
    try:
        await senders.deliver(delivery_senders, target, body)
    except senders.FAILURES as exc:
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    return None


async def send_due(
    session: AsyncSession,
    delivery_senders: senders.Senders,
    settings: NotifierSettings,
    now: datetime,
) -> int:
    """Send the deliveries that are due (concurrently) and record each outcome; how many."""
    due = (await session.execute(text(_DUE), {"now": now, "limit": SEND_BATCH})).all()
    began = clock.monotonic()
    errors = await asyncio.gather(
        *(
            _attempt(
                delivery_senders,
                senders.Target(kind, url, secret, list(recipients), tz),
                bytes(body),
            )
            for _, _, body, kind, url, secret, recipients, tz in due
        )
    )
    # The turn's time plus how long sending took (a test's turn may be hours ahead).
    finished = now + timedelta(seconds=clock.monotonic() - began)
    for row, error in zip(due, errors, strict=True):
        delivery_id, attempts, kind, url = row[0], row[1], row[3], row[4]
        if error is None:
            await session.execute(
                text(
                    "UPDATE notification_deliveries SET status = 'sent', attempts = :attempts,"
                    " sent_at = :at, last_error = NULL WHERE id = :id"
                ),
                {"id": delivery_id, "attempts": attempts + 1, "at": finished},
            )
            continue
        wait = backoff_delay(settings.retry_first_seconds, settings.retry_max_seconds, attempts + 1)
        log.warning("notification not delivered", extra={"kind": kind, "url": url, "error": error})
        await session.execute(
            text(
                "UPDATE notification_deliveries SET status = 'failed', attempts = :attempts,"
                " last_error = :error, next_attempt_at = :next WHERE id = :id"
            ),
            {
                "id": delivery_id,
                "attempts": attempts + 1,
                "error": error,
                "next": finished + timedelta(seconds=wait),
            },
        )
    await session.commit()
    return len(due)


async def run(
    sessions: async_sessionmaker[AsyncSession],
    stations: StationsClient,
    settings: NotifierSettings,
) -> None:
    """Fan out, plan and send every `poll_seconds` for the life of the service."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        delivery_senders = senders.Senders(
            client, settings.sms, settings.mail, settings.allow_private_targets
        )
        while True:
            try:
                async with sessions() as session:
                    await fan_out(session, stations, datetime.now(UTC))
                async with sessions() as session:
                    await plan(session, datetime.now(UTC))
                async with sessions() as session:
                    await send_due(session, delivery_senders, settings, datetime.now(UTC))
            except Exception:  # the database or stations may be away; the next turn retries
                log.exception("notifier turn failed")
            await asyncio.sleep(settings.poll_seconds)
