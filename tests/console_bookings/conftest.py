"""Stations, bookings and the console, started for the console's bookings pages (no demo, no
telemetry: these pages ask only stations and bookings), with an admin, a district operator
of DISTRICT, a viewer of it, and a station of another district."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.operators import create_operator, login
from tests.support.services import RunningService, run_service
from yizhan.devstack.processes import free_port

DISTRICT = "南川区"
ADMIN_PASSWORD = "console-admin-password"
DISTRICT_PASSWORD = "console-district-password"
VIEWER_PASSWORD = "console-viewer-password"
OTHER_DISTRICT_STATION = "BKC-OTHER-1"


@dataclass
class Desk:
    """The running services and their operators' databases."""

    services: dict[str, RunningService]
    stations_db: str

    def url(self, service: str) -> str:
        """Base URL of a service."""
        return self.services[service].base_url


def token(stack: Desk, username: str, password: str) -> dict[str, str]:
    """Bearer headers of an operator."""
    return {"Authorization": f"Bearer {login(stack.services['stations'], username, password)}"}


@pytest.fixture(scope="package")
def stack(new_database: Callable[[str], str], workdir: Path) -> Iterator[Desk]:
    """The three services on free ports, finding each other over gRPC."""
    stations_db = new_database("bkc_stations")
    ports = {name: (free_port(), free_port()) for name in ("stations", "bookings")}
    peers = {
        "YZ_STATIONS_GRPC": f"127.0.0.1:{ports['stations'][1]}",
        "YZ_BOOKINGS_GRPC": f"127.0.0.1:{ports['bookings'][1]}",
        # Nobody answers there: these pages never ask telemetry.
        "YZ_TELEMETRY_GRPC": f"127.0.0.1:{free_port()}",
    }
    with ExitStack() as running:
        stations = running.enter_context(
            run_service("stations", stations_db, workdir, peers, *ports["stations"])
        )
        bookings = running.enter_context(
            run_service(
                "bookings", new_database("bkc_bookings"), workdir, peers, *ports["bookings"]
            )
        )
        console = running.enter_context(run_service("console", "", workdir, peers))
        for username, password, role in (
            ("admin", ADMIN_PASSWORD, "admin"),
            ("nanchuan", DISTRICT_PASSWORD, "district"),
            ("bk-viewer", VIEWER_PASSWORD, "viewer"),
        ):
            districts = "" if role == "admin" else DISTRICT
            create_operator(stations_db, username, password, role, districts)
        desk = Desk({"stations": stations, "bookings": bookings, "console": console}, stations_db)
        other = {"id": OTHER_DISTRICT_STATION, "name": {"zh": "别区驿站", "en": "Elsewhere"}}
        reply = httpx.post(
            f"{desk.url('stations')}/api/v1/stations",
            json={**other, "district": "江北区"},
            headers=token(desk, "admin", ADMIN_PASSWORD),
        )
        assert reply.status_code == 201, reply.text
        yield desk


@pytest.fixture(scope="package")
def admin(stack: Desk) -> dict[str, str]:
    """The admin's bearer headers."""
    return token(stack, "admin", ADMIN_PASSWORD)


@pytest.fixture(scope="package")
def district_operator(stack: Desk) -> dict[str, str]:
    """The district operator's bearer headers (username `nanchuan`)."""
    return token(stack, "nanchuan", DISTRICT_PASSWORD)
