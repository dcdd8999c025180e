"""gRPC BookingDesk: what telemetry calls when a kiosk scans a booking code."""

from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.bookings.checkin import CheckInDesk
from yizhan.common.rpc import ServicerContext


class BookingDeskServicer(bookings_pb2_grpc.BookingDeskServicer):
    """Answers CheckIn with ok, or one of the contract's reasons."""

    def __init__(self, desk: CheckInDesk) -> None:
        self._desk = desk

    async def CheckIn(
        self, request: bookings_pb2.CheckInRequest, context: ServicerContext
    ) -> bookings_pb2.CheckInResponse:
        """Check the booking in, or say why not (reason empty when ok)."""
        result = await self._desk.check_in(request.code, request.station_id, request.device_id)
        return bookings_pb2.CheckInResponse(
            ok=result.ok,
            reason=result.reason or "",
            message_zh=result.message_zh,
            message_en=result.message_en,
        )
