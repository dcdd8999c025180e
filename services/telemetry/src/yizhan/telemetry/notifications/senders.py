"""Sending one delivery, whatever the channel's kind; each raises on failure, and the
notifier retries every kind the same way (backoff until it gets through).

- `webhook`: CONTRACT §3's signed JSON (webhook.py).
- `wecom`: a WeCom (企业微信) group robot, `{"msgtype":"text","text":{"content":...}}` to its
  webhook URL; it answers `{"errcode":0,...}` when the message was taken.
- `dingtalk`: a DingTalk (钉钉) group robot, the same JSON; with the robot's `SEC...` secret the
  URL carries `timestamp` (ms) and `sign` = Base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")),
  URL-encoded, as DingTalk's custom robot documentation says.
- `email`: plain text through the configured SMTP server (standard library smtplib).
- `sms`: the short text to each number through the pluggable SMS sender (yizhan.common.sms).
"""

import asyncio
import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson

from yizhan.common.sms import SmsError, SmsSender
from yizhan.telemetry.notifications import messages, targets, webhook

SEND_TIMEOUT_SECONDS = webhook.SEND_TIMEOUT_SECONDS


class SendFailed(Exception):
    """The receiver did not take the delivery."""


@dataclass(frozen=True)
class MailSettings:
    """Where e-mail channels are relayed."""

    host: str
    port: int
    security: str
    username: str
    password: str
    sender: str


@dataclass(frozen=True)
class Target:
    """A channel as the sender needs it."""

    kind: str
    url: str
    secret: str
    recipients: list[str]
    tz: str


@dataclass(frozen=True)
class Senders:
    """What sending needs: an HTTP client, the SMS sender and the mail relay (None when the
    deployment has none: those deliveries fail, visibly)."""

    http: httpx.AsyncClient
    sms: SmsSender | None
    mail: MailSettings | None
    allow_private_targets: bool


def dingtalk_url(url: str, secret: str, now_ms: int) -> str:
    """The robot URL, signed when the robot has a secret."""
    if not secret:
        return url
    to_sign = f"{now_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={now_ms}&sign={sign}"


async def _robot(senders: Senders, url: str, content: str) -> None:
    await targets.check_resolved(url, senders.allow_private_targets)
    reply = await senders.http.post(
        url,
        content=orjson.dumps({"msgtype": "text", "text": {"content": content}}),
        headers={"Content-Type": "application/json"},
        timeout=SEND_TIMEOUT_SECONDS,
    )
    if not 200 <= reply.status_code < 300:
        raise SendFailed(f"answered {reply.status_code}")
    try:
        answer = reply.json()
    except ValueError as exc:
        raise SendFailed("answered something other than JSON") from exc
    # Both robots answer 200 and say in the body whether they took the message.
    if not isinstance(answer, dict) or answer.get("errcode") != 0:
        raise SendFailed(f"robot refused: {str(answer)[:200]}")


def _mail(settings: MailSettings, recipients: list[str], summary: messages.Summary) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = summary.subject
    message.set_content(summary.text)
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=SEND_TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=SEND_TIMEOUT_SECONDS)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password)
        smtp.send_message(message)


async def deliver(senders: Senders, target: Target, body: bytes) -> None:
    """Send one delivery to one channel; raises unless it was taken."""
    if target.kind == "webhook":
        await targets.check_resolved(target.url, senders.allow_private_targets)
        await webhook.post(senders.http, target.url, target.secret, body)
        return
    facts: dict[str, Any] = orjson.loads(body)
    summary = messages.summarize(facts, target.tz)
    if target.kind == "wecom":
        await _robot(senders, target.url, summary.text)
    elif target.kind == "dingtalk":
        url = dingtalk_url(target.url, target.secret, int(time.time() * 1000))
        await _robot(senders, url, summary.text)
    elif target.kind == "email":
        if senders.mail is None:
            raise SendFailed("no SMTP server configured (YZ_TELEMETRY_SMTP_HOST)")
        await asyncio.to_thread(_mail, senders.mail, target.recipients, summary)
    elif target.kind == "sms":
        if senders.sms is None:
            raise SendFailed("no SMS sender configured (YZ_TELEMETRY_SMS_SENDER)")
        for phone in target.recipients:
            await senders.sms.send(phone, summary.short)
    else:
        raise SendFailed(f"unknown channel kind {target.kind}")


# What a failed send can raise; anything else is a bug, logged by the notifier's turn.
FAILURES = (httpx.HTTPError, targets.TargetRefused, OSError, SendFailed, SmsError)
