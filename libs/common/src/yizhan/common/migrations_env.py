"""The body of every service's Alembic env.py: online migrations on one connection."""

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run(metadata: MetaData) -> None:
    """Run the pending migrations against the configured URL."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
