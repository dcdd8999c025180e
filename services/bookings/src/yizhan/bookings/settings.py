"""Settings of the bookings service (env prefix `YZ_BOOKINGS_`)."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from yizhan.common.service import ServiceSettings


class Settings(ServiceSettings):
    """Ports, database, one-time codes, the SMS sender and booking limits."""

    model_config = SettingsConfigDict(env_prefix="YZ_BOOKINGS_", extra="ignore")

    http_port: int = 8103
    grpc_port: int = 50103
    database_url: str = "postgresql+psycopg://yizhan@127.0.0.1:54329/yz_bookings"

    # One-time codes (OTP) a worker receives by SMS and types in to book.
    otp_ttl_seconds: int = Field(default=300, ge=30)
    otp_max_attempts: int = Field(default=5, ge=1)
    otp_resend_interval_seconds: int = Field(default=60, ge=0)
    otp_sends_per_phone_per_hour: int = Field(default=5, ge=1)
    # Caps what one client address can cost us in SMS across many phone numbers.
    otp_sends_per_client_per_hour: int = Field(default=30, ge=1)

    # `log` writes messages to the service log (development); `webhook` POSTs them to an
    # SMS gateway of the deployment's choice.
    sms_sender: Literal["log", "webhook"] = "log"
    sms_webhook_url: str | None = None
    sms_webhook_token: SecretStr | None = None

    # Upcoming (confirmed or waitlisted) bookings one phone may hold at once.
    max_active_bookings_per_phone: int = Field(default=3, ge=1)
    # How far ahead a livestream slot can be booked, in days.
    booking_horizon_days: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _check_sms_sender(self) -> Self:
        if self.sms_sender == "webhook":
            if not self.sms_webhook_url or not self.sms_webhook_url.startswith(
                ("https://", "http://")
            ):
                raise ValueError("YZ_BOOKINGS_SMS_WEBHOOK_URL must be an http(s) URL")
        elif self.common.env == "prod":
            # The log sender writes one-time codes to the log: fine on a laptop, a leak in prod.
            raise ValueError("YZ_BOOKINGS_SMS_SENDER=log is for development; use webhook in prod")
        return self

    @property
    def exposes_dev_tools(self) -> bool:
        """Whether development helpers (the last one-time code per phone) are served."""
        return self.common.env in ("dev", "test")
