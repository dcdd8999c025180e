"""Operator scope on the telemetry API: district operators see their districts only."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.operators import create_operator, login
from tests.support.services import RunningService
from tests.telemetry.conftest import ADMIN_PASSWORD, Registry, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def districts() -> tuple[str, str]:
    """The district operator's district, and another one."""
    return unique("mine"), unique("theirs")


@pytest.fixture(scope="module")
def district_operator(
    stations_db: str,
    stations: RunningService,
    telemetry: RunningService,
    districts: tuple[str, str],
) -> Iterator[httpx.Client]:
    """A telemetry API client logged in as an operator of the first district."""
    username = unique("op")
    create_operator(stations_db, username, ADMIN_PASSWORD, "district", districts[0])
    headers = {"Authorization": f"Bearer {login(stations, username, ADMIN_PASSWORD)}"}
    with httpx.Client(base_url=telemetry.base_url, headers=headers) as client:
        yield client


def _range() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()}


def test_district_operator_sees_only_their_districts(
    registry: Registry, district_operator: httpx.Client, districts: tuple[str, str]
) -> None:
    mine, theirs = districts
    my_station = registry.station(unique("ST"), mine)
    their_station = registry.station(unique("ST"), theirs)

    def usage(scope: str) -> int:
        return district_operator.get(
            "/api/v1/usage", params={"scope": scope, **_range()}
        ).status_code

    assert usage(f"district:{mine}") == 200
    assert usage(f"station:{my_station}") == 200
    assert usage(f"district:{theirs}") == 403
    assert usage("network") == 403
    assert usage(f"station:{their_station}") == 404
    assert usage("station:no-such-station") == 404
    state = f"/api/v1/stations/{their_station}/devices/state"
    assert district_operator.get(state).status_code == 404
    assert district_operator.get(f"/api/v1/stations/{my_station}/devices/state").status_code == 200
    letters = district_operator.get("/api/v1/dead-letters", params={"station_id": their_station})
    assert letters.status_code == 404
    assert district_operator.get("/api/v1/dead-letters").status_code == 200


def test_anonymous_and_bad_parameters(telemetry: RunningService, operator: httpx.Client) -> None:
    anonymous = httpx.get(
        f"{telemetry.base_url}/api/v1/usage", params={"scope": "network", **_range()}
    )
    assert anonymous.status_code == 401
    reply = operator.get(
        "/api/v1/usage",
        params={
            "scope": "city",
            "from": "yesterday",
            "to": "2026-11-23T00:00:00Z",
            "bucket": "year",
            "tz": "Mars/Olympus",
        },
    )
    assert reply.status_code == 422
    fields = {e["field"] for e in reply.json()["errors"]}
    assert fields == {"query.scope", "query.from", "query.bucket", "query.tz"}
    backwards = operator.get(
        "/api/v1/usage",
        params={"scope": "network", "from": "2026-11-23T00:00:00Z", "to": "2026-11-22T00:00:00Z"},
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "query.to"
    missing = operator.get("/api/v1/usage", params={"scope": "network"})
    assert missing.status_code == 422
