"""What the console asks telemetry about alarm notifications: channels (list, create,
delete) and deliveries, on the signed-in operator's behalf (telemetry judges the token and
the scope, and checks the body, as its HTTP API does)."""

from typing import TYPE_CHECKING

import grpc

from yizhan.api.telemetry.v1 import notifications_pb2
from yizhan.console.sources import SourceDown

if TYPE_CHECKING:
    from yizhan.api.telemetry.v1.notifications_pb2_grpc import NotificationAdminAsyncStub

Reply = notifications_pb2.NotificationReply


class Notifications:
    """Telemetry's NotificationAdmin, with the console's deadline; SourceDown when it does
    not answer."""

    def __init__(self, stub: "NotificationAdminAsyncStub", deadline_seconds: float) -> None:
        self._stub = stub
        self._deadline = deadline_seconds

    async def _call(self, method: str, request: notifications_pb2.NotificationRequest) -> Reply:
        try:
            reply: Reply = await getattr(self._stub, method)(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as exc:
            raise SourceDown("telemetry", f"{exc.code().name}: {exc.details()}") from exc
        return reply

    async def channels(self, token: str) -> Reply:
        """The channels in the operator's scope (`result_json` as the HTTP API's list)."""
        return await self._call(
            "ListChannels", notifications_pb2.NotificationRequest(operator_token=token)
        )

    async def create(self, token: str, body_json: str) -> Reply:
        """A new channel, or why not (field errors)."""
        request = notifications_pb2.NotificationRequest(operator_token=token, body_json=body_json)
        return await self._call("CreateChannel", request)

    async def delete(self, token: str, channel_id: int) -> Reply:
        """Remove a channel in scope."""
        request = notifications_pb2.NotificationRequest(operator_token=token, channel_id=channel_id)
        return await self._call("DeleteChannel", request)

    async def deliveries(self, token: str, limit: int) -> Reply:
        """The latest deliveries of the channels in scope, newest first."""
        request = notifications_pb2.NotificationRequest(operator_token=token, limit=limit)
        return await self._call("ListDeliveries", request)
