"""Serving HTTP from several worker processes: one Python process uses one core, so a service
that must answer a rush (bookings, issue 16) runs one process per core, all accepting on the
same listening socket (the kernel hands each connection to whichever process takes it first).

The process started by `serve` becomes a small supervisor: it binds the socket, starts the
workers (fresh interpreters, `spawn`), restarts one that dies, and stops them all on
SIGINT/SIGTERM. Worker 0 is the primary: it alone runs what must run once per service (the gRPC
server, sweeps); every worker serves HTTP. Metrics are shared through prometheus_client's
multiprocess mode (a folder of files, PROMETHEUS_MULTIPROC_DIR, set before any worker starts),
so /metrics answers for the whole service whichever worker it reaches."""

import contextlib
import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

log = logging.getLogger(__name__)

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
LISTEN_BACKLOG = 2048
# A worker that dies is started again after this pause (a crash loop stays slow).
RESTART_DELAY_SECONDS = 1.0
STOP_GRACE_SECONDS = 15.0
_PR_SET_PDEATHSIG = 1

# What a worker runs: its index (0 is the primary) and the shared listening socket.
WorkerMain = Callable[[int, socket.socket], None]


def worker_count(configured: int) -> int:
    """The number of HTTP worker processes: as configured, or (0) one per usable core."""
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket the workers share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def die_with_parent() -> None:
    """Ask Linux to stop this process when its supervisor goes (even by SIGKILL), so that no
    orphaned worker keeps the port."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(name: str, count: int, host: str, port: int, main: WorkerMain) -> None:
    """Run `count` workers of `main` on one socket until SIGINT/SIGTERM; restart any that
    dies meanwhile. Blocks; returns once every worker has stopped."""
    sock = listening_socket(host, port)
    metrics_dir = tempfile.mkdtemp(prefix=f"yz-{name}-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = metrics_dir
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=main, args=(index, sock), name=f"yz-{name}-worker-{index}", daemon=False
        )
        process.start()
        return process

    workers = {index: start(index) for index in range(count)}
    log.info("HTTP workers started", extra={"workers": count, "address": f"{host}:{port}"})
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in list(workers.items()):
                if process.is_alive() or stopping:
                    continue
                log.error(
                    "worker stopped; starting it again",
                    extra={"worker": index, "exitcode": process.exitcode},
                )
                _forget_metrics(process.pid)
                time.sleep(RESTART_DELAY_SECONDS)
                workers[index] = start(index)
    finally:
        for process in workers.values():
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in workers.values():
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop(METRICS_DIR_VARIABLE, None)
    log.info("HTTP workers stopped")


def _forget_metrics(pid: int | None) -> None:
    """Drop a dead worker's live gauges from the shared metrics."""
    if pid is None or METRICS_DIR_VARIABLE not in os.environ:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
