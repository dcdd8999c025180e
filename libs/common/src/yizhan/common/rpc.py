"""gRPC plumbing every service shares: the server with health, reflection and the service
credential, and client channels that present that credential. Over TLS (mutual TLS as an
option) when certificates are configured; plain gRPC only on loopback."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from yizhan.common import tracing
from yizhan.common.storable_text import StorableTextInterceptor

log = logging.getLogger(__name__)

SERVICE_TOKEN_HEADER = "x-yz-service-token"  # noqa: S105 (a header name)
# Health and reflection stay open: probes and grpcurl carry no service credential.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
GRACE_SECONDS = 5.0

# The servicer context type of our unary handlers (a string: grpc does not subscript at run time).
ServicerContext: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


@dataclass(frozen=True)
class GrpcTls:
    """Certificates for gRPC between services: this service's certificate and key (served,
    and presented to peers), the CA that signed the peers', and whether a server demands a
    client certificate (mutual TLS)."""

    cert: Path
    key: Path
    ca: Path
    require_client_cert: bool = False

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials of a listening server."""
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.ca.read_bytes() if self.require_client_cert else None,
            require_client_auth=self.require_client_cert,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials of a client: trust the CA, present our certificate (for mutual TLS)."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=self.key.read_bytes(),
            certificate_chain=self.cert.read_bytes(),
        )


def is_loopback(host: str) -> bool:
    """Whether a host name or address stays on this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(address: str) -> str:
    return address.rsplit(":", 1)[0] if ":" in address else address


def _refuse_plain_beyond_loopback(host: str, what: str) -> None:
    # Service tokens and operators' data cross here: in clear only inside one machine.
    if not is_loopback(host):
        raise RuntimeError(
            f"plain gRPC {what} {host} is refused beyond loopback: set YZ_GRPC_TLS_CERT, "
            "YZ_GRPC_TLS_KEY and YZ_GRPC_TLS_CA (docs/deploy.md)"
        )


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
        handler = await continuation(handler_call_details)
        return _traced(handler, metadata.get(tracing.HEADER))


def _traced(
    handler: grpc.RpcMethodHandler[Any, Any] | None, traceparent: object
) -> grpc.RpcMethodHandler[Any, Any] | None:
    """The handler, run inside the caller's trace (our RPCs are all unary-unary)."""
    if handler is None or handler.unary_unary is None:
        return handler
    behaviour: Callable[..., Awaitable[Any]] = handler.unary_unary
    trace = tracing.continue_trace(traceparent if isinstance(traceparent, str) else None)

    async def run(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        with tracing.traced(trace):
            return await behaviour(request, context)

    return grpc.unary_unary_rpc_method_handler(
        run,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


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
    tls: GrpcTls | None = None,
) -> tuple[grpc.aio.Server, health.HealthServicer]:
    """Start a grpc.aio server with our services, health (SERVING) and reflection; over TLS
    when `tls` is given, else only on a loopback address."""
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
    if tls is None:
        _refuse_plain_beyond_loopback(host, "on")
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, tls.server_credentials())
    if bound == 0:
        raise RuntimeError(f"cannot bind gRPC to {address}")
    await server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "gRPC listening",
        extra={"address": address, "services": list(service_names), "tls": tls is not None},
    )
    return server, health_servicer


async def stop_server(server: grpc.aio.Server, health_servicer: health.HealthServicer) -> None:
    """Say NOT_SERVING, then let calls in flight finish within the grace period."""
    health_servicer.enter_graceful_shutdown()
    await server.stop(GRACE_SECONDS)


@contextlib.asynccontextmanager
async def server_component(
    *,
    host: str,
    port: int,
    service_token: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    tls: GrpcTls | None = None,
) -> AsyncIterator[None]:
    """The gRPC server as a component of `serve_until_stopped`: serving inside the block,
    drained (NOT_SERVING, then the grace period) when it ends."""
    server, health_servicer = await start_server(
        host=host,
        port=port,
        service_token=service_token,
        register=register,
        service_names=service_names,
        tls=tls,
    )
    try:
        yield
    finally:
        await stop_server(server, health_servicer)


def _credential(token: str) -> tuple[tuple[str, str], ...]:
    return ((SERVICE_TOKEN_HEADER, token),)


class _AioCredentialInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = _credential(token)

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        # The credential, and the current trace (W3C traceparent) when there is one.
        metadata = [
            *(client_call_details.metadata or ()),
            *self._metadata,
            *tracing.outgoing_metadata(),
        ]
        details = client_call_details._replace(metadata=metadata)
        return await continuation(details, request)


class _SyncCredentialInterceptor(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self._metadata = _credential(token)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        metadata = [
            *(client_call_details.metadata or ()),
            *self._metadata,
            *tracing.outgoing_metadata(),
        ]
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


def _aio_channel(
    address: str, tls: GrpcTls | None, interceptors: Sequence[Any] = ()
) -> grpc.aio.Channel:
    if tls is None:
        _refuse_plain_beyond_loopback(_host_of(address), "to")
        return grpc.aio.insecure_channel(address, interceptors=interceptors)
    return grpc.aio.secure_channel(address, tls.channel_credentials(), interceptors=interceptors)


def aio_channel(address: str, service_token: str, tls: GrpcTls | None = None) -> grpc.aio.Channel:
    """An asyncio channel to a peer service that presents the service credential."""
    return _aio_channel(address, tls, [_AioCredentialInterceptor(service_token)])


def sync_channel(address: str, service_token: str, tls: GrpcTls | None = None) -> grpc.Channel:
    """A blocking channel (for worker threads) that presents the service credential."""
    if tls is None:
        _refuse_plain_beyond_loopback(_host_of(address), "to")
        channel = grpc.insecure_channel(address)
    else:
        channel = grpc.secure_channel(address, tls.channel_credentials())
    return grpc.intercept_channel(channel, _SyncCredentialInterceptor(service_token))


async def check_peer(
    address: str, deadline_seconds: float = 1.0, tls: GrpcTls | None = None
) -> None:
    """Raise unless the peer's gRPC health service says SERVING."""
    async with _aio_channel(address, tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        reply = await stub.Check(request, timeout=deadline_seconds)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"{address} is not serving")
