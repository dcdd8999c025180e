"""Settings of the bookings service (env prefix `YZ_BOOKINGS_`)."""

from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
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

    # HTTP worker processes (one Python process uses one core): 0 runs one per usable core.
    # Worker 0 also runs the gRPC server and the sweeps; every worker serves HTTP and sends
    # queued SMS. docs/performance.md has the figures.
    http_workers: int = Field(default=0, ge=0, le=64)
    # Connections of each worker process to the database (plus as many again in a burst);
    # a booking holds one for a few ms. Total: workers x 2 x this, within PostgreSQL's
    # max_connections (100 by default).
    database_pool_size: int = Field(default=10, ge=1, le=100)

    # Upcoming (confirmed or waitlisted) bookings one phone may hold at once.
    max_active_bookings_per_phone: int = Field(default=3, ge=1)
    # Bookings (livestream slots and seats together, cancelled ones not counted) one phone may
    # make per calendar week (Monday to Sunday in `local_timezone`) of the booked start.
    weekly_quota: int = Field(default=3, ge=1)
    # The zone of those weeks and of the times written in SMS.
    local_timezone: str = "Asia/Shanghai"
    # A phone with this many no-shows within the window books nothing more until they age out.
    no_show_limit: int = Field(default=3, ge=1)
    no_show_window_days: int = Field(default=30, ge=1)
    # How often the no-show sweep looks for bookings whose check-in window closed.
    no_show_sweep_seconds: float = Field(default=60.0, ge=0.1)

    # Notification SMS (promotions, cancelled sessions, answered opinions) go through a
    # database outbox; it is polled this often besides being woken after each commit.
    outbox_poll_seconds: float = Field(default=5.0, ge=0.1)
    outbox_max_attempts: int = Field(default=6, ge=1)

    # Station facts and opening hours are cached this long: a slot listing or a booking
    # would otherwise ask stations twice. The database still decides every conflict.
    stations_cache_seconds: float = Field(default=30.0, ge=0)
    # Where workers reach this site: the links in SMS (view or cancel a booking) start here.
    public_base_url: str = "http://127.0.0.1:8103"
    # The public station API (CONTRACT.md §5): requests one client address may make a minute.
    public_requests_per_minute: int = Field(default=120, ge=1)
    # How long the finder keeps station facts (names, hours, devices) before asking again.
    public_stations_refresh_seconds: float = Field(default=30.0, ge=0)

    # The reminder SMS goes this long before a confirmed booking's start; the sweep that
    # queues it runs this often.
    reminder_lead_minutes: int = Field(default=120, ge=1)
    reminder_sweep_seconds: float = Field(default=60.0, ge=0.1)
    # Phone numbers and names of finished bookings are erased this long after their end
    # (the privacy notice tells workers so); the bookings stay, counted, without them.
    phone_retention_days: int = Field(default=180, ge=1)
    # Feedback left at a station (no login): forms one client address may send an hour.
    feedback_per_client_per_hour: int = Field(default=10, ge=1)

    # Opinions: how many one attendee may raise per session, and for how long after its end.
    opinions_per_booking: int = Field(default=5, ge=1)
    opinion_days_after: int = Field(default=14, ge=0)

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

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
