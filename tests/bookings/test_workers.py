"""The bookings service on several worker processes (issue 16): they share one port (and no
second service can take it), answer the same whichever of them a connection reaches (one-time
codes of the development endpoint, metrics), a worker that dies is started again, and none
outlives the primary."""

import contextlib
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from tests.bookings.conftest import BOOKINGS_TEST_ENV, new_phone
from tests.support.services import RunningService, run_service
from tests.support.waiting import wait_until
from yizhan.common.workers import claim_port


def _workers(primary: psutil.Process) -> list[psutil.Process]:
    """The workers the primary (worker 0, the process started) spawned; multiprocessing's
    resource tracker is a child too."""
    found = []
    for child in primary.children():
        # A killed worker is a zombie until the primary notices: not a worker any more.
        with contextlib.suppress(psutil.Error):
            if "--multiprocessing-fork" in child.cmdline():
                found.append(child)
    return found


def test_workers_share_the_port_restart_and_die_with_the_primary(
    stations: RunningService, new_database: Callable[[str], str], workdir: Path
) -> None:
    env = {
        "YZ_STATIONS_GRPC": stations.grpc_address,
        "YZ_BOOKINGS_HTTP_WORKERS": "2",
        **BOOKINGS_TEST_ENV,
    }
    with run_service("bookings", new_database("bk_workers"), workdir, env=env) as service:
        primary = psutil.Process(service.process.pid)
        wait_until(lambda: len(_workers(primary)) == 1, 60)

        phone = new_phone()
        sent = httpx.post(f"{service.base_url}/api/v1/otp", json={"phone": phone})
        assert sent.status_code == 202, sent.text
        # A fresh connection each time: the kernel hands them to either worker.
        codes = [
            httpx.get(f"{service.base_url}/api/v1/dev/otp", params={"phone": phone})
            for _ in range(12)
        ]
        assert {c.status_code for c in codes} == {200}
        assert len({c.json()["code"] for c in codes}) == 1
        metrics = httpx.get(f"{service.base_url}/metrics").text
        assert "yz_http_workers 2.0" in metrics
        assert "yz_bookings_otp_sent_total 1.0" in metrics
        # Each worker listens with SO_REUSEPORT; a second service on the port still fails.
        with pytest.raises(OSError, match="in use"):
            claim_port("127.0.0.1", service.http_port)

        victim = _workers(primary)[0]
        victim.kill()
        wait_until(
            lambda: (
                len(_workers(primary)) == 1 and victim.pid not in {w.pid for w in _workers(primary)}
            ),
            30,
        )
        assert httpx.get(f"{service.base_url}/healthz").status_code == 200

        survivors = _workers(primary)
        primary.kill()
        _, alive = psutil.wait_procs(survivors, timeout=30)
        assert alive == [], "a worker outlived the primary"
