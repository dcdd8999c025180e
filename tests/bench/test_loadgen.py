"""The load generator's two clients (bench/loadgen.py) against one real HTTP server: the lean
client, written for speed, must record what the aiohttp client (the library path) records for
the same calls: statuses, the `status` field of JSON answers, what was sent (body, headers,
query), answers without a length (chunked), a server that closes the connection, kept-alive
connections reused in a paced round, and no answer at all."""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bench.loadgen import CLIENTS, Call, LoadGenerator
from yizhan.devstack.processes import free_port

# The client port of every request the server answered (whether connections were reused).
CLIENT_PORTS: list[int] = []


async def echo(request: Request) -> Response:
    """Answers with the status asked for, naming what it received in `status`."""
    CLIENT_PORTS.append(request.client.port if request.client else 0)
    body = await request.json()
    seen = f"{body['say']}|{request.headers.get('idempotency-key')}|{request.query_params.get('q')}"
    return JSONResponse({"status": seen}, status_code=body["answer"])


async def chunked(request: Request) -> Response:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b'{"sta', b'tus": "str', b'eamed"}'):
            yield piece
            await asyncio.sleep(0)

    return StreamingResponse(pieces(), media_type="application/json")


async def closing(request: Request) -> Response:
    return JSONResponse({"status": "closed"}, headers={"Connection": "close"})


async def plain(request: Request) -> Response:
    return Response(b'{"status": "not json"', status_code=404, media_type="text/plain")


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["POST"]),
        Route("/chunked", chunked),
        Route("/closing", closing),
        Route("/plain", plain),
    ]
)

CALLS = [
    Call("POST", "/echo", {"say": "made", "answer": 201}, {"Idempotency-Key": "k1"}),
    Call("POST", "/echo", {"say": "taken", "answer": 409}, {"Idempotency-Key": "k2"}),
    Call("POST", "/echo", {"say": "fine", "answer": 200}, params={"q": "川"}),
    Call("POST", "/echo", {"say": "wrong", "answer": 422}),
    Call("GET", "/chunked"),
    Call("GET", "/closing"),
    Call("GET", "/plain"),
]
EXPECTED = [
    (201, "made|k1|None"),
    (409, None),
    (200, "fine|None|川"),
    (422, None),
    (200, "streamed"),
    (200, "closed"),
    (404, None),
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(APP, port=port, log_level="warning", access_log=False, timeout_keep_alive=5)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module", params=sorted(CLIENTS))
def generator(request: pytest.FixtureRequest) -> Iterator[LoadGenerator]:
    generator = LoadGenerator(1, request.param)
    yield generator
    generator.close()


def _answers(generator: LoadGenerator, base_url: str, rate: float | None) -> list[object]:
    round_ = generator.run(base_url, CALLS * 4, rate)
    return sorted(((o.status, o.body_status) for o in round_.outcomes), key=repr)


def test_a_burst_records_what_was_answered(generator: LoadGenerator, base_url: str) -> None:
    assert _answers(generator, base_url, None) == sorted(EXPECTED * 4, key=repr)


def test_a_paced_round_reuses_kept_alive_connections(
    generator: LoadGenerator, base_url: str
) -> None:
    CLIENT_PORTS.clear()
    assert _answers(generator, base_url, 200.0) == sorted(EXPECTED * 4, key=repr)
    # 16 echoes 5 ms apart, each answered long before the next: a few connections at most
    # (a connection the server closed, /closing's, is not reused).
    assert len(CLIENT_PORTS) == 16
    assert len(set(CLIENT_PORTS)) <= 4


def test_no_server_is_no_answer(generator: LoadGenerator) -> None:
    round_ = generator.run(f"http://127.0.0.1:{free_port()}", CALLS[:3], None)
    assert [o.status for o in round_.outcomes] == [0, 0, 0]
    assert round_.figures()["no_answer"] == 3
