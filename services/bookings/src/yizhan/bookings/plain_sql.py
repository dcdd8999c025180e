"""Plain SQL on the driver's connection, for the statements a booking runs under a rush
(docs/performance.md): SQLAlchemy's statement building and result handling cost the service
several times what PostgreSQL spends on these small statements, and a booking runs about ten.
The statements run either on a session's own connection, so they are part of its transaction
(committed or rolled back with it), or on a connection of the booking pool (`Db`): psycopg's
own pool, without the ORM session, its checkout ping and its commit bookkeeping, which cost a
booking more CPU than its statements. Everything else keeps using the ORM."""

from typing import Any, TypeAlias

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncSession

# Where plain statements run: a session's transaction, or a pooled connection's (the caller
# opened the transaction: `async with pool.connection()` commits at the end of its block).
Db: TypeAlias = AsyncSession | AsyncConnection[TupleRow]


def booking_pool(dsn: str, size: int) -> AsyncConnectionPool[AsyncConnection[TupleRow]]:
    """The pool of the booking path's connections, opened by the caller (`await pool.open()`).
    No check on checkout: a connection found broken is dropped when given back, and the pool
    replaces it (the request that met it fails, as it would with a ping racing the break).
    In autocommit: each statement is its own transaction (no BEGIN and COMMIT round trips);
    what must be one transaction is one statement (a function of migration 0008).
    Every connection is kept open (no growing and shrinking): a rush comes after a quiet
    time, and a connection opened in it costs PostgreSQL a new backend process, which also
    compiles the booking function on its first call, while the rush waits
    (bench/bookings.py: p99 of the first seconds)."""
    return AsyncConnectionPool(
        dsn, min_size=size, max_size=size, open=False, kwargs={"autocommit": True}
    )


async def driver(session: Db) -> AsyncConnection[TupleRow]:
    """The psycopg connection under the session's current transaction (or the connection)."""
    if isinstance(session, AsyncConnection):
        return session
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    found: AsyncConnection[TupleRow] = raw.driver_connection  # type: ignore[assignment]
    return found


async def fetch_one(
    session: Db, query: str | sql.SQL | sql.Composed, *params: Any
) -> tuple[Any, ...] | None:
    """The first row of a statement (None when there is none), in the session's transaction."""
    db = await driver(session)
    async with db.cursor() as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchone() if cursor.description else None


async def fetch_all(
    session: Db, query: str | sql.SQL | sql.Composed, *params: Any
) -> list[tuple[Any, ...]]:
    """Every row of a statement, in the session's transaction."""
    db = await driver(session)
    async with db.cursor() as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()
