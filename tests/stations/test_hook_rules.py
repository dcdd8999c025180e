"""The broker hook's rules for the ingest's account, without anything running (the device
rules read the database: tests/stations/test_broker_hook.py)."""

import pytest

from yizhan.stations.broker.hook import ServiceLogin, service_client_id_ok, service_filter_ok

pytestmark = pytest.mark.unit

INGEST = ServiceLogin("yz.telemetry", "password", "yz.telemetry")


@pytest.mark.parametrize(
    ("client_id", "ok"),
    [
        ("yz.telemetry", True),
        ("yz.telemetry.telemetry-ingest-7c9f8-x2x4q", True),
        ("yz.telemetry-2", True),
        ("yz.telemetry.", False),
        ("yz.telemetry.ingest-1.probe-3f2a", False),  # a foreign id under a replica's
        ("yz.telemetry-x", False),
        ("yz.telemetryx", False),
        ("yz.telemetr", False),
        ("kiosk-1", False),
        ("", False),
    ],
)
def test_the_ingest_uses_only_its_own_client_ids(client_id: str, ok: bool) -> None:
    assert service_client_id_ok(INGEST, client_id) is ok


@pytest.mark.parametrize(
    ("topic", "ok"),
    [
        ("yz/v1/st/+/dev/+/+", True),
        ("$share/yz-ingest/yz/v1/st/+/dev/+/+", True),
        ("yz/v1/st/S-1/dev/+/event", True),
        ("yz/v1/st/+/dev/+/down", True),
        ("$share//yz/v1/st/+/dev/+/+", False),
        ("$share/g+/yz/v1/st/+/dev/+/+", False),
        ("$share/yz-ingest", False),
        ("yz/v1/st/#", False),
        ("yz/v1/st/+/dev/#", False),
        ("yz/v1/st/+/dev/+/+/extra", False),
        ("yz/v1/st/+/dev/+/other", False),
        ("yz/v2/st/+/dev/+/+", False),
        ("#", False),
        ("$SYS/#", False),
    ],
)
def test_the_ingest_subscribes_only_to_device_topics(topic: str, ok: bool) -> None:
    assert service_filter_ok(topic) is ok
