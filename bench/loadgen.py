"""The load generator of the HTTP benchmarks: requests offered at a fixed rate (open loop:
latency counts from when a request was due, so a server that falls behind shows it as latency
instead of quietly receiving fewer requests) or all at once (a burst: many workers tapping
"book" at the same moment), from several processes, because one Python process on a small
machine runs out of CPU before a fast server does (the baseline round shows where that limit
is).

Two clients behind one interface (CLIENTS), checked against each other by
tests/bench/test_loadgen.py:
- "aiohttp", the library path (aiohttp, not httpx: it costs the generator several times less
  CPU per request);
- "lean", the default: each request encoded to its bytes before the round starts, written on a
  plain asyncio connection and its answer parsed by httptools (the parser uvicorn uses). The
  generator runs on the same cores as the server it measures, and aiohttp needed about 0.3 ms
  of CPU per request there, more than the bare framework's answer itself (docs/performance.md,
  fifth round): what a phone spends on its own request is not the server's latency.

Connections are kept alive for at most KEEPALIVE_SECONDS, well under the server's keep-alive
timeout (uvicorn: 5 s): a pooled connection is never reused just as the server closes it,
which is what made the old benchmark die with ReadError between rounds."""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import time
import typing
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httptools
import psutil
import uvloop

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


class AiohttpClient:
    """The library path: aiohttp's pooled client session."""

    def __init__(self, base_url: str, connections: int) -> None:
        self._base_url = base_url
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "AiohttpClient":
        connector = aiohttp.TCPConnector(
            limit=self._connections, keepalive_timeout=KEEPALIVE_SECONDS, force_close=False
        )
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        self._session = aiohttp.ClientSession(self._base_url, connector=connector, timeout=timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    def prepare(self, call: Call) -> Call:
        return call

    async def send(self, call: Call) -> tuple[int, bytes]:
        """The answer's status and body; ConnectionError when there is none."""
        assert self._session is not None
        try:
            async with self._session.request(
                call.method,
                call.path,
                json=call.body,
                headers=call.headers,
                params=call.params or None,
            ) as reply:
                return reply.status, await reply.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConnectionError(str(exc)) from exc


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection of the lean client: one request at a time, its answer parsed
    by httptools."""

    def __init__(self) -> None:
        # When it last became idle (monotonic clock): the server closes it 5 s after that.
        self.idle_since = time.monotonic()
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._body = bytearray()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.bind(transport)

    def bind(self, transport: asyncio.BaseTransport) -> None:
        """Its transport (uvloop may call connection_made only after create_connection has
        returned it)."""
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"unreadable answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("closed before the answer was complete"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((status, bytes(self._body), self._parser.should_keep_alive()))

    def _fail(self, exc: ConnectionError) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Write `request`; its answer's status, body and whether the connection may be used
        again."""
        assert self._transport is not None
        if self._transport.is_closing():
            raise ConnectionError("closed")
        self._answer = asyncio.get_running_loop().create_future()
        self._body = bytearray()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class LeanClient:
    """Requests encoded before the round, written on plain connections reused while idle
    for less than KEEPALIVE_SECONDS (as AiohttpClient's are) and read by httptools."""

    def __init__(self, base_url: str, connections: int) -> None:
        address = urllib.parse.urlsplit(base_url)
        if address.scheme != "http" or address.hostname is None:
            raise ValueError(f"the lean client speaks plain http only: {base_url}")
        self._host = address.hostname
        self._port = address.port or 80
        self._authority = address.netloc
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def __aenter__(self) -> "LeanClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        for connection in self._open:
            connection.close()

    def prepare(self, call: Call) -> bytes:
        """The request's bytes (what aiohttp would send, less the headers no server reads
        here)."""
        target = call.path
        if call.params:
            target += "?" + urllib.parse.urlencode(call.params)
        body = b"" if call.body is None else json.dumps(call.body).encode()
        lines = [f"{call.method} {target} HTTP/1.1", f"Host: {self._authority}"]
        if call.body is not None:
            lines.append("Content-Type: application/json")
        if call.body is not None or call.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name}: {value}" for name, value in call.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """The answer's status and body; ConnectionError when there is none."""
        connection = self._idle_connection() or await self._connect()
        try:
            status, body, reusable = await asyncio.wait_for(
                connection.exchange(request), REQUEST_TIMEOUT_SECONDS
            )
        except (ConnectionError, TimeoutError) as exc:
            self._discard(connection)
            raise ConnectionError(str(exc)) from exc
        if reusable:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            self._discard(connection)
        return status, body

    async def _connect(self) -> _Connection:
        try:
            transport, connection = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(_Connection, self._host, self._port),
                REQUEST_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(str(exc)) from exc
        connection.bind(transport)
        self._open.add(connection)
        return connection

    def _idle_connection(self) -> _Connection | None:
        """The most recently used idle connection still well within its keep-alive time."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since < KEEPALIVE_SECONDS:
                return connection
            self._discard(connection)
        return None

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)


CLIENTS: dict[str, type[AiohttpClient] | type[LeanClient]] = {
    "lean": LeanClient,
    "aiohttp": AiohttpClient,
}
DEFAULT_CLIENT = "lean"


def _body_status(status: int, raw: bytes) -> str | None:
    """The `status` field of a JSON answer of 200/201, if any."""
    if status in (200, 201) and raw[:1] == b"{" and b'"status"' in raw:
        found = json.loads(raw).get("status")
        return found if isinstance(found, str) else None
    return None


async def _run_share(
    client: AiohttpClient | LeanClient, share: list[tuple[float, Call]]
) -> list[Any]:
    outcomes: list[Any] = []
    # Encoded before the first request is due: preparing is not what a round measures.
    prepared = [(due, client.prepare(call)) for due, call in share]

    async def one(due: float, request: Any) -> None:
        try:
            status, raw = await client.send(request)
        except ConnectionError:
            outcomes.append((time.monotonic() - due, 0, None))
            return
        outcomes.append((time.monotonic() - due, status, _body_status(status, raw)))

    async with client:
        tasks = []
        for due, request in prepared:
            # One task per request, created when it is due (never thousands asleep at once).
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, request)))
        await asyncio.gather(*tasks)
    return outcomes


def _process_main(
    client: str,
    base_url: str,
    calls: Sequence[Call],
    rate: float | None,
    start: float,
    part: int,
    parts: int,
) -> list[Any]:
    """Entry of one generator process."""
    share = _share(calls, rate, start, part, parts)
    connections = max(1, len(share) if rate is None else 1000)
    # uvloop, as the services run: the generator's own event loop costs it less CPU.
    return uvloop.run(_run_share(CLIENTS[client](base_url, connections), share))


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """--generators and --client, as every HTTP benchmark takes them."""
    parser.add_argument(
        "--generators", type=int, default=os.cpu_count() or 1, help="load generator processes"
    )
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default=DEFAULT_CLIENT, help="the generator's client"
    )


def _ready() -> int:
    return os.getpid()


class LoadGenerator:
    """A pool of generator processes, started once and reused for every round."""

    def __init__(self, processes: int, client: str = DEFAULT_CLIENT) -> None:
        if client not in CLIENTS:
            raise ValueError(f"unknown client {client!r}: one of {sorted(CLIENTS)}")
        self.processes = processes
        self.client = client
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
            self._pool.submit(
                _process_main, self.client, base_url, calls, rate, start, part, self.processes
            )
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
