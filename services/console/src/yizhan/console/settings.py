"""Settings of the operator console (env prefix `YZ_STATIONS_CONSOLE_`)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# services/stations/src/yizhan/stations/console -> the repository root, where scripts/setup.sh
# runs `npm ci` in console-assets/ (an installed wheel sets YZ_STATIONS_CONSOLE_ASSETS_DIR).
_REPO_ROOT = Path(__file__).resolve().parents[6]


class ConsoleSettings(BaseSettings):
    """Where the charting library is, the console's calendar, and how live pages refresh."""

    model_config = SettingsConfigDict(env_prefix="YZ_STATIONS_CONSOLE_", extra="ignore")

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
