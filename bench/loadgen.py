"""The load generator of the HTTP benchmarks: requests offered at a fixed rate (open loop:
latency counts from when a request was due, so a server that falls behind shows it as latency
instead of quietly receiving fewer requests) or all at once (a burst: many workers tapping
"book" at the same moment), from several processes, because one Python process on a small
machine runs out of CPU before a fast server does (the baseline round shows where that limit
is). aiohttp, not httpx: it costs the generator several times less CPU per request.

Connections are kept alive for at most KEEPALIVE_SECONDS, well under the server's keep-alive
timeout (uvicorn: 5 s): a pooled connection is never reused just as the server closes it,
which is what made the old benchmark die with ReadError between rounds."""

import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil

KEEPALIVE_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 60.0
# Time for every generator process to be ready before the first request is due.
START_DELAY_SECONDS = 0.5


@dataclass(frozen=True)
class Call:
    """One request to make."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What one request got: seconds from due to answer, HTTP status (0: no answer), and the
    `status` field of a JSON answer (a booking's confirmed / waitlisted), if any."""

    seconds: float
    status: int
    body_status: str | None = None


def _share(calls: Sequence[Call], rate: float | None, start: float, part: int, parts: int) -> Any:
    """This process's calls (every `parts`-th) with their due times (monotonic clock, which
    every process of the machine shares)."""
    return [(start + (i / rate if rate else 0.0), calls[i]) for i in range(part, len(calls), parts)]


async def _run_share(base_url: str, share: list[tuple[float, Call]], connections: int) -> list[Any]:
    outcomes: list[Any] = []
    connector = aiohttp.TCPConnector(
        limit=connections, keepalive_timeout=KEEPALIVE_SECONDS, force_close=False
    )
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:

        async def one(due: float, call: Call) -> None:
            try:
                async with client.request(
                    call.method,
                    call.path,
                    json=call.body,
                    headers=call.headers,
                    params=call.params or None,
                ) as reply:
                    raw = await reply.read()
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError):
                outcomes.append((time.monotonic() - due, 0, None))
                return
            seconds = time.monotonic() - due
            body_status = None
            if status in (200, 201) and raw[:1] == b"{" and b'"status"' in raw:
                found = json.loads(raw).get("status")
                body_status = found if isinstance(found, str) else None
            outcomes.append((seconds, status, body_status))

        tasks = []
        for due, call in share:
            # One task per request, created when it is due (never thousands asleep at once).
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, call)))
        await asyncio.gather(*tasks)
    return outcomes


def _process_main(
    base_url: str, calls: Sequence[Call], rate: float | None, start: float, part: int, parts: int
) -> list[Any]:
    """Entry of one generator process."""
    share = _share(calls, rate, start, part, parts)
    connections = max(1, len(share) if rate is None else 1000)
    return asyncio.run(_run_share(base_url, share, connections))


def _ready() -> int:
    return os.getpid()


class LoadGenerator:
    """A pool of generator processes, started once and reused for every round."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(processes, mp_context=context)
        # Start them now (imports included), not during the first timed round.
        list(self._pool.map(_ready_wait, range(processes)))

    def close(self) -> None:
        """Stop the generator processes."""
        self._pool.shutdown()

    def run(self, base_url: str, calls: Sequence[Call], rate: float | None) -> "Round":
        """Make every call, `rate` a second (None: all at once); the round's outcomes."""
        start = time.monotonic() + START_DELAY_SECONDS
        futures = [
            self._pool.submit(_process_main, base_url, calls, rate, start, part, self.processes)
            for part in range(self.processes)
        ]
        outcomes = [Outcome(*o) for f in futures for o in f.result()]
        return Round(outcomes, offered_per_s=rate, seconds=max(0.001, _span(outcomes, calls, rate)))


def _ready_wait(_: int) -> int:
    # Keeps each worker busy briefly, so that map() lands one call on every process.
    time.sleep(0.2)
    return _ready()


def _span(outcomes: list[Outcome], calls: Sequence[Call], rate: float | None) -> float:
    """Seconds from the first request's due time to the last answer."""
    if not outcomes:
        return 0.0
    # Each outcome's answer came at due + seconds; the last due time is known from the rate.
    if rate is None:
        return max(o.seconds for o in outcomes)
    last_due = (len(calls) - 1) / rate
    return max(last_due, max(o.seconds for o in outcomes))


@dataclass
class Round:
    """The outcomes of one round and their figures."""

    outcomes: list[Outcome]
    offered_per_s: float | None
    seconds: float

    def statuses(self) -> dict[str, int]:
        """How many answers of each HTTP status ("0": no answer)."""
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[str(o.status)] = counts.get(str(o.status), 0) + 1
        return dict(sorted(counts.items()))

    def figures(self) -> dict[str, Any]:
        """Requests, statuses, rate achieved and latency percentiles, for the JSON line."""
        latencies = sorted(o.seconds for o in self.outcomes if o.status)
        statuses = self.statuses()
        return {
            "requests": len(self.outcomes),
            "offered_per_s": self.offered_per_s,
            "statuses": statuses,
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(len(self.outcomes) / self.seconds, 1),
            **percentiles(latencies),
            "server_errors": sum(n for s, n in statuses.items() if s.startswith("5")),
            "no_answer": statuses.get("0", 0),
        }


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 of sorted seconds, in milliseconds."""
    if len(values) < 2:
        only = round(values[0] * 1000, 2) if values else 0.0
        return {"p50_ms": only, "p95_ms": only, "p99_ms": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and every process below it: what a
    request costs the server, whatever else the machine is running (its figure does not
    depend on how busy the machine is, unlike latency)."""
    try:
        root = psutil.Process(pid)
        # Children that have ended (database backends whose connection closed, a restarted
        # worker) count in their parent's children_* times once reaped.
        reaped = root.cpu_times()
        total = reaped.children_user + reaped.children_system
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    except psutil.Error:
        return 0.0
    return total


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (the machine is shared: say how busy)."""
    return [round(x, 2) for x in os.getloadavg()]
