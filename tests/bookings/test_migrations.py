"""The hand-written migration and models.py describe the same tables."""

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import yizhan.bookings
from yizhan.bookings.models import Base
from yizhan.common.db import run_migrations

pytestmark = pytest.mark.integration


def test_models_match_the_migrated_schema(new_database: Callable[[str], str]) -> None:
    url = new_database("bk_drift")
    run_migrations(url, Path(yizhan.bookings.__file__).parent / "migrations")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
