"""Real services for the bookings tests: a stations service (the peer bookings asks about
stations and opening hours) and a bookings service, each with its own database, over real
HTTP and gRPC."""

import functools
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from tests.support.operators import create_operator, login
from tests.support.services import RunningService, run_service
from yizhan.common.db import libpq_dsn
from yizhan.devstack.processes import free_port

ADMIN_PASSWORD = "admin-password-for-bookings-tests"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Limits that would otherwise trip over a test suite sending everything from 127.0.0.1.
BOOKINGS_TEST_ENV = {
    "YZ_BOOKINGS_OTP_SENDS_PER_CLIENT_PER_HOUR": "100000",
    # Background work at test speed: tests wait for the sweep and the outbox, not for minutes.
    "YZ_BOOKINGS_NO_SHOW_SWEEP_SECONDS": "0.5",
    "YZ_BOOKINGS_OUTBOX_POLL_SECONDS": "0.5",
    "YZ_BOOKINGS_REMINDER_SWEEP_SECONDS": "0.5",
    # Few enough that test_feedback.py reaches the limit (after its other tests) in a few posts.
    "YZ_BOOKINGS_FEEDBACK_PER_CLIENT_PER_HOUR": "8",
}

_phones = itertools.count(1)


def new_phone() -> str:
    """A mainland mobile number no other test of this session uses."""
    return f"139{next(_phones):08d}"


@pytest.fixture(scope="session")
def stations_db(new_database: Callable[[str], str]) -> str:
    """The stations database of this folder's stations service."""
    return new_database("bk_stations")


@pytest.fixture(scope="session")
def stations(stations_db: str, workdir: Path) -> Iterator[RunningService]:
    """The real stations service, with an admin."""
    with run_service("stations", stations_db, workdir) as service:
        create_operator(stations_db, "admin", ADMIN_PASSWORD, "admin")
        yield service


@pytest.fixture(scope="session")
def bookings_db(new_database: Callable[[str], str]) -> str:
    """The bookings database."""
    return new_database("bk_bookings")


@pytest.fixture(scope="session")
def bookings(bookings_db: str, stations: RunningService, workdir: Path) -> Iterator[RunningService]:
    """The bookings service, talking to the stations service over gRPC."""
    port = free_port()
    env = {
        "YZ_STATIONS_GRPC": stations.grpc_address,
        # The links in SMS point at this very service.
        "YZ_BOOKINGS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **BOOKINGS_TEST_ENV,
    }
    with run_service("bookings", bookings_db, workdir, env=env, http_port=port) as service:
        yield service


@pytest.fixture(scope="session")
def admin_token(stations: RunningService) -> str:
    """An admin's bearer token."""
    return login(stations, "admin", ADMIN_PASSWORD)


@dataclass
class Network:
    """Helpers to set up stations, points and sessions, and to book, over the real APIs."""

    stations: RunningService
    bookings: RunningService
    token: str
    db_url: str

    @functools.cached_property
    def client(self) -> httpx.Client:
        """One client for the bookings service, shared by threads: building an httpx client
        costs milliseconds (its TLS context), which hundreds of requests would feel."""
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
        return httpx.Client(base_url=self.bookings.base_url, timeout=180, limits=limits)

    @property
    def auth(self) -> dict[str, str]:
        """Authorization header of the admin."""
        return {"Authorization": f"Bearer {self.token}"}

    def station(self, district: str = "测试区", opening_hours: Any = None) -> str:
        """A new station (always open unless hours are given); returns its id."""
        station_id = f"BK-{uuid.uuid4().hex[:10]}"
        body = {"id": station_id, "name": {"zh": f"驿站{station_id}", "en": station_id}}
        reply = httpx.post(
            f"{self.stations.base_url}/api/v1/stations",
            json={**body, "district": district},
            headers=self.auth,
        )
        assert reply.status_code == 201, reply.text
        if opening_hours is not None:
            reply = httpx.patch(
                f"{self.stations.base_url}/api/v1/stations/{station_id}",
                json={"opening_hours": opening_hours},
                headers=self.auth,
            )
            assert reply.status_code == 200, reply.text
        return station_id

    def point(
        self, station_id: str, slot_minutes: int = 30, name: str = "直播点", **rules: int
    ) -> int:
        """A new livestream point (with booking `rules` such as max_steps); returns its id."""
        body = {"station_id": station_id, "name": name, "slot_minutes": slot_minutes, **rules}
        reply = httpx.post(
            f"{self.bookings.base_url}/api/v1/livestream-points", json=body, headers=self.auth
        )
        assert reply.status_code == 201, reply.text
        point_id: int = reply.json()["id"]
        return point_id

    def forum_session(
        self, station_id: str, seats: int, starts_in: timedelta, kind: str = "forum"
    ) -> int:
        """A new forum session (or training, health check); returns its id."""
        start = datetime.now(SHANGHAI) + starts_in
        body = {
            "station_id": station_id,
            "kind": kind,
            "topic": "骑手停车难",
            "host": "区总工会",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "seats": seats,
        }
        reply = httpx.post(
            f"{self.bookings.base_url}/api/v1/forum-sessions", json=body, headers=self.auth
        )
        assert reply.status_code == 201, reply.text
        session_id: int = reply.json()["id"]
        return session_id

    def slots(self, point_id: int, day: date) -> list[dict[str, Any]]:
        """The point's slots on a local date."""
        reply = self.client.get(
            f"/api/v1/livestream-points/{point_id}/slots", params={"date": day.isoformat()}
        )
        assert reply.status_code == 200, reply.text
        items: list[dict[str, Any]] = reply.json()["items"]
        return items

    def otp(self, phone: str) -> str:
        """Ask for a one-time code and read it from the development endpoint."""
        sent = self.client.post("/api/v1/otp", json={"phone": phone})
        assert sent.status_code == 202, sent.text
        return self.last_otp(phone)

    def last_otp(self, phone: str) -> str:
        """The last code sent to a phone, from the development endpoint."""
        reply = self.client.get("/api/v1/dev/otp", params={"phone": phone})
        assert reply.status_code == 200, reply.text
        code: str = reply.json()["code"]
        return code

    def book(
        self,
        target: dict[str, Any],
        phone: str | None = None,
        *,
        otp: str | None = None,
        key: str | None = None,
        name: str = "李师傅",
    ) -> httpx.Response:
        """POST /api/v1/bookings with a fresh code (unless given) and key (unless given)."""
        phone = phone or new_phone()
        body = {**target, "phone": phone, "name": name, "otp": otp or self.otp(phone)}
        return self.client.post(
            "/api/v1/bookings", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
        )

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run SQL on the bookings database (to move bookings in time, for instance)."""
        with psycopg.connect(libpq_dsn(self.db_url), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="session")
def network(
    stations: RunningService, bookings: RunningService, admin_token: str, bookings_db: str
) -> Network:
    """The running pair of services and helpers to drive them."""
    return Network(stations, bookings, admin_token, bookings_db)


def tomorrow() -> date:
    """Tomorrow in the stations' (Shanghai) local time: all its slots are in the future."""
    return datetime.now(SHANGHAI).date() + timedelta(days=1)
