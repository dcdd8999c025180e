"""An open alarm as JSON (the acknowledge answer and the live stream), and its id in URLs."""

from typing import Annotated, Any

from fastapi import Path

from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common.pbtime import from_pb

# Alarm ids are int64 in telemetry (and on the wire): anything else names no alarm.
AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def alarm_json(alarm: insights_pb2.OpenAlarm) -> dict[str, Any]:
    """The alarm's fields, times in ISO 8601."""
    acknowledged = alarm.HasField("acknowledged_at")
    return {
        "id": alarm.id,
        "station_id": alarm.station_id,
        "device_id": alarm.device_id,
        "code": alarm.code,
        "severity": alarm.severity,
        "message": alarm.message,
        "since": from_pb(alarm.since).isoformat(),
        "acknowledged_at": from_pb(alarm.acknowledged_at).isoformat() if acknowledged else None,
        "acknowledged_by": alarm.acknowledged_by or None,
        "note": alarm.note or None,
    }
