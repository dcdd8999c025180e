"""Problem JSON with stable codes, as every service's HTTP app answers errors."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from yizhan.common.http import Problem, create_http_app

pytestmark = pytest.mark.unit


class Body(BaseModel):
    phone: str


class _Client:
    """Requests to the app in process (ASGI), one event loop per request."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, path, **options)

        return asyncio.run(send())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)


def _client() -> _Client:
    app = create_http_app(title="t", description="d", readiness={})

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, detail="no such thing")

    @app.get("/taken")
    async def taken() -> None:
        raise Problem(409, "slot_taken", "the slot is taken", headers={"X-Why": "taken"})

    @app.post("/form")
    async def form(body: Body) -> None:
        return None

    return _Client(app)


def test_errors_carry_a_stable_code() -> None:
    client = _client()
    missing = client.get("/missing")
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "no such thing",
        "code": "not_found",
    }
    taken = client.get("/taken")
    assert (taken.status_code, taken.json()["code"]) == (409, "slot_taken")
    assert taken.headers["X-Why"] == "taken"
    invalid = client.post("/form", json={})
    assert invalid.json()["code"] == "invalid_input"
    assert invalid.json()["errors"][0]["field"] == "body.phone"


def test_unmatched_routes_and_methods_are_problems_too() -> None:
    client = _client()
    nowhere = client.get("/nowhere")
    assert nowhere.headers["content-type"] == "application/problem+json"
    assert nowhere.json()["code"] == "not_found"
    assert client.delete("/missing").json()["code"] == "method_not_allowed"
