"""The body of every service's Alembic env.py: online migrations on one connection."""

import logging
from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection, MetaData, create_engine, pool, text

log = logging.getLogger("alembic.runtime.migration")

# TimescaleDB runs a job scheduler per database. A continuous aggregate policy a migration adds
# starts at once, in the background, as soon as the migration commits: its refresh then races
# the migration's own refresh (TimescaleDB 2.21+ refuses overlapping refreshes: "could not
# refresh continuous aggregate ... due to a concurrent refresh") and a later DROP of the view
# ("tuple concurrently deleted"), leaving the database half migrated. So the scheduler of the
# database is paused while migrations run and started again after. Only a superuser may.
_CAN_PAUSE_JOBS = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
   AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
"""


def _pause_jobs(connection: Connection, paused: list[bool]) -> None:
    """Stop this database's TimescaleDB job scheduler once, if it has one and we may."""
    if paused or not connection.execute(text(_CAN_PAUSE_JOBS)).scalar():
        return
    connection.execute(text("SELECT _timescaledb_functions.stop_background_workers()"))
    paused.append(True)
    log.info("TimescaleDB jobs paused while migrating")


def _resume_jobs(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT _timescaledb_functions.start_background_workers()"))
            connection.commit()
    finally:
        engine.dispose()
    log.info("TimescaleDB jobs resumed")


def run(metadata: MetaData) -> None:
    """Run the pending migrations against the configured URL."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set")
    engine = create_engine(url, poolclass=pool.NullPool)
    paused: list[bool] = []

    def after_each_step(
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: Collection[Any],
        run_args: Mapping[str, Any],
    ) -> None:
        # The extension may have just been created by the step (a new database).
        _pause_jobs(connection, paused)

    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                on_version_apply=after_each_step,
            )
            with context.begin_transaction():
                migration = context.get_context()
                if migration.get_current_revision() != context.get_head_revision():
                    _pause_jobs(connection, paused)
                context.run_migrations()
    finally:
        engine.dispose()
        if paused:
            _resume_jobs(url)
