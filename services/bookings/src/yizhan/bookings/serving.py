"""`yz-bookings serve`: one process, or one per core sharing the port
(libs/common/.../workers.py). A small module on purpose: with several workers the shared
metrics folder must be set before the service's modules import prometheus_client, so the
service itself (app.py) is imported only once that is done."""

import contextlib

from yizhan.bookings.settings import Settings
from yizhan.common.logs import configure_logging
from yizhan.common.runtime import run_server
from yizhan.common.workers import (
    Address,
    claim_port,
    die_with_parent,
    listening_socket,
    other_workers,
    shared_metrics,
    worker_count,
)


async def serve(settings: Settings) -> None:
    """Run the bookings service until SIGINT/SIGTERM, with `http_workers` processes."""
    count = worker_count(settings.http_workers)
    if count == 1:
        from yizhan.bookings.app import serve_process

        await serve_process(settings, primary=True)
        return
    claim_port(settings.common.bind_host, settings.http_port)
    with (
        shared_metrics("bookings"),
        contextlib.closing(listening_socket(settings.common.bind_host, settings.http_port)) as sock,
    ):
        from yizhan.bookings.app import serve_process

        address = (settings.common.bind_host, settings.http_port)

        def others() -> contextlib.AbstractAsyncContextManager[None]:
            return other_workers("bookings", count, address, run_worker_process)

        await serve_process(settings, primary=True, sock=sock, workers=count, others=others)


def run_worker_process(index: int, address: Address, primary: int) -> None:
    """Entry of worker `index` (spawned by the primary): settings from the environment it
    inherited, the metrics folder included; HTTP (on a socket of its own on the primary's
    port) and the SMS outbox only."""
    die_with_parent(primary)
    settings = Settings()
    configure_logging("bookings", settings.common.log_level)
    from yizhan.bookings.app import serve_process

    count = worker_count(settings.http_workers)
    with contextlib.closing(listening_socket(*address)) as sock:
        run_server(serve_process(settings, primary=False, sock=sock, workers=count))
