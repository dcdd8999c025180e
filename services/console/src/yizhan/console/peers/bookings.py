"""What the console asks bookings to do on an operator's behalf (gRPC BookingAdmin): list and
change livestream points, forum sessions, opinions and measures, check a booking in by hand,
read the audit log. Bookings checks the token, the role and the district, validates, audits;
the console keeps nothing."""

import json
from typing import TYPE_CHECKING, Any, Literal

import grpc

from yizhan.api.bookings.v1 import bookings_pb2
from yizhan.console.sources import SourceDown

if TYPE_CHECKING:
    from yizhan.api.bookings.v1.bookings_pb2_grpc import BookingAdminAsyncStub

Reply = bookings_pb2.BookingAdminReply
Action = Literal[
    "ListLivestreamPoints",
    "CreateLivestreamPoint",
    "UpdateLivestreamPoint",
    "ListForumSessions",
    "CreateForumSession",
    "UpdateForumSession",
    "CancelForumSession",
    "ListOpinions",
    "RecordOpinion",
    "MoveOpinion",
    "GroupOpinions",
    "ListMeasures",
    "CheckInBooking",
    "ListAudit",
    "CancelBooking",
]


class BookingsAdmin:
    """BookingAdmin with one deadline for every call; a failed call raises SourceDown."""

    def __init__(self, stub: "BookingAdminAsyncStub", deadline_seconds: float) -> None:
        self._stub = stub
        self._deadline = deadline_seconds

    async def call(
        self,
        action: Action,
        token: str,
        *,
        station_id: str = "",
        target: str = "",
        body: dict[str, Any] | None = None,
    ) -> Reply:
        """Run one action as the operator of `token`; the reply's `code` is "" when done."""
        request = bookings_pb2.BookingAdminRequest(
            operator_token=token,
            station_id=station_id,
            target=target,
            body_json=json.dumps(body or {}),
        )
        try:
            reply: Reply = await getattr(self._stub, action)(request, timeout=self._deadline)
        except grpc.aio.AioRpcError as exc:
            raise SourceDown("bookings", f"{exc.code().name}: {exc.details()}") from exc
        return reply

    async def items(self, action: Action, token: str, station_id: str) -> list[dict[str, Any]]:
        """The `items` of a listing, or SourceDown when bookings refuses it (the page was
        already allowed, so a refusal here is bookings being unable to answer)."""
        reply = await self.call(action, token, station_id=station_id)
        if reply.code:
            raise SourceDown("bookings", reply.code)
        items: list[dict[str, Any]] = json.loads(reply.result_json)["items"]
        return items
