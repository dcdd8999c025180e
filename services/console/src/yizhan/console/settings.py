"""Settings of the console service (env prefix `YZ_CONSOLE_`)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from yizhan.common.settings import CommonSettings

# services/console/src/yizhan/console -> the repository root, where scripts/setup.sh
# runs `npm ci` in console-assets/ (an installed wheel sets YZ_CONSOLE_ASSETS_DIR).
_REPO_ROOT = Path(__file__).resolve().parents[5]


class ConsoleSettings(BaseSettings):
    """Its port, where the charting library is, its calendar, and how live pages refresh."""

    model_config = SettingsConfigDict(env_prefix="YZ_CONSOLE_", extra="ignore")

    http_port: int = 8104
    # Addresses of its peers (YZ_STATIONS_GRPC, ...), the service token, the JWT secret.
    common: CommonSettings = Field(default_factory=CommonSettings)

    # The npm-installed packages (console-assets/node_modules): ECharts is served from here,
    # never from a CDN, so that the console works on an intranet.
    assets_dir: Path = _REPO_ROOT / "console-assets" / "node_modules"
    # The network's calendar for the overview; a station page uses the station's own zone.
    timezone: str = "Asia/Shanghai"
    # How often a live page's server asks telemetry for device state (server-sent events).
    live_poll_seconds: float = Field(default=5.0, gt=0, le=60)
    # A live stream ends after this long and the browser reconnects, so that an expired
    # session cookie is noticed.
    live_stream_seconds: float = Field(default=600.0, gt=0)
    # Deadline of each gRPC call behind a page.
    rpc_deadline_seconds: float = Field(default=5.0, gt=0)

    # Monthly district reports (report_schedule.py): from the 1st at this local hour (kiosks
    # that were offline overnight have sent their queues by then), for this many days (a
    # console down on the 1st catches up), checked every so many seconds (0: never; run
    # `yz-console send-reports` instead).
    report_hour: int = Field(default=6, ge=0, le=23)
    report_catch_up_days: int = Field(default=7, ge=1, le=28)
    report_schedule_seconds: float = Field(default=600.0, ge=0)
    # The console's address as the receivers of a report reach it (the link in a delivery).
    public_url: str = "http://127.0.0.1:8104"
    # Where kiosks reach the broker, as printed on a device's credentials sheet and in its QR
    # code (docs/device-credentials.md): empty means YZ_MQTT_HOST; devices use TLS on 8883.
    device_broker_host: str = ""
    device_broker_port: int = Field(default=8883, ge=1, le=65535)

    def broker_for_devices(self) -> tuple[str, int]:
        """The broker address a kiosk is configured with."""
        return self.device_broker_host or self.common.mqtt_host, self.device_broker_port
