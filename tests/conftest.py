"""Session-wide real parts: one PostgreSQL cluster, one anonymous Mosquitto broker for most
tests, and (started only when a test asks for it) one broker that enforces accounts with the
dynamic security plugin."""

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from yizhan.devstack.broker import DynsecAdmin, MosquittoBroker
from yizhan.devstack.postgres import PostgresCluster
from yizhan.devstack.processes import free_port

_OWN_BASETEMP = pytest.StashKey[bool]()

_database_numbers = itertools.count(1)
# Fixtures that start something: a test marked `unit` must use none of them.
RUNNING_PARTS = {"postgres", "broker", "secured_broker", "new_database", "stack"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a `unit` test that asks for a running part (the marker must stay honest)."""
    for item in items:
        needs = RUNNING_PARTS & set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("unit") and needs:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but uses {sorted(needs)}")


def pytest_configure(config: pytest.Config) -> None:
    """A temporary root of this session's own: pytest's shared one (/tmp/pytest-of-<user>) is
    pruned by whichever session starts next, which removes a running session's servers
    when several test sessions share a machine."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="yz-pytest-")
        config.stash[_OWN_BASETEMP] = True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's temporary root when every test passed (kept to look at otherwise)."""
    if session.config.stash.get(_OWN_BASETEMP, False) and exitstatus == 0:
        shutil.rmtree(session.config.option.basetemp, ignore_errors=True)


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """A scratch folder for this test session's servers."""
    with tempfile.TemporaryDirectory(prefix="yz-test-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def postgres(workdir: Path) -> Iterator[PostgresCluster]:
    """A real PostgreSQL cluster, started once per test session."""
    cluster = PostgresCluster(workdir / "postgres", free_port())
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def broker(workdir: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto broker, started once per test session."""
    mosquitto = MosquittoBroker(workdir / "mosquitto", free_port())
    mosquitto.start(log_path=workdir / "mosquitto.log")
    yield mosquitto
    mosquitto.stop()


# The secured broker's admin account (stations drives the plugin with it).
BROKER_ADMIN = DynsecAdmin("yz.admin", "broker-admin-password-for-tests")


@pytest.fixture(scope="session")
def secured_broker(workdir: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto that lets in only accounts of its dynamic security plugin."""
    mosquitto = MosquittoBroker(workdir / "mosquitto-dynsec", free_port(), dynsec=BROKER_ADMIN)
    mosquitto.start(log_path=workdir / "mosquitto-dynsec.log")
    yield mosquitto
    mosquitto.stop()


@pytest.fixture(scope="session")
def new_database(postgres: PostgresCluster) -> Callable[[str], str]:
    """Make an empty database named after its purpose; returns its SQLAlchemy URL."""

    def make(purpose: str) -> str:
        name = f"t{os.getpid()}_{next(_database_numbers)}_{purpose}"[:63]
        postgres.create_database(name)
        return postgres.url(name)

    return make
