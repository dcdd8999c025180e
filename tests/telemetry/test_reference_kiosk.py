"""The reference kiosk client (libs/kiosk) against the real broker and ingest: cut off from
the broker for a while it keeps measuring, and every reading is stored once after the link
comes back; restarted, it goes on with its seq and its outbox; started with its clock an
hour fast, it corrects itself and its readings are stored with the right time."""

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cut import CuttableLink
from tests.support.services import RunningService
from tests.telemetry.conftest import Database, Registry, unique, wait_until
from yizhan.devstack.broker import MosquittoBroker
from yizhan.kiosk.client import RECONNECT_MAX_SECONDS, Kiosk

pytestmark = pytest.mark.integration

# Readings of the backlog test: enough that acknowledgements keep arriving while publishing.
BACKLOG = 3000


@pytest.fixture
def link(broker: MosquittoBroker) -> Iterator[CuttableLink]:
    forwarder = CuttableLink(broker.host, broker.port)
    yield forwarder
    forwarder.close()


@pytest.fixture
def started() -> Iterator[list[Kiosk]]:
    """Kiosks a test started: stopped at the end whatever happened (a kiosk left running
    keeps its network thread, and with it the test process, alive)."""
    kiosks: list[Kiosk] = []
    yield kiosks
    for kiosk in kiosks:
        with contextlib.suppress(Exception):  # stopped already by the test, most of them
            kiosk.stop()


def _kiosk(
    started: list[Kiosk], station: str, device: str, port: int, data_dir: Path, **kwargs: object
) -> Kiosk:
    kiosk = Kiosk(station, device, host="127.0.0.1", port=port, data_dir=data_dir, **kwargs)  # type: ignore[arg-type]
    started.append(kiosk)
    kiosk.start()
    wait_until(lambda: kiosk.connected, 15)
    return kiosk


def _stored_visits(database: Database, device: str) -> list[tuple[int, int]]:
    return database.rows(
        "SELECT seq, count FROM events WHERE device_id = %s ORDER BY seq", (device,)
    )


def test_an_outage_loses_nothing_and_a_restart_keeps_seq(
    ingest: RunningService,
    telemetry_database: Database,
    registry: Registry,
    link: CuttableLink,
    tmp_path: Path,
    started: list[Kiosk],
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("counter"), "counter")
    kiosk = _kiosk(started, station, device, link.port, tmp_path)
    for n in range(1, 6):
        kiosk.event("visit", count=n)
    wait_until(lambda: len(_stored_visits(telemetry_database, device)) == 5)

    link.cut()
    wait_until(lambda: not kiosk.connected, 10)
    for n in range(6, 56):  # it keeps measuring while cut off
        kiosk.event("visit", count=n)
    # The 50 new readings, and any whose acknowledgement the cut lost (they go again, with
    # the same seq, and are stored once).
    assert len(kiosk.outbox) >= 50
    link.restore()
    # The kiosk retries with a growing delay of at most RECONNECT_MAX_SECONDS (60 s), so the
    # first attempt after the link is back may come that much later.
    wait_until(
        lambda: len(_stored_visits(telemetry_database, device)) == 55,
        RECONNECT_MAX_SECONDS + 30,
    )
    wait_until(lambda: len(kiosk.outbox) == 0, 10)
    kiosk.stop()

    # Restarted from its disk: the next reading continues the seq.
    again = _kiosk(started, station, device, link.port, tmp_path)
    again.event("visit", count=100)
    wait_until(lambda: len(_stored_visits(telemetry_database, device)) == 56)
    again.stop()
    stored = _stored_visits(telemetry_database, device)
    assert stored == [(seq, seq + 1) for seq in range(55)] + [(55, 100)]


def test_a_clock_an_hour_fast_corrects_itself(
    ingest: RunningService,
    telemetry_database: Database,
    registry: Registry,
    link: CuttableLink,
    tmp_path: Path,
    started: list[Kiosk],
) -> None:
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("heater"), "heater")
    fast = timedelta(hours=1).total_seconds()
    kiosk = _kiosk(
        started,
        station,
        device,
        link.port,
        tmp_path,
        clock=lambda: datetime.now(UTC).timestamp() + fast,
    )
    kiosk.event("heat.use", seconds=90)
    wait_until(lambda: telemetry_database.has_key(device, 0))
    kiosk.stop()
    assert abs(kiosk.offset_ms + fast * 1000) < 5_000
    (stored_at,) = telemetry_database.rows(
        "SELECT time FROM events WHERE device_id = %s", (device,)
    )[0]
    assert abs((stored_at - datetime.now(UTC)).total_seconds()) < 60
    assert (
        telemetry_database.rows("SELECT reason FROM dead_letters WHERE device_id = %s", (device,))
        == []
    )


def test_a_backlog_of_thousands_drains_in_order(
    ingest: RunningService,
    telemetry_database: Database,
    registry: Registry,
    broker: MosquittoBroker,
    tmp_path: Path,
    started: list[Kiosk],
) -> None:
    """What the simulator does at a first `make run`: a log of past readings kept in one
    transaction, then sent; the kiosk keeps its connection (acknowledgements arriving while
    it publishes must not stall it) and every reading is stored once, in order."""
    station = registry.station(unique("ST"))
    device = registry.device(station, unique("counter"), "counter")
    kiosk = Kiosk(station, device, host="127.0.0.1", port=broker.port, data_dir=tmp_path)
    started.append(kiosk)
    an_hour_ago = time.time() - 3600
    log = ((an_hour_ago + n, "visit", {"count": n % 50 + 1}) for n in range(BACKLOG))
    assert kiosk.past_events(log) == BACKLOG
    kiosk.start()
    wait_until(lambda: len(kiosk.outbox) == 0, 120)
    assert kiosk.connected
    wait_until(lambda: len(_stored_visits(telemetry_database, device)) == BACKLOG, 60)
    assert _stored_visits(telemetry_database, device) == [(n, n % 50 + 1) for n in range(BACKLOG)]
