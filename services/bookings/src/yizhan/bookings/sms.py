"""Sending SMS from bookings: the sender its settings choose (the seam itself,
yizhan.common.sms, is shared with telemetry's alarm notifications)."""

from yizhan.bookings.settings import Settings
from yizhan.common.sms import LogSmsSender, SmsError, SmsSender, WebhookSmsSender

__all__ = ["LogSmsSender", "SmsError", "SmsSender", "WebhookSmsSender", "build_sender"]


def build_sender(settings: Settings) -> SmsSender:
    """The sender the settings choose."""
    if settings.sms_sender == "webhook":
        assert settings.sms_webhook_url is not None  # checked by Settings
        token = settings.sms_webhook_token
        return WebhookSmsSender(
            settings.sms_webhook_url, token.get_secret_value() if token else None
        )
    return LogSmsSender()
