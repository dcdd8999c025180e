"""gRPC BookingAdmin: the console's bookings-side management, on behalf of the operator whose
token comes with each call. Each call runs the HTTP API's own handler (the same scope checks,
validation, domain functions and audit), so the console and the API cannot drift."""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.bookings import texts
from yizhan.bookings.api import (
    audit_routes,
    catalog_routes,
    operator_routes,
    opinion_routes,
    session_routes,
)
from yizhan.bookings.api.deps import station_in_scope
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import BookingError, InvalidInput, NotFound
from yizhan.bookings.schemas import (
    ForumSessionIn,
    ForumSessionPatch,
    LivestreamPointIn,
    LivestreamPointPatch,
    MeasureIn,
    OpinionIn,
    OpinionPatch,
)
from yizhan.common.auth import InvalidToken, Operator, verify_token
from yizhan.common.rpc import ServicerContext

Reply = bookings_pb2.BookingAdminReply
Request_ = bookings_pb2.BookingAdminRequest
Body = TypeVar("Body", bound=BaseModel)
# How far back the console lists sessions that are over (to record their opinions).
CONSOLE_PAST_DAYS = 30


def _field_errors(exc: ValidationError) -> list[bookings_pb2.BookingFieldError]:
    return [
        bookings_pb2.BookingFieldError(
            field=".".join(str(part) for part in error["loc"]), message=error["msg"]
        )
        for error in exc.errors()
    ]


def _target_id(request: Request_, absent: str) -> int:
    """The numeric id in `target`; a malformed one is reported like an absent thing (the
    message key `absent`)."""
    try:
        return int(request.target)
    except ValueError:
        raise NotFound(absent) from None


class BookingAdminServicer(bookings_pb2_grpc.BookingAdminServicer):
    """Points, sessions, opinions and measures, check-in by hand, the audit log."""

    def __init__(self, deps: Deps, app: FastAPI) -> None:
        self._deps = deps
        # The HTTP app's state holds the token key and the account lookup: tokens are judged
        # by the very function the HTTP API uses (verify_token), so any rule it gains (a
        # disabled account, say) holds here too.
        self._app = app

    async def _operator(self, token: str) -> Operator | None:
        request = Request({"type": "http", "app": self._app, "headers": []})
        try:
            return await verify_token(request, token)
        except InvalidToken:
            return None

    async def _run(
        self,
        request: Request_,
        act: Callable[[Operator, AsyncSession], Awaitable[BaseModel]],
        *,
        writes: bool,
    ) -> Reply:
        operator = await self._operator(request.operator_token)
        if operator is None:
            return Reply(code="unauthorized")
        if writes and not operator.can_write:
            return Reply(code="read_only")
        try:
            async with self._deps.sessions() as session:
                result = await act(operator, session)
        except ValidationError as exc:
            return Reply(code="invalid", errors=_field_errors(exc))
        except InvalidInput as exc:
            message = texts.message(exc.key, "en")
            errors = [bookings_pb2.BookingFieldError(field=exc.field or "", message=message)]
            return Reply(code=exc.key, errors=errors)
        except BookingError as exc:
            return Reply(code=exc.key)
        return Reply(result_json=result.model_dump_json())

    @staticmethod
    def _body(request: Request_, schema: type[Body], **extra: Any) -> Body:
        try:
            fields = json.loads(request.body_json or "{}")
        except json.JSONDecodeError:
            fields = {}
        if not isinstance(fields, dict):
            # Not an object: validated as an empty body, so each required field says so.
            fields = {}
        return schema.model_validate({**fields, **extra})

    async def ListLivestreamPoints(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            # Workers may list any station's points; operators here only their own.
            await station_in_scope(self._deps, operator, request.station_id)
            return await catalog_routes.list_points(
                self._deps, session, operator, request.station_id
            )

        return await self._run(request, act, writes=False)

    async def CreateLivestreamPoint(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, LivestreamPointIn, station_id=request.station_id)
            return await catalog_routes.create_point(body, operator, self._deps, session)

        return await self._run(request, act, writes=True)

    async def UpdateLivestreamPoint(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, LivestreamPointPatch)
            return await catalog_routes.update_point(
                _target_id(request, "point_unknown"), body, operator, self._deps, session
            )

        return await self._run(request, act, writes=True)

    async def ListForumSessions(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            await station_in_scope(self._deps, operator, request.station_id)
            return await session_routes.list_sessions(
                self._deps,
                session,
                operator,
                station_id=request.station_id,
                past_days=CONSOLE_PAST_DAYS,
            )

        return await self._run(request, act, writes=False)

    async def CreateForumSession(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, ForumSessionIn, station_id=request.station_id)
            return await session_routes.create_session(body, operator, self._deps)

        return await self._run(request, act, writes=True)

    async def UpdateForumSession(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, ForumSessionPatch)
            return await session_routes.update_session(
                _target_id(request, "session_unknown"), body, operator, self._deps
            )

        return await self._run(request, act, writes=True)

    async def CancelForumSession(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await session_routes.cancel_session(
                _target_id(request, "session_unknown"), operator, self._deps
            )

        return await self._run(request, act, writes=True)

    async def ListOpinions(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await opinion_routes.list_opinions(
                operator, self._deps, session, station_id=request.station_id
            )

        return await self._run(request, act, writes=False)

    async def RecordOpinion(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, OpinionIn)
            return await opinion_routes.record_opinion(body, operator, self._deps)

        return await self._run(request, act, writes=True)

    async def MoveOpinion(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, OpinionPatch)
            return await opinion_routes.move_opinion(
                _target_id(request, "opinion_not_found"), body, operator, self._deps
            )

        return await self._run(request, act, writes=True)

    async def GroupOpinions(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            body = self._body(request, MeasureIn, station_id=request.station_id)
            return await opinion_routes.group_under_measure(body, operator, self._deps)

        return await self._run(request, act, writes=True)

    async def ListMeasures(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await opinion_routes.list_measures(request.station_id, operator, self._deps)

        return await self._run(request, act, writes=False)

    async def CheckInBooking(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await operator_routes.check_in_by_hand(
                request.target, operator, self._deps, session
            )

        return await self._run(request, act, writes=True)

    async def ListAudit(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await audit_routes.list_audit(
                operator, self._deps, session, station_id=request.station_id
            )

        return await self._run(request, act, writes=False)

    async def CancelBooking(self, request: Request_, context: ServicerContext) -> Reply:
        async def act(operator: Operator, session: AsyncSession) -> BaseModel:
            return await operator_routes.cancel_for_worker(
                request.target, operator, self._deps, session
            )

        return await self._run(request, act, writes=True)
