"""Account versions, cached briefly: how every service refuses a token once its operator
was disabled, demoted or given a new password.

Stations owns the accounts and reads the version from its database on every request (no
cache: its own changes count at once). Telemetry and bookings ask stations over gRPC
(`GetOperatorAccount`) and keep an answer for `ttl_seconds` (YZ_ACCOUNT_CACHE_SECONDS,
default 5): the bound on how long a changed account's old token still works there."""

import time
from collections.abc import Awaitable, Callable

import grpc

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc

VersionFetch = Callable[[str], Awaitable[int | None]]
CALL_TIMEOUT_SECONDS = 2.0
# Names kept at most; beyond it the cache starts over (a flood of made-up names cannot grow it).
MAX_ENTRIES = 10_000


class CachedAccountVersions:
    """AccountVersions in front of a fetch (a database query or a gRPC call)."""

    def __init__(self, fetch: VersionFetch, ttl_seconds: float) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, int | None]] = {}

    async def version_of(self, username: str) -> int | None:
        """The account's version, at most `ttl_seconds` old."""
        now = time.monotonic()
        entry = self._entries.get(username)
        if entry is not None and now - entry[0] < self._ttl:
            return entry[1]
        version = await self._fetch(username)
        if self._ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[username] = (now, version)
        return version


def stations_version_fetch(
    stub: "stations_pb2_grpc.StationDirectoryAsyncStub",
    unavailable: Callable[[grpc.aio.AioRpcError], Exception],
) -> VersionFetch:
    """A fetch asking stations' GetOperatorAccount; `unavailable` makes the service's own
    error (a 503) when stations does not answer (a token is never accepted unchecked)."""

    async def fetch(username: str) -> int | None:
        request = stations_pb2.GetOperatorAccountRequest(username=username)
        try:
            reply = await stub.GetOperatorAccount(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise unavailable(exc) from exc
        return reply.version

    return fetch
