"""A real stations service (own database) shared by the tests of this folder: started once
for the whole folder, so each test uses ids of its own (`T-<TEST>-...`)."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.operators import create_operator, login
from tests.support.services import RunningService, run_service

ADMIN_PASSWORD = "admin-password-for-tests"


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


@pytest.fixture(scope="package")
def admin(stations: RunningService) -> Iterator[httpx.Client]:
    """An HTTP client logged in as admin."""
    token = login(stations, "admin", ADMIN_PASSWORD)
    with httpx.Client(
        base_url=stations.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


__all__ = ["create_operator", "login", "os"]
