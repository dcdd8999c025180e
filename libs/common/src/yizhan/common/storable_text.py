"""Text PostgreSQL cannot store (NUL) or encode (lone surrogates) is refused at every edge,
HTTP and gRPC, before any handler sees it: a 422 with the field at fault, or gRPC's
INVALID_ARGUMENT, instead of a database error, a 500 and a traceback per request."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import grpc
from fastapi.responses import JSONResponse
from google.protobuf.message import Message
from starlette.types import ASGIApp, Receive, Scope, Send

NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must be valid Unicode text"
# Larger bodies are not inspected here (no form or JSON body of ours comes near this).
MAX_INSPECTED_BODY = 1 << 20


def text_problem(text: str) -> str | None:
    """Why PostgreSQL could not take this text, or None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _json_strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}.{key}", str(key)
            yield from _json_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{where}.{index}")


def _request_strings(scope: Scope, body: bytes) -> Iterator[tuple[str, str]]:
    yield "path", str(scope.get("path", ""))
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        yield f"query.{key}", key
        yield f"query.{key}", value
    headers = {bytes(k).lower(): bytes(v) for k, v in scope.get("headers", [])}
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip()
    if not body:
        return
    if content_type == b"application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            yield f"body.{key}", key
            yield f"body.{key}", value
    elif content_type.endswith(b"json"):
        # Valid JSON can only spell a NUL or a lone surrogate as a \u escape (raw, either
        # makes the document invalid, which the handler reports): without one, nothing to
        # look for, and a booking in a rush is not parsed twice.
        if b"\\u" not in body:
            return
        try:
            document = json.loads(body)
        except ValueError:
            return  # the handler reports malformed JSON itself
        yield from _json_strings(document, "body")


def _invalid(errors: list[dict[str, str]]) -> JSONResponse:
    # The problem JSON of http.problem (not imported: http.py installs this middleware).
    body = {
        "type": "about:blank",
        "title": "Invalid input",
        "status": 422,
        "detail": "some fields are invalid",
        "code": "invalid_input",
        "errors": errors[:20],
    }
    return JSONResponse(body, status_code=422, media_type="application/problem+json")


class StorableTextMiddleware:
    """Answers 422 (problem JSON with field errors) when the path, the query, a form or a
    JSON body holds a NUL character or a lone surrogate."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = scope.get("method") in ("POST", "PUT", "PATCH", "DELETE")
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body")) and size <= MAX_INSPECTED_BODY
        body = b"".join(chunks)
        errors = [
            {"field": field, "message": reason}
            for field, text in _request_strings(scope, body if size <= MAX_INSPECTED_BODY else b"")
            if (reason := text_problem(text)) is not None
        ]
        if errors:
            response = _invalid(errors)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay if chunks else receive, send)


def message_problem(message: Message, where: str = "") -> tuple[str, str] | None:
    """The first string field of a protobuf message (nested too) holding a NUL, or None."""
    for field, value in message.ListFields():
        name = f"{where}{field.name}"
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, str) and (reason := text_problem(item)) is not None:
                return name, reason
            if isinstance(item, Message) and (found := message_problem(item, f"{name}.")):
                return found
    return None


class StorableTextInterceptor(grpc.aio.ServerInterceptor):
    """Refuses unary calls whose request holds text PostgreSQL cannot store."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary

        async def checked(request: Any, context: Any) -> Any:
            if isinstance(request, Message) and (found := message_problem(request)):
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{found[0]}: {found[1]}")
            answer = behaviour(request, context)
            # Our servicers are coroutines; grpc's own health servicer answers directly.
            return await answer if inspect.isawaitable(answer) else answer

        return grpc.unary_unary_rpc_method_handler(
            checked,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
