"""The development CA (devstack/tls.py) and Mosquitto's TLS listener: a client that trusts the
CA gets in over TLS and its message arrives; one that does not trust it is refused; with
client certificates required, only a client holding one signed by the CA gets in."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from yizhan.devstack.broker import BrokerTls, MosquittoBroker
from yizhan.devstack.processes import free_port
from yizhan.devstack.tls import DevTls, ensure_dev_tls

pytestmark = pytest.mark.integration


def test_the_ca_is_kept_and_the_server_cert_follows_the_names(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path / "tls", ["localhost", "127.0.0.1"])
    ca, server = first.ca_cert.read_bytes(), first.server.cert.read_bytes()
    assert first.server.key.stat().st_mode & 0o077 == 0

    again = ensure_dev_tls(tmp_path / "tls", ["localhost", "127.0.0.1"])
    assert again.ca_cert.read_bytes() == ca
    assert again.server.cert.read_bytes() == server

    renamed = ensure_dev_tls(tmp_path / "tls", ["localhost", "127.0.0.1", "mqtt.example.org"])
    assert renamed.ca_cert.read_bytes() == ca
    assert renamed.server.cert.read_bytes() != server
    subject_names = _san(renamed.server.cert)
    assert "mqtt.example.org" in subject_names
    assert "127.0.0.1" in subject_names


def _san(cert: Path) -> list[str]:
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(name.value) for name in names]


@pytest.fixture(scope="module")
def dev_tls(tmp_path_factory: pytest.TempPathFactory) -> DevTls:
    return ensure_dev_tls(tmp_path_factory.mktemp("dev-ca"))


def _start(folder: Path, tls: DevTls, require_client_cert: bool) -> MosquittoBroker:
    broker = MosquittoBroker(
        folder,
        free_port(),
        tls=BrokerTls(
            port=free_port(),
            ca_cert=tls.ca_cert,
            server_cert=tls.server.cert,
            server_key=tls.server.key,
            require_client_cert=require_client_cert,
        ),
    )
    broker.start(log_path=folder.parent / f"{folder.name}.log")
    return broker


@pytest.fixture(scope="module")
def tls_broker(
    tmp_path_factory: pytest.TempPathFactory, dev_tls: DevTls
) -> Iterator[MosquittoBroker]:
    broker = _start(tmp_path_factory.mktemp("tls-broker"), dev_tls, require_client_cert=False)
    yield broker
    broker.stop()


def _pub(broker: MosquittoBroker, *tls_args: str) -> subprocess.CompletedProcess[str]:
    assert broker.tls is not None
    return subprocess.run(
        [
            "mosquitto_pub",
            *("-h", "localhost", "-p", str(broker.tls.port)),
            *("-t", "yz/tls-check", "-m", "over tls", "-q", "1"),
            *tls_args,
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_a_client_trusting_the_ca_publishes_over_tls(
    tls_broker: MosquittoBroker, dev_tls: DevTls
) -> None:
    # Retained, so the plain subscriber started afterwards receives it without a race.
    result = _pub(tls_broker, "--cafile", str(dev_tls.ca_cert), "-r")
    assert result.returncode == 0, result.stderr
    received = subprocess.run(
        [
            "mosquitto_sub",
            *("-h", "127.0.0.1", "-p", str(tls_broker.port)),
            *("-t", "yz/tls-check", "-C", "1", "-W", "10"),
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert received.stdout.strip() == "over tls"


def test_a_client_not_trusting_the_ca_is_refused(
    tls_broker: MosquittoBroker, tmp_path: Path
) -> None:
    other_ca = ensure_dev_tls(tmp_path / "other")
    result = _pub(tls_broker, "--cafile", str(other_ca.ca_cert))
    assert result.returncode != 0
    # Plain MQTT on the TLS port does not get in either.
    assert _pub(tls_broker).returncode != 0


def test_required_client_certificates(
    tmp_path_factory: pytest.TempPathFactory, dev_tls: DevTls
) -> None:
    broker = _start(tmp_path_factory.mktemp("mtls-broker"), dev_tls, require_client_cert=True)
    try:
        assert _pub(broker, "--cafile", str(dev_tls.ca_cert)).returncode != 0
        kiosk = dev_tls.client("kiosk-1")
        result = _pub(
            broker,
            *("--cafile", str(dev_tls.ca_cert)),
            *("--cert", str(kiosk.cert), "--key", str(kiosk.key)),
        )
        assert result.returncode == 0, result.stderr
    finally:
        broker.stop()
