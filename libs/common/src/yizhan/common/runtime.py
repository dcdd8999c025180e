"""Running a service: HTTP (uvicorn), gRPC and background tasks in one event loop, stopped
cleanly on SIGINT/SIGTERM."""

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

log = logging.getLogger(__name__)

HTTP_GRACE_SECONDS = 5


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve_until_stopped` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


Component = Callable[[], contextlib.AbstractAsyncContextManager[None]]


def run_server(main: Coroutine[Any, Any, None]) -> None:
    """Run a server process's main coroutine to its end on uvloop (libuv's event loop, which
    uvicorn, psycopg and grpc.aio all run on): every request crosses the event loop several
    times, and libuv's costs less CPU per crossing than asyncio's own (bench/bookings.py,
    docs/performance.md)."""
    uvloop.run(main)


async def serve_until_stopped(
    *,
    app: FastAPI,
    host: str,
    port: int,
    components: list[Component],
    trusted_proxies: str = "",
    sock: socket.socket | None = None,
) -> None:
    """Start `components` in order (gRPC server, ingest, ...), serve HTTP until a signal,
    then stop HTTP first and the components in reverse order. With `sock` (a listening socket
    several worker processes share, workers.py), HTTP is served on it instead of host:port."""
    loop = asyncio.get_running_loop()
    # Open streams (the console's server-sent events) never end by themselves: give requests
    # in flight a grace period at stop, then cancel them.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=HTTP_GRACE_SECONDS,
        # Forwarded headers only from configured proxies (YZ_TRUSTED_PROXIES); uvicorn's own
        # default believes 127.0.0.1, i.e. anyone on the host or behind a local tunnel.
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies or "",
    )
    server = _Server(config)

    def request_stop() -> None:
        log.info("stop requested")
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    async with contextlib.AsyncExitStack() as stack:
        for component in components:
            await stack.enter_async_context(component())
        log.info("HTTP listening", extra={"address": f"{host}:{port}"})
        await server.serve(sockets=[sock] if sock is not None else None)
        if not server.started:
            raise RuntimeError(f"HTTP server could not start on {host}:{port}")
    log.info("stopped")


@contextlib.asynccontextmanager
async def background_task(
    name: str, run: Callable[[], Coroutine[Any, Any, None]]
) -> AsyncIterator[None]:
    """Run a coroutine for the life of the service; cancel it on stop."""
    task = asyncio.create_task(run(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
