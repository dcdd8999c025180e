"""The broker of `make run`, locked as production locks it (CONTRACT §1): the dynamic security
plugin with stations keeping the accounts, a TLS listener for devices beside plain MQTT, and
the secrets this needs, generated on the first run and kept in the data folder."""

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from yizhan.devstack.broker import BrokerTls, DynsecAdmin, MosquittoBroker
from yizhan.devstack.tls import DevTls, ensure_dev_tls

BROKER_ADMIN_USERNAME = "yz.admin"
TELEMETRY_MQTT_USERNAME = "yz.telemetry"
KIOSK_CREDENTIALS_FILE = "kiosk-credentials.json"


def kept_secret(data_dir: Path, name: str) -> str:
    """A random secret made on the first run and kept in `<data>/secrets/<name>` (0600)."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = secrets.token_urlsafe(24)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


@dataclass(frozen=True)
class LockedBroker:
    """What a locked development broker needs: its accounts and its certificates."""

    broker: MosquittoBroker
    tls: DevTls
    telemetry_password: str

    @classmethod
    def prepare(cls, data_dir: Path, port: int, tls_port: int) -> "LockedBroker":
        """The broker's folder, CA (kept at `<data>/tls/ca.crt`) and secrets, made once."""
        tls = ensure_dev_tls(data_dir / "tls")
        admin = DynsecAdmin(BROKER_ADMIN_USERNAME, kept_secret(data_dir, "broker-admin"))
        broker = MosquittoBroker(
            data_dir / "mosquitto",
            port,
            dynsec=admin,
            tls=BrokerTls(
                port=tls_port,
                ca_cert=tls.ca_cert,
                server_cert=tls.server.cert,
                server_key=tls.server.key,
            ),
        )
        return cls(broker, tls, kept_secret(data_dir, "telemetry-mqtt"))

    def service_env(self) -> dict[str, str]:
        """Settings that make stations keep the broker's accounts and telemetry log in."""
        assert self.broker.dynsec is not None
        return {
            "YZ_STATIONS_BROKER_SECURITY": "dynsec",
            "YZ_STATIONS_BROKER_ADMIN_USERNAME": self.broker.dynsec.username,
            "YZ_STATIONS_BROKER_ADMIN_PASSWORD": self.broker.dynsec.password,
            "YZ_STATIONS_TELEMETRY_MQTT_USERNAME": TELEMETRY_MQTT_USERNAME,
            "YZ_STATIONS_TELEMETRY_MQTT_PASSWORD": self.telemetry_password,
            "YZ_MQTT_USERNAME": TELEMETRY_MQTT_USERNAME,
            "YZ_MQTT_PASSWORD": self.telemetry_password,
        }


def save_kiosk_credentials(path: Path, credentials: dict[str, tuple[str, str]]) -> None:
    """Add provisioned device credentials to the simulator's file (0600)."""
    known = load_kiosk_credentials(path)
    known.update(credentials)
    path.write_text(json.dumps({device: list(pair) for device, pair in known.items()}, indent=1))
    path.chmod(0o600)


def load_kiosk_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """Device id → (MQTT username, password), as provisioned by the demo seed."""
    if not path.exists():
        return {}
    raw: dict[str, list[str]] = json.loads(path.read_text())
    return {device: (pair[0], pair[1]) for device, pair in raw.items()}
