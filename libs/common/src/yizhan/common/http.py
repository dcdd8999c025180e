"""The HTTP app every service starts from: health, readiness, metrics, problem JSON errors.

Readiness checks only what the service cannot work without (its database, the broker of an
ingesting process). gRPC peers are probed beside it and reported as `degraded`, in the body and
as `yz_peer_up` in /metrics, but never make the service unready: behind a load balancer a hung
peer must not take a healthy service out of rotation (CONTRACT §1)."""

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from yizhan.common import tracing
from yizhan.common.csrf import CrossSiteRequestMiddleware
from yizhan.common.rpc import GrpcTls, check_peer
from yizhan.common.security_headers import SecurityHeadersMiddleware
from yizhan.common.storable_text import StorableTextMiddleware
from yizhan.common.workers import METRICS_DIR_VARIABLE

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
READINESS_TIMEOUT_SECONDS = 2.0
# A peer that does not say SERVING within this is reported degraded (kept short: a hung peer
# must not make /readyz itself slow).
PEER_TIMEOUT_SECONDS = 0.5

HTTP_REQUESTS = Counter(
    "yz_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("yz_http_request_seconds", "HTTP request latency", ["method", "route"])
# With several worker processes (workers.py), the latest probe of any of them says.
PEER_UP = Gauge(
    "yz_peer_up",
    "1 when a gRPC peer answered its last health probe",
    ["peer"],
    multiprocess_mode="mostrecent",
)


# Stable machine-readable `code`s of problem responses, by status, for errors that have no
# more specific one (a service raises `Problem` with its own code, e.g. `slot_taken`).
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_input",
    429: "too_many_requests",
    503: "unavailable",
}
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid input",
    429: "Too many requests",
    503: "Service unavailable",
}


def title_of(status: int) -> str:
    """The problem title of a status."""
    return _TITLES.get(status, "Error")


def problem(
    status: int, title: str, detail: str | None = None, *, code: str | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem response with a stable `code` (by default, the status's)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body["code"] = code or _CODES.get(status, "error")
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class Problem(HTTPException):
    """An HTTP error with a code of its own (`stations_unavailable`, `slot_taken`, ...)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, detail=detail, headers=headers)
        self.code = code


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Validation errors as [{"field": "body.phone", "message": "..."}]."""
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        errors.append({"field": ".".join(location), "message": str(error.get("msg", "invalid"))})
    return errors


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Starlette's own (an unmatched route, a wrong method) as well as FastAPI's.
    assert isinstance(exc, StarletteHTTPException)
    code = exc.code if isinstance(exc, Problem) else None
    title = title_of(exc.status_code)
    if isinstance(exc.detail, str):
        response = problem(exc.status_code, title, exc.detail, code=code)
    else:
        response = problem(exc.status_code, title, None, code=code, errors=exc.detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _validation_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem(422, "Invalid input", "some fields are invalid", errors=field_errors(exc))


class MetricsMiddleware:
    """Counts requests and latency per route template (not per raw path, to bound labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)  # type: ignore[arg-type]

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, template, str(status_holder["status"])).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - started)


class TraceMiddleware:
    """Every request runs in a trace: the caller's (a valid `traceparent` header) or a new
    one; the response says which, in its own `traceparent` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or ()).get(tracing.HEADER.encode())
        trace = tracing.continue_trace(sent.decode("latin-1") if sent else None)

        async def send_wrapper(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", ()),
                    (b"traceparent", trace.traceparent.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)  # type: ignore[arg-type]

        with tracing.traced(trace):
            await self.app(scope, receive, send_wrapper)


def create_http_app(
    *,
    title: str,
    description: str,
    readiness: Mapping[str, ReadinessCheck],
    peers: Mapping[str, str] | None = None,
    peer_tls: GrpcTls | None = None,
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz (running `readiness`; `peers`, name -> gRPC
    address, reached with `peer_tls` when set, reported as degraded when down), /metrics and
    problem JSON."""
    # FastAPI's OpenTelemetry bridge off: requests are traced and counted by our own
    # middlewares below, and its check for a configured provider cost every request time.
    app = FastAPI(
        title=title,
        description=description,
        version="1",
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(StorableTextMiddleware)
    app.add_middleware(CrossSiteRequestMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(TraceMiddleware)  # added last: outermost, so everything is traced
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_exception)
    peer_addresses = dict(peers or {})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results, peer_states = await asyncio.gather(
            asyncio.gather(*(_run_check(check) for check in readiness.values())),
            probe_peers(peer_addresses, peer_tls),
        )
        checks = dict(zip(readiness.keys(), results, strict=True))
        down = [name for name, result in checks.items() if result != "ok"]
        degraded = [name for name, result in peer_states.items() if result != "ok"]
        body = {
            "status": "not_ready" if down else "ready",
            "down": down,
            "checks": checks,
            "degraded": degraded,
            "peers": peer_states,
        }
        return JSONResponse(body, status_code=503 if down else 200)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await probe_peers(peer_addresses, peer_tls)
        return Response(current_metrics(), media_type=CONTENT_TYPE_LATEST)

    return app


def current_metrics() -> bytes:
    """The Prometheus text of this process, or of every worker process of the service when
    they share a metrics folder (workers.py)."""
    if not os.environ.get(METRICS_DIR_VARIABLE):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


async def probe_peers(peers: Mapping[str, str], tls: GrpcTls | None = None) -> dict[str, str]:
    """Each peer's gRPC health, "ok" or why not; sets `yz_peer_up` (never raises)."""

    async def probe(address: str) -> str:
        return await _run_check(lambda: check_peer(address, PEER_TIMEOUT_SECONDS, tls))

    results = await asyncio.gather(*(probe(address) for address in peers.values()))
    states = dict(zip(peers.keys(), results, strict=True))
    for name, state in states.items():
        PEER_UP.labels(name).set(1 if state == "ok" else 0)
    return states


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), READINESS_TIMEOUT_SECONDS)
    except Exception as exc:  # a readiness probe reports any failure, it never raises
        return f"down: {type(exc).__name__}: {exc}"[:300]
    return "ok"
