"""Usage figures on both storage paths: plain PostgreSQL (rollup tables kept by ingest) and
TimescaleDB (continuous aggregates). Two telemetry services, each with its own database,
ingest the same messages from the broker; both must answer the same numbers. The TimescaleDB
cases are skipped, visibly, when the extension is not installed."""

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.services import RunningService, run_telemetry
from tests.telemetry.conftest import (
    Bookings,
    Database,
    Kiosk,
    Registry,
    telemetry_env,
    unique,
    wait_ready,
    wait_until,
)
from yizhan.devstack.broker import MosquittoBroker
from yizhan.devstack.postgres import PostgresCluster

pytestmark = pytest.mark.integration

STORAGES = ("postgresql", "timescaledb")
NO_TIMESCALEDB = (
    "TimescaleDB not available to the test cluster (not installed, or YZ_PG_TIMESCALEDB=off);"
    " the plain PostgreSQL path is tested"
)
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Telemetry:
    """One telemetry service and its database, on one storage path."""

    def __init__(self, service: RunningService, database: Database, token: str) -> None:
        self.service = service
        self.database = database
        self.api = httpx.Client(
            base_url=service.base_url, headers={"Authorization": f"Bearer {token}"}
        )

    def usage(self, **params: str) -> dict[str, Any]:
        """GET /api/v1/usage."""
        reply = self.api.get("/api/v1/usage", params=params)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body


@pytest.fixture(scope="module")
def storages(
    new_database: Callable[[str], str],
    postgres: PostgresCluster,
    workdir: Path,
    broker: MosquittoBroker,
    stations: RunningService,
    bookings: Bookings,
    admin_token: str,
    telemetry: RunningService,
    telemetry_db: str,
) -> Iterator[dict[str, Telemetry]]:
    """A telemetry service per available storage path: the session's own (TimescaleDB when
    the extension is installed) and one started here on plain PostgreSQL."""
    shared = Telemetry(telemetry, Database(telemetry_db), admin_token)
    with ExitStack() as stack:
        started = {}
        if postgres.with_timescaledb:
            started["timescaledb"] = shared
            url = new_database("usage_postgresql")
            env = telemetry_env(broker, stations, bookings.address, unique("yz-plain"))
            env["YZ_TELEMETRY_TIMESCALEDB"] = "off"
            processes = stack.enter_context(run_telemetry(url, workdir, env=env))
            wait_ready(processes.api)
            wait_ready(processes.ingest)
            started["postgresql"] = Telemetry(processes.api, Database(url), admin_token)
        else:
            started["postgresql"] = shared
        yield started


@pytest.fixture(params=STORAGES)
def telemetry_on(request: pytest.FixtureRequest, storages: dict[str, Telemetry]) -> Telemetry:
    """The service of one storage path (skipped when that path is not available)."""
    storage: str = request.param
    if storage not in storages:
        pytest.skip(NO_TIMESCALEDB)
    return storages[storage]


def test_each_path_is_what_it_says(storages: dict[str, Telemetry]) -> None:
    for storage, telemetry in storages.items():
        kind = telemetry.database.value("SELECT relkind FROM pg_class WHERE relname = 'usage_15m'")
        assert kind == ("v" if storage == "timescaledb" else "r"), storage
        assert "storage:" in telemetry.service.log_text()
    if "timescaledb" not in storages:
        pytest.skip(NO_TIMESCALEDB)
    database = storages["timescaledb"].database
    hypertables = database.rows(
        "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
        " ORDER BY 1"
    )
    assert ("events", True) in hypertables
    assert ("metrics", True) in hypertables
    jobs = {
        (proc, str(table))
        for proc, table in database.rows(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
            " WHERE proc_name <> 'policy_job_error_retention'"
        )
    }
    assert {("policy_compression", "events"), ("policy_retention", "metrics")} <= jobs
    assert sum(1 for proc, _ in jobs if proc == "policy_refresh_continuous_aggregate") == 2


def local(day: datetime, hour: int, minute: int = 0) -> str:
    """A moment of a local day, as devices send it."""
    return day.replace(hour=hour, minute=minute).isoformat()


@pytest.fixture(scope="module")
def network_day(storages: dict[str, Telemetry]) -> datetime:
    """A Shanghai midnight some days back (the scenario's days are before now)."""
    today = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=3)


@pytest.fixture(scope="module")
def scenario(
    storages: dict[str, Telemetry],
    registry: Registry,
    broker: MosquittoBroker,
    network_day: datetime,
) -> dict[str, str]:
    """One station's week: visits, charging (a start/stop pair, a stop without start), water,
    a resent message; published once, ingested by every storage path."""
    from tests.telemetry.conftest import connected_kiosk

    district = unique("district")
    station = registry.station(unique("ST"), district)
    counter = registry.device(station, unique("counter"), "counter")
    charger = registry.device(station, unique("charger"), "charger")
    water = registry.device(station, unique("water"), "water")
    heater = registry.device(station, unique("heater"), "heater")
    day1, day2 = network_day, network_day + timedelta(days=1)
    kolkata_10_20 = datetime(
        day2.year, day2.month, day2.day, 10, 20, tzinfo=ZoneInfo("Asia/Kolkata")
    )
    sent: list[tuple[str, str, dict[str, Any]]] = [
        (counter, "event", {"seq": 1, "ts": local(day1, 9), "type": "visit", "count": 3}),
        # 23:30 in Shanghai is 15:30 UTC, the same UTC day as the next Shanghai morning.
        (counter, "event", {"seq": 2, "ts": local(day1, 23, 30), "type": "visit", "count": 4}),
        (counter, "event", {"seq": 3, "ts": local(day2, 7, 30), "type": "visit", "count": 5}),
        # 10:20 and 10:40 in Kolkata (+05:30): one Kolkata hour, two UTC hours.
        (
            counter,
            "event",
            {"seq": 4, "ts": kolkata_10_20.isoformat(), "type": "visit", "count": 1},
        ),
        (
            counter,
            "event",
            {
                "seq": 5,
                "ts": (kolkata_10_20 + timedelta(minutes=20)).isoformat(),
                "type": "visit",
                "count": 2,
            },
        ),
        (
            charger,
            "event",
            {
                "seq": 1,
                "ts": local(day1, 10),
                "type": "charge.start",
                "session": "A",
                "connector": 2,
            },
        ),
        (
            charger,
            "event",
            {
                "seq": 2,
                "ts": local(day1, 11),
                "type": "charge.stop",
                "session": "A",
                "energy_wh": 1520.1,
                "reason": "finished",
            },
        ),
        # A stop whose start was never received still counts.
        (
            charger,
            "event",
            {
                "seq": 3,
                "ts": local(day2, 8),
                "type": "charge.stop",
                "session": "B",
                "energy_wh": 0.2,
            },
        ),
        (
            water,
            "event",
            {"seq": 1, "ts": local(day1, 12), "type": "water.dispense", "liters": 0.1},
        ),
        (
            water,
            "event",
            {"seq": 2, "ts": local(day1, 12, 5), "type": "water.dispense", "liters": 0.2},
        ),
        (
            water,
            "event",
            {"seq": 3, "ts": local(day2, 12), "type": "water.dispense", "liters": 1.5},
        ),
        (heater, "event", {"seq": 1, "ts": local(day1, 12, 10), "type": "heat.use", "seconds": 90}),
        (heater, "event", {"seq": 2, "ts": local(day1, 18, 30), "type": "heat.use", "seconds": 20}),
        (heater, "event", {"seq": 3, "ts": local(day2, 12), "type": "heat.use", "seconds": 45}),
        (water, "telemetry", {"seq": 4, "ts": local(day2, 12), "metrics": {"tank_l": 7.5}}),
    ]
    messages = [
        (f"yz/v1/st/{station}/dev/{device}/{channel}", json.dumps({"v": 1, **body}).encode())
        for device, channel, body in sent
    ]
    messages.append(messages[0])  # resent: counted once
    with connected_kiosk(broker) as kiosk:
        kiosk.publish_all(messages)
    for telemetry in storages.values():
        wait_until(lambda t=telemetry: t.database.has_key(water, 4))  # type: ignore[misc]
    return {"station": station, "district": district, "counter": counter, "charger": charger}


ZERO = {
    "visits": 0,
    "charge_sessions": 0,
    "energy_kwh": 0.0,
    "water_liters": 0.0,
    "dispenses": 0,
    "heat_uses": 0,
    "heat_minutes": 0.0,
}


def settled(telemetry: Telemetry, expected_visits: int, **params: str) -> dict[str, Any]:
    """The usage answer once it counts `expected_visits` (TimescaleDB counts days-old, i.e.
    late, messages after its refresher ran: within seconds)."""
    return wait_until(  # type: ignore[no-any-return]
        lambda: (body := telemetry.usage(**params))["totals"]["visits"] == expected_visits and body
    )


def test_day_buckets_in_shanghai_and_utc(
    telemetry_on: Telemetry, scenario: dict[str, str], network_day: datetime
) -> None:
    day1 = network_day
    window = {
        "scope": f"station:{scenario['station']}",
        "from": (day1 - timedelta(days=1)).isoformat(),
        "to": (day1 + timedelta(days=2)).isoformat(),
        "bucket": "day",
    }
    body = settled(telemetry_on, 15, **window)
    assert body["tz"] == "Asia/Shanghai"
    assert body["series"] == [
        {"start": (day1 - timedelta(days=1)).isoformat(), **ZERO},
        {
            "start": day1.isoformat(),
            "visits": 7,
            "charge_sessions": 1,
            "energy_kwh": 1.5201,
            "water_liters": 0.3,
            "dispenses": 2,
            "heat_uses": 2,
            "heat_minutes": 1.83,
        },
        {
            "start": (day1 + timedelta(days=1)).isoformat(),
            "visits": 8,
            "charge_sessions": 1,
            "energy_kwh": 0.0002,
            "water_liters": 1.5,
            "dispenses": 1,
            "heat_uses": 1,
            "heat_minutes": 0.75,
        },
    ]
    assert body["totals"] == {
        "visits": 15,
        "charge_sessions": 2,
        "energy_kwh": 1.5203,
        "water_liters": 1.8,
        "dispenses": 3,
        "heat_uses": 3,
        "heat_minutes": 2.58,
    }
    # The same range in UTC: day 1's 09:00 and 23:30 and day 2's 07:30 in Shanghai (01:00,
    # 15:30 and 23:30 UTC) fall on one UTC day; the buckets start at UTC midnights.
    utc = settled(telemetry_on, 15, **window, tz="UTC")
    utc_day1 = day1.astimezone(UTC) + timedelta(hours=8)
    assert [(b["start"], b["visits"]) for b in utc["series"]] == [
        ((utc_day1 - timedelta(days=2)).isoformat(), 0),
        ((utc_day1 - timedelta(days=1)).isoformat(), 0),
        (utc_day1.isoformat(), 12),
        ((utc_day1 + timedelta(days=1)).isoformat(), 3),
    ]


def test_half_hour_zones_and_unaligned_ranges(
    telemetry_on: Telemetry, scenario: dict[str, str], network_day: datetime
) -> None:
    day2 = network_day + timedelta(days=1)
    kolkata = ZoneInfo("Asia/Kolkata")
    ten = datetime(day2.year, day2.month, day2.day, 10, tzinfo=kolkata)
    station = f"station:{scenario['station']}"
    hours = settled(
        telemetry_on,
        3,
        scope=station,
        bucket="hour",
        tz="Asia/Kolkata",
        **{"from": ten.isoformat(), "to": (ten + timedelta(hours=2)).isoformat()},
    )
    assert [(b["start"], b["visits"]) for b in hours["series"]] == [
        (ten.isoformat(), 3),
        ((ten + timedelta(hours=1)).isoformat(), 0),
    ]
    in_utc = telemetry_on.usage(
        scope=station,
        bucket="hour",
        tz="UTC",
        **{"from": ten.isoformat(), "to": (ten + timedelta(hours=2)).isoformat()},
    )
    assert [b["visits"] for b in in_utc["series"]] == [1, 2, 0]
    # A range that starts and ends inside quarter hours counts exactly what lies within.
    inside = telemetry_on.usage(
        scope=station,
        bucket="day",
        **{
            "from": (ten + timedelta(minutes=25)).isoformat(),
            "to": (ten + timedelta(minutes=41)).isoformat(),
        },
    )
    assert inside["totals"]["visits"] == 2
    edges = telemetry_on.usage(
        scope=station,
        bucket="day",
        **{
            "from": (ten + timedelta(minutes=19)).isoformat(),
            "to": (ten + timedelta(minutes=40, seconds=1)).isoformat(),
        },
    )
    assert edges["totals"]["visits"] == 3


def test_district_and_network_scopes(telemetry_on: Telemetry, scenario: dict[str, str]) -> None:
    now = datetime.now(UTC)
    window = {"from": (now - timedelta(days=10)).isoformat(), "to": now.isoformat()}
    station = settled(telemetry_on, 15, scope=f"station:{scenario['station']}", **window)
    district = telemetry_on.usage(scope=f"district:{scenario['district']}", **window)
    assert district["totals"] == station["totals"]
    # The network figures (their own rollup) catch up with the station's as well.
    network = wait_until(
        lambda: (
            (n := telemetry_on.usage(scope="network", bucket="week", **window))["totals"]["visits"]
            >= 15
            and n
        )
    )
    assert len(network["series"]) in (2, 3)


def test_a_day_late_message_lands_in_its_bucket(
    telemetry_on: Telemetry, storages: dict[str, Telemetry], kiosk: Kiosk, registry: Registry
) -> None:
    station = registry.station(unique("ST"))
    counter = registry.device(station, unique("counter"), "counter")
    topic = f"yz/v1/st/{station}/dev/{counter}/event"
    now = datetime.now(SHANGHAI)
    kiosk.publish(topic, {"v": 1, "seq": 10, "ts": now.isoformat(), "type": "visit", "count": 1})
    # The kiosk was offline for a day: it forwards what it kept, oldest first, after newer
    # data is already counted.
    yesterday = now - timedelta(days=1)
    kiosk.publish(
        topic, {"v": 1, "seq": 5, "ts": yesterday.isoformat(), "type": "visit", "count": 4}
    )
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    window = {
        "scope": f"station:{station}",
        "bucket": "day",
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }
    body = settled(telemetry_on, 5, **window)
    assert [(b["start"], b["visits"]) for b in body["series"]] == [
        ((today - timedelta(days=1)).isoformat(), 4),
        (today.isoformat(), 1),
    ]


def test_both_paths_answer_the_same(
    storages: dict[str, Telemetry], scenario: dict[str, str]
) -> None:
    if "timescaledb" not in storages:
        pytest.skip(NO_TIMESCALEDB)
    now = datetime.now(UTC)
    for bucket in ("hour", "day", "week", "month"):
        for tz in ("Asia/Shanghai", "Asia/Kathmandu", "America/New_York"):
            params = {
                "scope": f"station:{scenario['station']}",
                "bucket": bucket,
                "tz": tz,
                "from": (now - timedelta(days=7, minutes=7)).isoformat(),
                "to": now.isoformat(),
            }
            answers = [settled(t, 15, **params) for t in storages.values()]
            assert answers[0] == answers[1], (bucket, tz)
