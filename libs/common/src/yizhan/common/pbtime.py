"""protobuf Timestamps <-> aware datetimes (always UTC on the wire)."""

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def to_pb(moment: datetime) -> Timestamp:
    """An aware datetime as a Timestamp."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def from_pb(stamp: Timestamp) -> datetime:
    """A Timestamp as an aware UTC datetime."""
    return stamp.ToDatetime(tzinfo=UTC)
