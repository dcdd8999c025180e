"""Settings of the stations service (env prefix `YZ_STATIONS_`)."""

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from yizhan.common.service import ServiceSettings


class Settings(ServiceSettings):
    """Ports, database, and the first admin's password for `ensure-admin`."""

    model_config = SettingsConfigDict(env_prefix="YZ_STATIONS_", extra="ignore")

    http_port: int = 8101
    grpc_port: int = 50101
    database_url: str = "postgresql+psycopg://yizhan@127.0.0.1:54329/yz_stations"
    # Logins per username and minute before the token endpoint answers 429.
    login_attempts_per_minute: int = 10
    admin_password: SecretStr | None = None
