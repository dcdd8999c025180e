"""Plain SQL on the driver's connection, for the statements a booking runs under a rush
(docs/performance.md): SQLAlchemy's statement building and result handling cost the service
several times what PostgreSQL spends on these small statements, and a booking runs about ten.
The statements run on the session's own connection, so they are part of its transaction
(committed or rolled back with it); everything else keeps using the ORM."""

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from sqlalchemy.ext.asyncio import AsyncSession


async def driver(session: AsyncSession) -> AsyncConnection[TupleRow]:
    """The psycopg connection under the session's current transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    found: AsyncConnection[TupleRow] = raw.driver_connection  # type: ignore[assignment]
    return found


async def fetch_one(
    session: AsyncSession, query: str | sql.SQL | sql.Composed, *params: Any
) -> tuple[Any, ...] | None:
    """The first row of a statement (None when there is none), in the session's transaction."""
    db = await driver(session)
    async with db.cursor() as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchone() if cursor.description else None


async def fetch_all(
    session: AsyncSession, query: str | sql.SQL | sql.Composed, *params: Any
) -> list[tuple[Any, ...]]:
    """Every row of a statement, in the session's transaction."""
    db = await driver(session)
    async with db.cursor() as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()
