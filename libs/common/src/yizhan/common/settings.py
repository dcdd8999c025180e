"""Settings every service shares; each service adds its own on top (see its settings.py)."""

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from yizhan.common.rpc import GrpcTls

# Development defaults: fine on a laptop, refused anywhere else (see _refuse_dev_secrets).
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"  # noqa: S105
DEV_SERVICE_TOKEN = "dev-only-service-token-change-me"  # noqa: S105


class CommonSettings(BaseSettings):
    """Environment variables prefixed `YZ_` that all three services read."""

    model_config = SettingsConfigDict(env_prefix="YZ_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    log_level: str = "INFO"
    bind_host: str = "127.0.0.1"

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_ttl_minutes: int = 12 * 60
    # How long telemetry, bookings and the console trust an operator account's version before
    # asking stations again: the longest a disabled or changed account's old token still
    # works there. 0 (the default) asks on every operator request, as CONTRACT §3 promises
    # ("the next request"); a larger value trades that promise for fewer calls to stations.
    account_cache_seconds: float = 0.0
    service_token: SecretStr = SecretStr(DEV_SERVICE_TOKEN)

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    # TLS to the broker: on when a CA file is set (PEM). A client certificate and key are
    # optional (brokers that authenticate by certificate); the server name checked against
    # the broker's certificate defaults to mqtt_host.
    mqtt_tls_ca: Path | None = None
    mqtt_tls_cert: Path | None = None
    mqtt_tls_key: Path | None = None
    mqtt_tls_server_name: str | None = None

    # Reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses or
    # networks, as uvicorn's forwarded_allow_ips). Empty: none, every client is its TCP peer.
    trusted_proxies: str = ""

    stations_grpc: str = "127.0.0.1:50101"
    telemetry_grpc: str = "127.0.0.1:50102"
    bookings_grpc: str = "127.0.0.1:50103"
    # gRPC between services over TLS (all three set, or none: plain, allowed on loopback only).
    grpc_tls_cert: Path | None = None
    grpc_tls_key: Path | None = None
    grpc_tls_ca: Path | None = None
    # Mutual TLS: servers demand a client certificate signed by YZ_GRPC_TLS_CA.
    grpc_tls_require_client_cert: bool = False

    def grpc_tls(self) -> "GrpcTls | None":
        """The gRPC certificates when configured."""
        from yizhan.common.rpc import GrpcTls  # rpc imports grpc; settings stay light

        if self.grpc_tls_cert is None or self.grpc_tls_key is None or self.grpc_tls_ca is None:
            return None
        return GrpcTls(
            self.grpc_tls_cert,
            self.grpc_tls_key,
            self.grpc_tls_ca,
            self.grpc_tls_require_client_cert,
        )

    @model_validator(mode="after")
    def _check_grpc_tls(self) -> Self:
        given = [self.grpc_tls_cert, self.grpc_tls_key, self.grpc_tls_ca]
        if any(given) and not all(given):
            raise ValueError("set all of YZ_GRPC_TLS_CERT, YZ_GRPC_TLS_KEY and YZ_GRPC_TLS_CA")
        if self.grpc_tls_require_client_cert and not all(given):
            raise ValueError("YZ_GRPC_TLS_REQUIRE_CLIENT_CERT needs the gRPC certificates")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Self:
        if self.env == "prod":
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError("YZ_JWT_SECRET must be set to a real secret when YZ_ENV=prod")
            if self.service_token.get_secret_value() == DEV_SERVICE_TOKEN:
                raise ValueError("YZ_SERVICE_TOKEN must be set to a real secret when YZ_ENV=prod")
        return self
