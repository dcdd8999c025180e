"""gRPC plumbing every service shares: the server with health, reflection and the service
credential, and client channels that present that credential."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from yizhan.common.storable_text import StorableTextInterceptor

log = logging.getLogger(__name__)

SERVICE_TOKEN_HEADER = "x-yz-service-token"  # noqa: S105 (a header name)
# Health and reflection stay open: probes and grpcurl carry no service credential.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
GRACE_SECONDS = 5.0

# The servicer context type of our unary handlers (a string: grpc does not subscript at run time).
ServicerContext: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class ServiceTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls that do not carry the shared service credential."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        if method.startswith(_OPEN_PREFIXES):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        presented = metadata.get(SERVICE_TOKEN_HEADER)
        # Constant-time: the comparison must not tell a caller how much of a guess was right.
        if not isinstance(presented, str) or not hmac.compare_digest(
            presented.encode(), self._token.encode()
        ):
            log.warning("refused gRPC call without service credential", extra={"method": method})
            return _refusal_handler()
        return await continuation(handler_call_details)


def _refusal_handler() -> grpc.RpcMethodHandler[Any, Any]:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "service credential required")

    return grpc.unary_unary_rpc_method_handler(refuse)


async def start_server(
    *,
    host: str,
    port: int,
    service_token: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
) -> tuple[grpc.aio.Server, health.HealthServicer]:
    """Start a grpc.aio server with our services, health (SERVING) and reflection."""
    server = grpc.aio.server(
        interceptors=[ServiceTokenInterceptor(service_token), StorableTextInterceptor()]
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    address = f"{host}:{port}"
    if server.add_insecure_port(address) == 0:
        raise RuntimeError(f"cannot bind gRPC to {address}")
    await server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC listening", extra={"address": address, "services": list(service_names)})
    return server, health_servicer


async def stop_server(server: grpc.aio.Server, health_servicer: health.HealthServicer) -> None:
    """Say NOT_SERVING, then let calls in flight finish within the grace period."""
    health_servicer.enter_graceful_shutdown()
    await server.stop(GRACE_SECONDS)


def _credential(token: str) -> tuple[tuple[str, str], ...]:
    return ((SERVICE_TOKEN_HEADER, token),)


class _AioCredentialInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = _credential(token)

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        metadata = list(client_call_details.metadata or ()) + list(self._metadata)
        details = client_call_details._replace(metadata=metadata)
        return await continuation(details, request)


class _SyncCredentialInterceptor(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = _credential(token)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        metadata = list(client_call_details.metadata or ()) + list(self._metadata)
        details = _SyncCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
            client_call_details.compression,
        )
        return continuation(details, request)


class _SyncCallDetails(grpc.ClientCallDetails):
    def __init__(
        self,
        method: str,
        timeout: float | None,
        metadata: Any,
        credentials: Any,
        wait_for_ready: bool | None,
        compression: Any,
    ) -> None:
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


def aio_channel(address: str, service_token: str) -> grpc.aio.Channel:
    """An asyncio channel to a peer service that presents the service credential."""
    return grpc.aio.insecure_channel(
        address, interceptors=[_AioCredentialInterceptor(service_token)]
    )


def sync_channel(address: str, service_token: str) -> grpc.Channel:
    """A blocking channel (for worker threads) that presents the service credential."""
    return grpc.intercept_channel(
        grpc.insecure_channel(address), _SyncCredentialInterceptor(service_token)
    )


async def check_peer(address: str, deadline_seconds: float = 1.0) -> None:
    """Raise unless the peer's gRPC health service says SERVING."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        reply = await stub.Check(request, timeout=deadline_seconds)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"{address} is not serving")
