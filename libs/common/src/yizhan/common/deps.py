"""FastAPI dependency getters every service shares: its Deps object (built once by app.py and
kept on app.state.deps) and a database session per request."""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


class HasSessions(Protocol):
    """A service's Deps: whatever else it holds, it makes database sessions."""

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The service's session factory."""
        ...


def deps_getter(kind: type[T]) -> Callable[[Request], Coroutine[Any, Any, T]]:
    """A dependency returning the app's Deps, typed as the service's own class. A coroutine
    on purpose: FastAPI runs a plain function dependency in a worker thread, a hand-off that
    cost more than the rest of a small request (docs/performance.md)."""

    async def get_deps(request: Request) -> T:
        deps = request.app.state.deps
        if not isinstance(deps, kind):
            raise TypeError(f"app.state.deps is a {type(deps).__name__}, not a {kind.__name__}")
        return deps

    get_deps.__doc__ = f"The service's {kind.__name__}, set up by app.py."
    return get_deps


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    deps: HasSessions = request.app.state.deps
    async with deps.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
