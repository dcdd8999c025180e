"""gRPC BookingReports: the booking figures the operator console shows (stats.py)."""

import grpc

from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.bookings.errors import InvalidInput, PeerUnavailable
from yizhan.bookings.stats import BookingStats, Figures, total
from yizhan.common.pbtime import from_pb
from yizhan.common.rpc import ServicerContext


def stats_message(figures: Figures) -> bookings_pb2.BookingStats:
    """Figures as the BookingStats message."""
    return bookings_pb2.BookingStats(
        livestream_bookings=figures.livestream_bookings,
        livestream_booked_minutes=figures.livestream_booked_minutes,
        livestream_open_minutes=figures.livestream_open_minutes,
        livestream_utilisation=figures.livestream_utilisation,
        forum_sessions=figures.forum_sessions,
        forum_seats=figures.forum_seats,
        forum_confirmed=figures.forum_confirmed,
        forum_waitlisted=figures.forum_waitlisted,
        checked_in=figures.checked_in,
        no_shows=figures.no_shows,
        cancelled=figures.cancelled,
        no_show_rate=figures.no_show_rate,
        opinions=bookings_pb2.OpinionCounts(**figures.opinions),
        confirmed=figures.livestream_bookings + figures.forum_confirmed,
        livestream_outcomes=figures.livestream_outcomes,
        livestream_households=figures.livestream_households,
        livestream_sales_yuan=float(figures.livestream_sales_yuan),
    )


class BookingReportsServicer(bookings_pb2_grpc.BookingReportsServicer):
    """Answers GetBookingStats with the figures of stats.py."""

    def __init__(self, stats: BookingStats) -> None:
        self._stats = stats

    async def GetBookingStats(
        self, request: bookings_pb2.GetBookingStatsRequest, context: ServicerContext
    ) -> bookings_pb2.GetBookingStatsResponse:
        """Figures per station over [from, to), and their totals."""
        start, end = from_pb(getattr(request, "from")), from_pb(request.to)
        try:
            per_station = await self._stats.per_station(
                list(request.station_ids) or None, start, end
            )
        except InvalidInput:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "`to` must be after `from`, within 366 days"
            )
        except PeerUnavailable:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "stations did not answer")
        return bookings_pb2.GetBookingStatsResponse(
            stations=[
                bookings_pb2.StationBookingStats(station_id=station_id, stats=stats_message(f))
                for station_id, f in per_station.items()
            ],
            totals=stats_message(total(per_station.values())),
        )
