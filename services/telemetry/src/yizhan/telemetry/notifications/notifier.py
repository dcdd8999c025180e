"""The notifier of the API process: alarm events (the outbox a trigger on `alarms` fills)
become one delivery per matching channel, and deliveries are sent until they get a 2xx.

Both steps run every `notify_poll_seconds`, so a delivery leaves within about that long of
its alarm opening or clearing (the contract asks for 10 s). Everything lives in the
database: a restart (or a crash mid-send) loses nothing, at worst a delivery goes twice.
Replicas share the work with SKIP LOCKED. Failures wait the common backoff
(yizhan.common.backoff), from `notify_retry_first_seconds` up to `notify_retry_max_seconds`,
and are retried for as long as the channel exists."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.common.backoff import backoff_delay
from yizhan.telemetry.notifications import targets, webhook
from yizhan.telemetry.peers.stations import StationRef, StationsClient

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 100
SEND_BATCH = 50
# Kept on a delivery so that operators can read why it failed, not a whole error page.
MAX_ERROR_LENGTH = 300

_PENDING_EVENTS = """
SELECT e.id, e.event, e.at, a.device_id, a.station_id, a.code, a.severity, a.message,
       a.opened_at
FROM alarm_events e JOIN alarms a ON a.id = e.alarm_id
WHERE NOT e.fanned_out ORDER BY e.id LIMIT :limit
FOR UPDATE OF e SKIP LOCKED
"""
_MATCHING_CHANNELS = """
SELECT id FROM notification_channels
WHERE :event = ANY(events)
  AND (cardinality(districts) = 0 OR :district = ANY(districts))
  AND (min_severity = 'warning' OR :severity = 'critical')
"""
_ADD_DELIVERY = """
INSERT INTO notification_deliveries (channel_id, alarm_event_id, body, next_attempt_at, created_at)
VALUES (:channel, :event, :body, :now, :now)
"""
_DUE = """
SELECT d.id, d.attempts, d.body, c.url, c.secret
FROM notification_deliveries d JOIN notification_channels c ON c.id = d.channel_id
WHERE d.status <> 'sent' AND d.next_attempt_at <= :now
ORDER BY d.next_attempt_at LIMIT :limit
FOR UPDATE OF d SKIP LOCKED
"""


@dataclass(frozen=True)
class NotifierSettings:
    """How often the notifier looks, and how it retries."""

    poll_seconds: float
    retry_first_seconds: float
    retry_max_seconds: float
    allow_private_targets: bool


async def fan_out(session: AsyncSession, stations: StationsClient, now: datetime) -> int:
    """Turn pending alarm events into deliveries; how many events were handled."""
    events = (await session.execute(text(_PENDING_EVENTS), {"limit": FAN_OUT_BATCH})).all()
    known: dict[str, StationRef | None] = {}
    for event_id, event, at, device_id, station_id, code, severity, message, since in events:
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
        channels = await session.scalars(
            text(_MATCHING_CHANNELS),
            {"event": event, "district": facts.district, "severity": severity},
        )
        body = webhook.render(facts)
        for channel_id in channels.all():
            await session.execute(
                text(_ADD_DELIVERY),
                {"channel": channel_id, "event": event_id, "body": body, "now": now},
            )
    if events:
        await session.execute(
            text("UPDATE alarm_events SET fanned_out = true WHERE id = ANY(:ids)"),
            {"ids": [row[0] for row in events]},
        )
    await session.commit()
    return len(events)


async def _attempt(
    client: httpx.AsyncClient, url: str, secret: str, body: bytes, allow_private: bool
) -> str | None:
    """None when delivered, else why not."""
    try:
        await targets.check_resolved(url, allow_private)
        await webhook.post(client, url, secret, body)
    except (httpx.HTTPError, targets.TargetRefused, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    return None


async def send_due(
    session: AsyncSession,
    client: httpx.AsyncClient,
    settings: NotifierSettings,
    now: datetime,
) -> int:
    """Send the deliveries that are due (concurrently) and record each outcome; how many."""
    due: Sequence[tuple[int, int, bytes, str, str]] = [
        (row[0], row[1], row[2], row[3], row[4])
        for row in (await session.execute(text(_DUE), {"now": now, "limit": SEND_BATCH})).all()
    ]
    errors = await asyncio.gather(
        *(
            _attempt(client, url, secret, body, settings.allow_private_targets)
            for _, _, body, url, secret in due
        )
    )
    finished = datetime.now(UTC)
    for (delivery_id, attempts, _, url, _), error in zip(due, errors, strict=True):
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
        log.warning("notification not delivered", extra={"url": url, "error": error})
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
    """Fan out and send every `poll_seconds` for the life of the service."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        while True:
            try:
                async with sessions() as session:
                    await fan_out(session, stations, datetime.now(UTC))
                async with sessions() as session:
                    await send_due(session, client, settings, datetime.now(UTC))
            except Exception:  # the database or stations may be away; the next turn retries
                log.exception("notifier turn failed")
            await asyncio.sleep(settings.poll_seconds)
