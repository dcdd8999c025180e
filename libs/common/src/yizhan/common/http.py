"""The HTTP app every service starts from: health, readiness, metrics, problem JSON errors."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from yizhan.common.csrf import CrossSiteRequestMiddleware
from yizhan.common.security_headers import SecurityHeadersMiddleware
from yizhan.common.storable_text import StorableTextMiddleware

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
READINESS_TIMEOUT_SECONDS = 2.0

HTTP_REQUESTS = Counter(
    "yz_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("yz_http_request_seconds", "HTTP request latency", ["method", "route"])


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Validation errors as [{"field": "body.phone", "message": "..."}]."""
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        errors.append({"field": ".".join(location), "message": str(error.get("msg", "invalid"))})
    return errors


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = problem(exc.status_code, _title(exc.status_code), detail)
    if not isinstance(exc.detail, str):
        response = problem(exc.status_code, _title(exc.status_code), None, errors=exc.detail)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _validation_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem(422, "Invalid input", "some fields are invalid", errors=field_errors(exc))


def _title(status: int) -> str:
    titles = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict",
        422: "Invalid input",
        429: "Too many requests",
        503: "Service unavailable",
    }
    return titles.get(status, "Error")


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


def create_http_app(
    *, title: str, description: str, readiness: Mapping[str, ReadinessCheck]
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz (running `readiness`), /metrics and problem JSON."""
    app = FastAPI(title=title, description=description, version="1")
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(StorableTextMiddleware)
    app.add_middleware(CrossSiteRequestMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_exception)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run_check(check) for check in readiness.values()))
        checks = dict(zip(readiness.keys(), results, strict=True))
        down = [name for name, result in checks.items() if result != "ok"]
        body = {"status": "not_ready" if down else "ready", "down": down, "checks": checks}
        return JSONResponse(body, status_code=503 if down else 200)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _run_check(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), READINESS_TIMEOUT_SECONDS)
    except Exception as exc:  # a readiness probe reports any failure, it never raises
        return f"down: {type(exc).__name__}: {exc}"[:300]
    return "ok"
