"""Settings of the telemetry service (env prefix `YZ_TELEMETRY_`)."""

from typing import Literal

from pydantic import Field
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

    # Ingest runs in this process unless switched off (e.g. an API-only replica).
    ingest_enabled: bool = True
    # The MQTT client id is the broker's key for our persistent session: keep it stable
    # across restarts, and distinct per ingest replica.
    mqtt_client_id: str = "yz-telemetry"
    # Non-empty: subscribe as `$share/<group>/...` so that replicas split the load.
    mqtt_share_group: str = ""
    # MQTT 5 Receive Maximum: how many unacknowledged messages the broker may send us. It must
    # exceed what sits in the queue plus one batch, or the pipeline stalls on acks.
    mqtt_receive_maximum: int = Field(default=20_000, ge=1, le=65_535)
    # Messages per database transaction, and the longest a message waits for its batch.
    batch_size: int = Field(default=500, ge=1, le=20_000)
    flush_interval_seconds: float = Field(default=0.2, gt=0, le=10)
    # Messages held between the MQTT thread and the writer; when full the MQTT thread waits.
    queue_bound: int = Field(default=10_000, ge=1)
    # How long a resolved device (or an unknown one) is trusted before asking stations again.
    device_cache_seconds: float = Field(default=60.0, ge=0)
    unknown_device_cache_seconds: float = Field(default=5.0, ge=0)
    # A device is offline after this long without any message (CONTRACT §2: 3 minutes).
    offline_after_seconds: int = Field(default=180, ge=1)
    # Threads answering kiosk scans; each waits at most checkin_timeout_seconds on bookings.
    checkin_workers: int = Field(default=4, ge=1)
    checkin_timeout_seconds: float = Field(default=1.5, gt=0)
