"""Database engines and migrations; each service owns one PostgreSQL database."""

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

log = logging.getLogger(__name__)


def create_engine(database_url: str, pool_size: int = 10) -> AsyncEngine:
    """An async engine on psycopg 3 (the URL is `postgresql+psycopg://...`)."""
    return create_async_engine(database_url, pool_size=pool_size, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def database_ping(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[None]]:
    """A readiness check: one `SELECT 1` on the service's own database."""

    async def ping() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))

    return ping


def libpq_dsn(database_url: str) -> str:
    """The SQLAlchemy URL as a plain libpq connection string, for raw psycopg use."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def ensure_database(database_url: str) -> None:
    """Create the URL's database when it does not exist yet (needs CREATEDB)."""
    url = make_url(database_url)
    admin_dsn = libpq_dsn(str(url.set(database="postgres").render_as_string(hide_password=False)))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database or "")))
            log.info("created database", extra={"database": url.database})


def run_migrations(database_url: str, migrations_dir: Path) -> None:
    """Bring the database to the newest Alembic revision of a service."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
