"""Checking messages: each one against the protocol as it is read (validate_safely, on the
MQTT thread), then a batch's devices against the registry (check, on the writer thread)."""

import logging
from dataclasses import dataclass, field

from yizhan.telemetry.ingest import metrics
from yizhan.telemetry.ingest.devices import DeviceResolver, check_device
from yizhan.telemetry.ingest.effects import Arrival
from yizhan.telemetry.ingest.protocol import Message, Rejection, parse_topic, validate
from yizhan.telemetry.ingest.source import Received
from yizhan.telemetry.ingest.store import DeadLetter

log = logging.getLogger(__name__)

Result = Message | Rejection | None
# A message as the MQTT thread queues it: with the protocol's verdict.
Prepared = tuple[Received, Result]


@dataclass
class Checked:
    """A batch after validation and device lookup, ready to store."""

    # Every message of the batch, in the order received: all are acknowledged after commit.
    sources: list[Received] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    # The message each arrival came from (for retrying message by message).
    arrival_sources: list[Received] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    ignored: int = 0


def dead_letter(item: Received, rejection: Rejection) -> DeadLetter:
    """The dead letter of a refused message (station and device from its topic, if any)."""
    topic = parse_topic(item.topic)
    return DeadLetter(
        received_at=item.received_at,
        topic=item.topic,
        station_id=topic.station_id if topic else None,
        device_id=topic.device_id if topic else None,
        reason=rejection.reason,
        detail=rejection.detail,
        payload=item.payload,
    )


def check(batch: list[Prepared], resolver: DeviceResolver) -> Checked:
    """Resolve the devices of validated messages and sort them into data and dead letters;
    raises StationsUnavailable when stations cannot say for a device never seen."""
    devices = resolver.resolve_many(
        result.device_id
        for _, result in batch
        if result is not None and not isinstance(result, Rejection)
    )
    checked = Checked(sources=[item for item, _ in batch])
    # In arrival order, so that dead letters are numbered as they came.
    for item, result in batch:
        if result is None:
            checked.ignored += 1
            continue
        if not isinstance(result, Rejection):
            refusal = check_device(result.station_id, devices.get(result.device_id))
            if refusal is None:
                checked.arrivals.append(Arrival(result, item.received_at, item.retained))
                checked.arrival_sources.append(item)
                continue
            result = refusal
        checked.dead_letters.append(dead_letter(item, result))
    return checked


def validate_safely(item: Received) -> Prepared:
    """The message with the protocol's verdict; a bug met by some odd message costs that
    message only."""
    try:
        return item, validate(item.topic, item.payload, item.received_at)
    except Exception as exc:
        metrics.UNEXPECTED_ERRORS.inc()
        log.exception("validation failed unexpectedly", extra={"topic": item.topic})
        return item, Rejection("invalid", f"could not be processed ({type(exc).__name__})")
