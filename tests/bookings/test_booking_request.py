"""POST /api/v1/bookings reads its body and Idempotency-Key itself (booking_routes.py, for
speed). Both ways run through the same requests here: the handler's reading, and FastAPI's
typed parameters it replaced. Their answers must be the same, 422s field by field."""

import asyncio
import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Header, Request

from yizhan.bookings.api.booking_routes import IDEMPOTENCY_HEADER, _booking_request
from yizhan.bookings.idempotency import MAX_KEY_LENGTH
from yizhan.bookings.schemas import BookingIn
from yizhan.common.http import create_http_app

pytestmark = pytest.mark.unit

GOOD = {
    "livestream_point_id": 3,
    "start": "2026-12-02T10:00:00+08:00",
    "end": "2026-12-02T10:30:00+08:00",
    "phone": "13800138000",
    "name": "骑手",
    "otp": "123456",
}
KEY = {IDEMPOTENCY_HEADER: "k-1"}
JSON = {"content-type": "application/json"}


def _app() -> FastAPI:
    app = create_http_app(title="t", description="t", readiness={})

    @app.post("/typed")
    async def typed(
        body: BookingIn,
        key: Annotated[
            str, Header(alias=IDEMPOTENCY_HEADER, min_length=1, max_length=MAX_KEY_LENGTH)
        ],
    ) -> dict[str, Any]:
        return {"body": body.model_dump(mode="json"), "key": key}

    @app.post("/read")
    async def read(request: Request) -> dict[str, Any]:
        body, key = await _booking_request(request)
        return {"body": body.model_dump(mode="json"), "key": key}

    return app


CASES: dict[str, tuple[bytes, dict[str, str]]] = {
    "good": (json.dumps(GOOD).encode(), {**JSON, **KEY}),
    "no key": (json.dumps(GOOD).encode(), JSON),
    "empty key": (json.dumps(GOOD).encode(), {**JSON, IDEMPOTENCY_HEADER: ""}),
    "long key": (json.dumps(GOOD).encode(), {**JSON, IDEMPOTENCY_HEADER: "k" * 201}),
    "bad fields": (
        json.dumps({**GOOD, "phone": "12345", "name": "", "otp": "12"}).encode(),
        {**JSON, **KEY},
    ),
    "bad fields, no key": (json.dumps({**GOOD, "otp": "x"}).encode(), JSON),
    "missing fields": (json.dumps({"livestream_point_id": 3}).encode(), {**JSON, **KEY}),
    "unknown field": (json.dumps({**GOOD, "seat": 1}).encode(), {**JSON, **KEY}),
    "naive time": (
        json.dumps({**GOOD, "start": "2026-12-02T10:00:00"}).encode(),
        {"content-type": "application/json; charset=utf-8", **KEY},
    ),
    "not an object": (b"[1, 2]", {**JSON, **KEY}),
    "no body": (b"", {**JSON, **KEY}),
    "malformed JSON": (b'{"phone": ', {**JSON, **KEY}),
    "no body, no key": (b"", JSON),
    "not JSON's type": (json.dumps(GOOD).encode(), {"content-type": "text/plain", **KEY}),
    "no type": (json.dumps(GOOD).encode(), KEY),
    "a JSON type": (json.dumps(GOOD).encode(), {"content-type": "application/x+json", **KEY}),
}


def _answers(path: str) -> dict[str, tuple[int, Any]]:
    async def ask() -> dict[str, tuple[int, Any]]:
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            found = {}
            for name, (content, headers) in CASES.items():
                reply = await client.post(path, content=content, headers=headers)
                answer = reply.json()
                fields = [(e["field"], e["message"]) for e in answer.get("errors", [])]
                found[name] = (reply.status_code, fields or answer)
            return found

    return asyncio.run(ask())


def test_the_handler_reads_a_booking_as_fastapi_did() -> None:
    typed, read = _answers("/typed"), _answers("/read")
    for name in CASES:
        assert read[name] == typed[name], name
    assert {name for name, (status, _) in read.items() if status == 200} == {"good", "a JSON type"}
    assert {status for name, (status, _) in read.items()} == {200, 422}
