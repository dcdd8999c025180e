"""Settings of the telemetry service (env prefix `YZ_TELEMETRY_`)."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from yizhan.common.service import ServiceSettings


class Settings(ServiceSettings):
    """Ports, database, the ingest pipeline's knobs and the device-state rules."""

    model_config = SettingsConfigDict(env_prefix="YZ_TELEMETRY_", extra="ignore")

    http_port: int = 8102
    grpc_port: int = 50102
    database_url: str = "postgresql+psycopg://yizhan@127.0.0.1:54329/yz_telemetry"

    # `auto` uses TimescaleDB hypertables when the extension is available; read by the
    # migration, so changing it later needs a fresh database.
    timescaledb: Literal["auto", "on", "off"] = "auto"

    # Which MQTT client ingest uses: `paho` (paho-mqtt 2) or `wire` (our own MQTT 5 client);
    # docs/development.md says why the default is the default.
    mqtt_source: Literal["paho", "wire"] = "wire"
    # The ingest process (`yz-telemetry ingest`) answers /healthz, /readyz and /metrics here.
    ingest_http_port: int = 8105
    # The MQTT client id is the broker's key for our persistent session: keep it stable
    # across restarts, and distinct per ingest replica (stations binds replica n >= 1 to
    # `<id>-<n>`). It must not be a possible device id (hence the dot): see session_guard.py.
    mqtt_client_id: str = "yz.telemetry"
    # Non-empty: subscribe as `$share/<group>/...` so that replicas split the load.
    mqtt_share_group: str = ""
    # MQTT 5 Receive Maximum: how many unacknowledged messages the broker may send us. Below
    # what the pipeline holds (the queue and the batch being written) it caps throughput: the
    # broker then waits for acks instead of sending.
    mqtt_receive_maximum: int = Field(default=30_000, ge=1, le=65_535)
    # At most this many messages per database transaction. The writer takes whatever waits
    # whenever it is free: quiet times get a transaction per message (lowest latency), busy
    # times large, cheap ones.
    batch_size: int = Field(default=5_000, ge=1, le=20_000)
    # Messages held between the MQTT thread and the writer; when full the MQTT thread stops
    # reading the socket.
    queue_bound: int = Field(default=10_000, ge=1)
    # How long a resolved device (or an unknown one) is trusted before asking stations again.
    device_cache_seconds: float = Field(default=60.0, ge=0)
    unknown_device_cache_seconds: float = Field(default=5.0, ge=0)
    # A device is offline after this long without any message (CONTRACT §2: 3 minutes).
    offline_after_seconds: int = Field(default=180, ge=1)
    # How often the API process opens and clears `offline` alarms (offline_alarms.py); an
    # alarm notification leaves within 10 s of its cause, so this stays well below that.
    offline_check_seconds: float = Field(default=2.0, gt=0, le=60)
    # Alarm notifications (notifications/notifier.py): how often pending ones are looked
    # for (a delivery leaves within about this of its alarm; the contract says 10 s), and
    # the backoff of failed sends, retried until the receiver answers 2xx.
    notify_poll_seconds: float = Field(default=1.0, gt=0, le=10)
    notify_retry_first_seconds: float = Field(default=2.0, gt=0)
    notify_retry_max_seconds: float = Field(default=600.0, gt=0)
    # Webhooks to loopback or private networks are refused unless this is set (make run sets
    # it, for receivers on the developer's machine).
    notify_allow_private_targets: bool = False
    # SMS channels go through this sender (yizhan.common.sms): `none` fails their deliveries
    # visibly ("no SMS sender configured"), `log` writes them to the log (development),
    # `webhook` posts {"phone","text"} to a gateway relay as bookings does.
    sms_sender: Literal["none", "log", "webhook"] = "none"
    sms_webhook_url: str | None = None
    sms_webhook_token: SecretStr | None = None
    # E-mail channels: the SMTP server that relays them (none set: their deliveries fail
    # visibly). `starttls` upgrades a plain connection, `tls` connects over TLS (465).
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65_535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "yizhan@localhost"
    # Threads answering kiosk scans; each waits at most checkin_timeout_seconds on bookings.
    checkin_workers: int = Field(default=4, ge=1)
    checkin_timeout_seconds: float = Field(default=1.5, gt=0)
    # How often the availability sampler records every device's state (presence.py).
    presence_sample_seconds: float = Field(default=60.0, gt=0, le=600)
    # Raw events and metrics older than this are dropped (0: kept forever); usage figures
    # live on in the rollups. With TimescaleDB it is a retention policy set by the migration.
    raw_retention_days: int = Field(default=400, ge=0)
    # Dead letters are for diagnosing devices, not an archive.
    dead_letter_retention_days: int = Field(default=90, ge=1)
    # How often old keys, dead letters and (without TimescaleDB) raw rows are purged.
    maintenance_interval_seconds: float = Field(default=3600.0, gt=0)
    # With TimescaleDB: late messages reach the usage figures at most this much later.
    rollup_refresh_seconds: float = Field(default=1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _check_sms_sender(self) -> Self:
        if self.sms_sender == "webhook" and not (self.sms_webhook_url or "").startswith(
            ("https://", "http://")
        ):
            raise ValueError("YZ_TELEMETRY_SMS_WEBHOOK_URL must be an http(s) URL")
        return self
