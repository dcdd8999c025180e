"""The ingest process over TLS: it connects to the broker's TLS listener with a client
certificate, and a device publishing over TLS with its own certificate gets stored."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.services import RunningService, run_telemetry
from tests.telemetry.conftest import (
    Bookings,
    Database,
    Registry,
    telemetry_env,
    unique,
    wait_ready,
    wait_until,
)
from yizhan.common.mqtt import device_topic, make_client
from yizhan.common.settings import CommonSettings
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.tls import DevTls


@pytest.mark.integration
@pytest.mark.parametrize("source", ["wire", "paho"])
def test_ingest_over_tls_stores_a_device_over_tls(
    source: str,
    tls_broker: tuple[MosquittoBroker, DevTls],
    new_database: Callable[[str], str],
    workdir: Path,
    stations: RunningService,
    bookings: Bookings,
    registry: Registry,
) -> None:
    broker, dev_tls = tls_broker
    assert broker.tls is not None
    ingest_cert = dev_tls.client("yz-telemetry")
    env = telemetry_env(broker, stations, bookings.address, unique("yz-telemetry-tls"))
    env |= {
        "YZ_MQTT_PORT": str(broker.tls.port),
        "YZ_MQTT_TLS_CA": str(dev_tls.ca_cert),
        "YZ_MQTT_TLS_CERT": str(ingest_cert.cert),
        "YZ_MQTT_TLS_KEY": str(ingest_cert.key),
        "YZ_MQTT_TLS_SERVER_NAME": "localhost",
        "YZ_TELEMETRY_MQTT_SOURCE": source,
    }
    database_url = new_database(f"telemetry_tls_{source}")
    station = registry.station(unique("TLS"))
    device = registry.device(station, unique("counter"), "counter")
    device_cert = dev_tls.client(device)
    with run_telemetry(database_url, workdir, env=env) as processes:
        wait_ready(processes.ingest)  # ready = subscribed at the broker, over TLS
        kiosk = make_client(
            unique("kiosk"),
            CommonSettings(
                mqtt_host="127.0.0.1",
                mqtt_port=broker.tls.port,
                mqtt_tls_ca=dev_tls.ca_cert,
                mqtt_tls_cert=device_cert.cert,
                mqtt_tls_key=device_cert.key,
            ),
        )
        kiosk.connect("127.0.0.1", broker.tls.port)
        kiosk.loop_start()
        try:
            body = b'{"v":1,"seq":7,"ts":"%s","type":"visit","count":1}' % (
                datetime.now(UTC).isoformat().encode()
            )
            info = kiosk.publish(device_topic(station, device, "event"), body, qos=1)
            info.wait_for_publish(10)
            stored = Database(database_url)
            wait_until(lambda: stored.has_key(device, 7))
        finally:
            kiosk.loop_stop()
            kiosk.disconnect()
