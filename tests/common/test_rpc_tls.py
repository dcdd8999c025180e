"""gRPC between services over TLS (libs/common/rpc.py): a TLS server answers a client that
trusts its CA and no plain client; with mutual TLS, only a client presenting a certificate of
that CA; and plain gRPC is refused anywhere but loopback, on both ends."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from yizhan.common import rpc
from yizhan.common.settings import CommonSettings
from yizhan.devstack.processes import free_port
from yizhan.devstack.tls import DevTls, ensure_dev_tls

TOKEN = "rpc-tls-test-token"


@pytest.fixture(scope="module")
def dev_tls(tmp_path_factory: pytest.TempPathFactory) -> DevTls:
    return ensure_dev_tls(tmp_path_factory.mktemp("grpc-ca"), ["localhost", "stations"])


def _tls(dev_tls: DevTls, mutual: bool = False) -> rpc.GrpcTls:
    return rpc.GrpcTls(dev_tls.server.cert, dev_tls.server.key, dev_tls.ca_cert, mutual)


def _with_server(
    tls: rpc.GrpcTls | None, host: str, check: Callable[[str], Awaitable[None]]
) -> None:
    async def scenario() -> None:
        port = free_port()
        server, health = await rpc.start_server(
            host=host,
            port=port,
            service_token=TOKEN,
            register=lambda _server: None,
            service_names=[],
            tls=tls,
        )
        try:
            await check(f"localhost:{port}")
        finally:
            await rpc.stop_server(server, health)

    asyncio.run(scenario())


def test_a_tls_server_answers_clients_trusting_its_ca_only(dev_tls: DevTls) -> None:
    async def check(address: str) -> None:
        await rpc.check_peer(address, tls=_tls(dev_tls))
        with pytest.raises(grpc.aio.AioRpcError):
            await rpc.check_peer(address, deadline_seconds=2)
        stranger = ensure_dev_tls(dev_tls.folder.parent / "stranger-ca")
        with pytest.raises(grpc.aio.AioRpcError):
            await rpc.check_peer(address, deadline_seconds=2, tls=_tls(stranger))

    _with_server(_tls(dev_tls), "127.0.0.1", check)


def test_mutual_tls_demands_a_client_certificate(dev_tls: DevTls) -> None:
    async def check(address: str) -> None:
        # A client that presents our certificate gets in...
        await rpc.check_peer(address, tls=_tls(dev_tls))
        # ...one that only trusts the CA does not.
        anonymous = grpc.ssl_channel_credentials(root_certificates=dev_tls.ca_cert.read_bytes())
        async with grpc.aio.secure_channel(address, anonymous) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)

    _with_server(_tls(dev_tls, mutual=True), "127.0.0.1", check)


def test_tls_server_may_listen_beyond_loopback(dev_tls: DevTls) -> None:
    async def check(address: str) -> None:
        await rpc.check_peer(address, tls=_tls(dev_tls))

    _with_server(_tls(dev_tls), "0.0.0.0", check)


def test_plain_grpc_is_refused_beyond_loopback() -> None:
    async def never(address: str) -> None:
        raise AssertionError("a plain server started on 0.0.0.0")

    with pytest.raises(RuntimeError, match="refused beyond loopback"):
        _with_server(None, "0.0.0.0", never)
    with pytest.raises(RuntimeError, match="refused beyond loopback"):
        rpc.sync_channel("stations:50101", TOKEN)
    with pytest.raises(RuntimeError, match="refused beyond loopback"):
        asyncio.run(rpc.check_peer("10.0.0.5:50101"))
    rpc.sync_channel("127.0.0.1:50101", TOKEN).close()
    rpc.sync_channel("localhost:50101", TOKEN).close()


def test_settings_give_the_certificates_all_or_none(tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("cert", "key", "ca")}
    settings = CommonSettings(
        grpc_tls_cert=files["cert"], grpc_tls_key=files["key"], grpc_tls_ca=files["ca"]
    )
    assert settings.grpc_tls() == rpc.GrpcTls(files["cert"], files["key"], files["ca"])
    assert CommonSettings().grpc_tls() is None
    with pytest.raises(ValueError, match="YZ_GRPC_TLS_CA"):
        CommonSettings(grpc_tls_cert=files["cert"], grpc_tls_key=files["key"])
