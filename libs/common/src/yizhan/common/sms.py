"""Sending SMS: the seam between a service (bookings' codes and confirmations, telemetry's
alarm notifications) and whatever SMS gateway a deployment uses. Each service picks its
sender from its own settings."""

import asyncio
import json
import logging
import urllib.request
from typing import Protocol

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0


class SmsError(Exception):
    """The message could not be handed to the gateway."""


class SmsSender(Protocol):
    """Delivers one text message to one mainland mobile number."""

    async def send(self, phone: str, text: str) -> None:
        """Send `text` to `phone`; raise SmsError when it cannot be sent."""
        ...


class LogSmsSender:
    """Development sender: writes the message (one-time code included) to the log."""

    async def send(self, phone: str, text: str) -> None:
        """Log the message instead of sending it."""
        log.info("SMS (log sender, not sent)", extra={"phone": phone, "text": text})


class WebhookSmsSender:
    """POSTs `{"phone": ..., "text": ...}` as JSON to a gateway URL with a bearer token.

    The gateway (a small relay in front of Aliyun, Tencent Cloud or a carrier) owns templates,
    signatures and delivery receipts; the services only need "accepted" (2xx) or not.
    """

    def __init__(self, url: str, token: str | None) -> None:
        self._url = url
        self._token = token

    async def send(self, phone: str, text: str) -> None:
        """Hand the message to the gateway; raise SmsError unless it answers 2xx."""
        await asyncio.to_thread(self._post, phone, text)

    def _post(self, phone: str, text: str) -> None:
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 (settings allow only http(s) URLs)
            self._url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(  # noqa: S310 (settings allow only http(s) URLs)
                request, timeout=WEBHOOK_TIMEOUT_SECONDS
            ) as response:
                status = response.status
        except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
            raise SmsError(f"SMS gateway: {exc}") from exc
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")
