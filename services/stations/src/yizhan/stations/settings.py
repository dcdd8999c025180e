"""Settings of the stations service (env prefix `YZ_STATIONS_`)."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from yizhan.common.mqtt import could_be_device_id
from yizhan.common.service import ServiceSettings

# Development default of `device_key`; refused when YZ_ENV=prod.
DEV_DEVICE_KEY = "dev-only-device-key-change-me-0123456789"


class Settings(ServiceSettings):
    """Ports, database, login limits, and how device credentials reach the broker."""

    model_config = SettingsConfigDict(env_prefix="YZ_STATIONS_", extra="ignore")

    http_port: int = 8101
    grpc_port: int = 50101
    database_url: str = "postgresql+psycopg://yizhan@127.0.0.1:54329/yz_stations"
    # Login attempts that go through at once within 15 minutes (login_limits.py): per
    # account and client, per client over all accounts, per account over all clients.
    # Past them each attempt waits longer (429 with Retry-After; the console says so).
    login_free_attempts: int = Field(default=5, ge=1)
    login_free_attempts_per_client: int = Field(default=30, ge=1)
    login_free_attempts_per_account: int = Field(default=10, ge=1)
    # The most a distributed guess on an account can slow down its real operator.
    login_account_max_delay_seconds: float = Field(default=30.0, ge=1)
    admin_password: SecretStr | None = None
    # Where the console service answers (YZ_STATIONS_CONSOLE_URL): stations' old /console/
    # address redirects there.
    console_url: str = "http://127.0.0.1:8104"

    # `dynsec`: stations keeps the accounts of Mosquitto's dynamic security plugin (devices,
    # telemetry) in step with its database, over MQTT (broker at YZ_MQTT_HOST/YZ_MQTT_PORT).
    # `off`: a development broker that lets anyone in; telemetry still refuses devices that
    # are unknown, revoked or on another station's topic.
    broker_security: Literal["off", "dynsec"] = "off"
    # The account made by `mosquitto_ctrl dynsec init` (the plugin's admin role).
    broker_admin_username: str = "yz.admin"
    broker_admin_password: SecretStr | None = None
    # Telemetry's broker account (its YZ_MQTT_USERNAME/YZ_MQTT_PASSWORD), kept by stations
    # when the password is set: subscribe to every device topic, publish only `down`.
    telemetry_mqtt_username: str = "yz.telemetry"
    telemetry_mqtt_password: SecretStr | None = None
    # The ingest's client id (its YZ_TELEMETRY_MQTT_CLIENT_ID): its account connects only
    # with it, and it cannot be a device id, so no other account can take its session.
    telemetry_mqtt_client_id: str = "yz.telemetry"
    # Ingest replicas: replica n >= 1 has the account `<username>-<n>` bound to the client id
    # `<client id>-<n>` (same password and rights); replica 0 uses the names above.
    telemetry_mqtt_replicas: int = Field(default=1, ge=1, le=64)
    # Device MQTT passwords are HMACs of (device, generation) under this key: the database
    # holds only their argon2 hashes, yet stations can push every device to a broker that
    # lost its accounts. Changing it invalidates every device password (rotate them all).
    device_key: SecretStr = SecretStr(DEV_DEVICE_KEY)
    # How often the broker is checked against the database (and after every reconnect).
    broker_resync_seconds: float = Field(default=60.0, gt=0)
    # Longest wait for the broker's answer to one batch of commands.
    broker_timeout_seconds: float = Field(default=5.0, gt=0)
    # Longest pause between reconnect attempts of the admin connection (it backs off from
    # one second up to this while the broker is away).
    broker_reconnect_max_seconds: int = Field(default=10, ge=1, le=300)

    @model_validator(mode="after")
    def _check_broker(self) -> Self:
        if self.broker_security == "dynsec" and self.broker_admin_password is None:
            raise ValueError("YZ_STATIONS_BROKER_ADMIN_PASSWORD is required with dynsec")
        for name in (
            self.broker_admin_username,
            self.telemetry_mqtt_username,
            self.telemetry_mqtt_client_id,
        ):
            if could_be_device_id(name):
                raise ValueError(
                    f"broker service account or client id {name!r} could be a device id; "
                    "use a name with a character devices cannot have, such as a dot"
                )
        if self.common.env == "prod" and self.device_key.get_secret_value() == DEV_DEVICE_KEY:
            raise ValueError("YZ_STATIONS_DEVICE_KEY must be set to a real secret when YZ_ENV=prod")
        return self

    def telemetry_accounts(self) -> list[tuple[str, str]]:
        """(username, client id) of each ingest replica's broker account."""
        user, client = self.telemetry_mqtt_username, self.telemetry_mqtt_client_id
        return [(user, client)] + [
            (f"{user}-{n}", f"{client}-{n}") for n in range(1, self.telemetry_mqtt_replicas)
        ]
