"""The webhook delivery of CONTRACT §3: a JSON body about one alarm event, signed with the
channel's secret (`X-Yizhan-Signature: sha256=<hex HMAC-SHA256 of the raw body>`)."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import httpx
import orjson

SIGNATURE_HEADER = "X-Yizhan-Signature"
# A receiver that takes longer is treated as failed; the delivery is retried later.
SEND_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class AlarmFacts:
    """What a delivery says about the alarm and its station."""

    event: str
    at: datetime
    station_id: str
    station_name_zh: str
    station_name_en: str
    district: str
    # None for an alarm of the whole station (a dark station).
    device_id: str | None
    code: str
    severity: str
    since: datetime
    message: str | None


def render(facts: AlarmFacts) -> bytes:
    """The body, as sent (and signed) on every attempt."""
    return orjson.dumps(
        {
            "event": facts.event,
            "at": facts.at.isoformat(),
            "station": {
                "id": facts.station_id,
                "name": {"zh": facts.station_name_zh, "en": facts.station_name_en},
                "district": facts.district,
            },
            "device_id": facts.device_id,
            "alarm": {
                "code": facts.code,
                "severity": facts.severity,
                "since": facts.since.isoformat(),
                "message": facts.message,
            },
        }
    )


def signature(secret: str, body: bytes) -> str:
    """The header value: `sha256=` and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def post(client: httpx.AsyncClient, url: str, secret: str, body: bytes) -> None:
    """Send one delivery; raises unless the receiver answers 2xx."""
    reply = await client.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body)},
        timeout=SEND_TIMEOUT_SECONDS,
    )
    if not 200 <= reply.status_code < 300:
        raise httpx.HTTPStatusError(
            f"answered {reply.status_code}", request=reply.request, response=reply
        )
