"""Operator accounts as they are now, cached briefly: how every service makes a token act
with its operator's current role and districts, and refuses it once the account is gone or
its password changed.

Stations owns the accounts and reads them from its database on every request (no cache: its
own changes count at once). Telemetry and bookings ask stations over gRPC
(`GetOperatorAccount`) and keep an answer for `ttl_seconds` (YZ_ACCOUNT_CACHE_SECONDS,
default 5): the bound on how long a change takes to reach them."""

import time
from collections.abc import Awaitable, Callable

import grpc

from yizhan.api.stations.v1 import stations_pb2, stations_pb2_grpc
from yizhan.common.auth import ROLES, Operator

AccountFetch = Callable[[str], Awaitable[Operator | None]]
CALL_TIMEOUT_SECONDS = 2.0
# Names kept at most; beyond it the cache starts over (a flood of made-up names cannot grow it).
MAX_ENTRIES = 10_000


class CachedAccountVersions:
    """AccountVersions in front of a fetch (a database query or a gRPC call)."""

    def __init__(self, fetch: AccountFetch, ttl_seconds: float) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, Operator | None]] = {}

    async def account_of(self, username: str) -> Operator | None:
        """The account, at most `ttl_seconds` old."""
        now = time.monotonic()
        entry = self._entries.get(username)
        if entry is not None and now - entry[0] < self._ttl:
            return entry[1]
        account = await self._fetch(username)
        if self._ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[username] = (now, account)
        return account


def stations_account_fetch(
    stub: "stations_pb2_grpc.StationDirectoryAsyncStub",
    unavailable: Callable[[grpc.aio.AioRpcError], Exception],
) -> AccountFetch:
    """A fetch asking stations' GetOperatorAccount; `unavailable` makes the service's own
    error (a 503) when stations does not answer (a token is never accepted unchecked)."""

    async def fetch(username: str) -> Operator | None:
        request = stations_pb2.GetOperatorAccountRequest(username=username)
        try:
            reply = await stub.GetOperatorAccount(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise unavailable(exc) from exc
        role = next((r for r in ROLES if r == reply.role), None)
        if role is None:
            return None  # a role this version does not know: no access rather than a guess
        return Operator(reply.username, role, tuple(reply.districts), reply.version)

    return fetch
