"""Serving HTTP from several worker processes: one Python process uses one core, so a service
that must answer a rush (bookings, issue 16) runs one process per core, each accepting on a
listening socket of its own on the same port (SO_REUSEPORT: the kernel spreads connections
among them).

The process started by `serve` binds the port first and is worker 0, the primary: it alone runs
what must run once per service (the gRPC server, sweeps), serves HTTP like the others, and
keeps the other workers going (fresh interpreters, `spawn`; one that dies is started again;
all stop with it, even when it is killed). Metrics are shared through prometheus_client's
multiprocess mode: a folder of files named by PROMETHEUS_MULTIPROC_DIR, which must be set
before prometheus_client is first imported, so `prepare_metrics` runs before the service's
modules are imported."""

import asyncio
import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

log = logging.getLogger(__name__)

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# cgroup v2: "<quota> <period>" in microseconds, or "max <period>" without a quota.
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
LISTEN_BACKLOG = 2048
# How often the primary looks for a worker that died, and the pause before starting it again
# (a crash loop stays slow).
WATCH_SECONDS = 0.5
RESTART_DELAY_SECONDS = 1.0
STOP_GRACE_SECONDS = 15.0
_PR_SET_PDEATHSIG = 1

# What a worker runs: its index (1, 2, ...), the address to listen on (host, port) and the
# primary's pid.
Address = tuple[str, int]
WorkerMain = Callable[[int, Address, int], None]


def worker_count(configured: int, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The number of HTTP worker processes: as configured, or (0) one per usable core, within
    the container's CPU quota when it has one (Kubernetes' `limits.cpu`: a pod limited to one
    CPU on an eight-core node runs one worker, not eight)."""
    if configured > 0:
        return configured
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        cores = max(1, os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to respect
    return cores


def claim_port(host: str, port: int) -> None:
    """OSError (address in use) when something already listens on host:port. Sockets with
    SO_REUSEPORT would share the port with another process of the same user (a second copy
    of the service, another test session) instead of failing; the primary asks this first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        # SO_REUSEADDR: connections of a previous run in TIME_WAIT do not count, a listener
        # does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket of one worker process. Each worker listens on a socket
    of its own on the same port (SO_REUSEPORT), and Linux spreads new connections evenly
    among them: with one shared socket, whichever process woke first took a whole burst of
    connections (asyncio accepts up to the backlog at one wake-up) while the other idled."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only
    # on connections whose socket says TCP, and accepted connections inherit the listening
    # socket's. With Nagle on, an answer written in two pieces (headers, then body) waited
    # for the client's delayed ACK: 40 ms on every request (bench/bookings.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    return sock


@contextlib.contextmanager
def shared_metrics(name: str) -> Iterator[None]:
    """A metrics folder for every process of the service, for the block; call before the
    service's modules (and prometheus_client) are imported."""
    folder = tempfile.mkdtemp(prefix=f"yz-{name}-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(METRICS_DIR_VARIABLE, None)


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the primary (`parent`) dies without stopping it
    first (a stopping primary stops its workers gracefully before it exits), so that no
    orphaned worker keeps the port while the service is started again. A primary that died
    before this was asked is noticed here: the worker is already someone else's child."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


@contextlib.asynccontextmanager
async def other_workers(
    name: str, count: int, address: Address, main: WorkerMain
) -> AsyncIterator[None]:
    """Workers 1 to count-1 of `main` on `address` for the life of the block (a component of
    the primary): each one that dies is started again; all are stopped at the end."""
    context = multiprocessing.get_context("spawn")

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=main,
            args=(index, address, os.getpid()),
            name=f"yz-{name}-worker-{index}",
            daemon=False,
        )
        process.start()
        return process

    workers = {index: start(index) for index in range(1, count)}
    log.info("HTTP workers started", extra={"workers": count})

    async def watch() -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            for index, process in list(workers.items()):
                if process.is_alive():
                    continue
                log.error(
                    "worker stopped; starting it again",
                    extra={"worker": index, "exitcode": process.exitcode},
                )
                _forget_metrics(process.pid)
                await asyncio.sleep(RESTART_DELAY_SECONDS)
                workers[index] = start(index)

    watcher = asyncio.create_task(watch(), name="workers")
    try:
        yield
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for process in workers.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        await asyncio.to_thread(_join_all, list(workers.values()))
        log.info("HTTP workers stopped")


def _join_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


def _forget_metrics(pid: int | None) -> None:
    """Drop a dead worker's live gauges from the shared metrics."""
    if pid is None or METRICS_DIR_VARIABLE not in os.environ:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
