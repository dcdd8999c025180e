"""Dead letters as the console lists them: what devices sent that was not stored, and why."""

from collections.abc import Callable
from typing import Any

from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common.pbtime import from_pb
from yizhan.console.i18n import value_label
from yizhan.console.tables import Column, Table


def dead_letters_table(
    t: Callable[..., str], letters: list[insights_pb2.DeadLetter], tz: Any
) -> Table:
    """Newest first, with the reason code and the start of the payload."""
    table = Table(
        "dead_letters",
        t("dead_letters"),
        [
            Column("id", "#", numeric=True),
            Column("received_at", t("received_at")),
            Column("reason", t("reason"), values=lambda raw: value_label(t, "dead_letter", raw)),
            Column("detail", t("detail")),
            Column("station_id", t("station")),
            Column("device_id", t("device")),
            Column("topic", t("topic")),
            Column("payload", t("payload")),
        ],
    )
    for letter in letters:
        table.rows.append(
            {
                "id": letter.id,
                "received_at": from_pb(letter.received_at).astimezone(tz),
                "reason": letter.reason,
                "detail": letter.detail,
                "station_id": letter.station_id or None,
                "device_id": letter.device_id or None,
                "topic": letter.topic,
                "payload": letter.payload_excerpt,
            }
        )
    return table
