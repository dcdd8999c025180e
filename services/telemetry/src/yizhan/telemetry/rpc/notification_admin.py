"""gRPC NotificationAdmin: the console manages notification channels and reads deliveries on
an operator's behalf (proto/yizhan/api/telemetry/v1/notifications.proto). The operator's
token is judged as the HTTP API judges it, and the body is the HTTP API's, checked by the
same model and the same kind rules (notifications/channels.py), so both paths agree."""

from dataclasses import asdict
from datetime import UTC, datetime

import grpc
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.telemetry.v1 import notifications_pb2, notifications_pb2_grpc
from yizhan.common import scope
from yizhan.common.auth import AccountVersions, InvalidToken, Operator, verify_token_with
from yizhan.common.http import Problem
from yizhan.telemetry.notifications import channels
from yizhan.telemetry.schemas import (
    ChannelCreated,
    ChannelIn,
    ChannelOut,
    ChannelsOut,
    DeliveriesOut,
    DeliveryOut,
)

Context = grpc.aio.ServicerContext[object, object]
Reply = notifications_pb2.NotificationReply
DEFAULT_DELIVERIES, MAX_DELIVERIES = 50, 200


def _field_errors(exc: ValidationError) -> list[notifications_pb2.NotificationFieldError]:
    return [
        notifications_pb2.NotificationFieldError(
            field=".".join(str(part) for part in error["loc"]) or "body", message=error["msg"]
        )
        for error in exc.errors()
    ]


class NotificationAdminServicer(notifications_pb2_grpc.NotificationAdminServicer):
    """Channels and deliveries, as /api/v1/notification-channels and -deliveries."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jwt_secret: str,
        accounts: AccountVersions,
        allow_private_targets: bool,
    ) -> None:
        self._sessions = sessions
        self._jwt_secret = jwt_secret
        self._accounts = accounts
        self._allow_private = allow_private_targets

    async def _operator(self, request: notifications_pb2.NotificationRequest) -> Operator | None:
        try:
            return await verify_token_with(self._jwt_secret, self._accounts, request.operator_token)
        except InvalidToken:
            return None

    async def CreateChannel(
        self, request: notifications_pb2.NotificationRequest, context: Context
    ) -> notifications_pb2.NotificationReply:
        operator = await self._operator(request)
        if operator is None:
            return Reply(code="unauthorized")
        try:
            scope.check_write(operator)
            body = ChannelIn.model_validate_json(request.body_json or "{}")
            for district in body.districts:
                scope.check_district(operator, district)
        except ValidationError as exc:
            return Reply(code="invalid", errors=_field_errors(exc))
        except Problem as exc:
            return Reply(code=exc.code)
        errors = channels.kind_errors(body, self._allow_private)
        if errors:
            return Reply(
                code="invalid",
                errors=[
                    notifications_pb2.NotificationFieldError(field=name, message=message)
                    for name, message in errors
                ],
            )
        async with self._sessions() as session:
            channel_id = await channels.create(session, body, operator, datetime.now(UTC))
        if channel_id is None:
            return Reply(
                code="invalid",
                errors=[
                    notifications_pb2.NotificationFieldError(
                        field="escalate_to", message="no such notification channel"
                    )
                ],
            )
        return Reply(result_json=ChannelCreated(id=channel_id).model_dump_json())

    async def ListChannels(
        self, request: notifications_pb2.NotificationRequest, context: Context
    ) -> notifications_pb2.NotificationReply:
        operator = await self._operator(request)
        if operator is None:
            return Reply(code="unauthorized")
        async with self._sessions() as session:
            found = await channels.visible(session, operator)
        listed = ChannelsOut(items=[ChannelOut(**asdict(channel)) for channel in found])
        return Reply(result_json=listed.model_dump_json())

    async def DeleteChannel(
        self, request: notifications_pb2.NotificationRequest, context: Context
    ) -> notifications_pb2.NotificationReply:
        operator = await self._operator(request)
        if operator is None:
            return Reply(code="unauthorized")
        if not operator.can_write:
            return Reply(code="read_only")
        async with self._sessions() as session:
            removed = await channels.delete(session, request.channel_id, operator)
        return Reply() if removed else Reply(code="channel_not_found")

    async def ListDeliveries(
        self, request: notifications_pb2.NotificationRequest, context: Context
    ) -> notifications_pb2.NotificationReply:
        operator = await self._operator(request)
        if operator is None:
            return Reply(code="unauthorized")
        limit = DEFAULT_DELIVERIES if request.limit <= 0 else min(request.limit, MAX_DELIVERIES)
        async with self._sessions() as session:
            found = await channels.all_deliveries(session, operator, limit)
        listed = DeliveriesOut(items=[DeliveryOut(**asdict(delivery)) for delivery in found])
        return Reply(result_json=listed.model_dump_json())
