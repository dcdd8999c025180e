"""A real stations service (own database) shared by the tests of this folder: started once
for the whole folder, so each test uses ids of its own (`T-<TEST>-...`)."""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import RunningService, run_service, service_env

ADMIN_PASSWORD = "admin-password-for-tests"


def create_operator(
    database_url: str, username: str, password: str, role: str, districts: str = ""
) -> None:
    """Create an operator with the service's own CLI."""
    env = service_env("stations", database_url, {"YZ_TEST_OPERATOR_PASSWORD": password})
    subprocess.run(
        [
            "yz-stations",
            "create-operator",
            "--username",
            username,
            "--role",
            role,
            "--districts",
            districts,
            "--password-env",
            "YZ_TEST_OPERATOR_PASSWORD",
        ],
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="package")
def stations_db(new_database: Callable[[str], str]) -> str:
    """The stations database of this module's service."""
    return new_database("stations")


@pytest.fixture(scope="package")
def stations(stations_db: str, workdir: Path) -> Iterator[RunningService]:
    """The stations service, migrated, with an admin."""
    with run_service("stations", stations_db, workdir) as service:
        create_operator(stations_db, "admin", ADMIN_PASSWORD, "admin")
        yield service


def login(service: RunningService, username: str, password: str) -> str:
    """An operator token from the API."""
    reply = httpx.post(
        f"{service.base_url}/api/v1/auth/token",
        data={"username": username, "password": password},
    )
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


@pytest.fixture(scope="package")
def admin(stations: RunningService) -> Iterator[httpx.Client]:
    """An HTTP client logged in as admin."""
    token = login(stations, "admin", ADMIN_PASSWORD)
    with httpx.Client(
        base_url=stations.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


__all__ = ["create_operator", "login", "os"]
