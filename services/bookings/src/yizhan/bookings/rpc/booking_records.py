"""gRPC BookingRecords: the livestream outcomes slot by slot and the opinions (with the
measures they led to) that the console's district report and station page list."""

from datetime import datetime, timedelta

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.bookings.v1 import bookings_pb2, bookings_pb2_grpc
from yizhan.bookings.models import (
    OPINION_IN_PROGRESS,
    OPINION_RECEIVED,
    Booking,
    LivestreamOutcome,
    LivestreamPoint,
    Opinion,
)
from yizhan.common.pbtime import from_pb, to_pb
from yizhan.common.rpc import ServicerContext

MAX_DAYS = 366
OUTCOMES_DEFAULT, OPINIONS_DEFAULT, MAX_ITEMS = 1000, 500, 5000


async def _range(
    request: bookings_pb2.ListLivestreamOutcomesRequest | bookings_pb2.ListOpinionsRequest,
    context: ServicerContext,
    required: bool,
) -> tuple[datetime | None, datetime | None]:
    if not request.HasField("from") and not request.HasField("to") and not required:
        return None, None
    start, end = from_pb(getattr(request, "from")), from_pb(request.to)
    if end <= start or end - start > timedelta(days=MAX_DAYS):
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, "`to` must be after `from`, within 366 days"
        )
    return start, end


def _limit(asked: int, default: int) -> int:
    return min(asked, MAX_ITEMS) if asked > 0 else default


class BookingRecordsServicer(bookings_pb2_grpc.BookingRecordsServicer):
    """Reads outcomes and opinions straight from the bookings database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def ListLivestreamOutcomes(
        self, request: bookings_pb2.ListLivestreamOutcomesRequest, context: ServicerContext
    ) -> bookings_pb2.ListLivestreamOutcomesResponse:
        """Recorded outcomes of the slots starting in [from, to), oldest first."""
        start, end = await _range(request, context, required=True)
        query = (
            select(LivestreamOutcome, Booking, LivestreamPoint)
            .join(Booking, Booking.id == LivestreamOutcome.booking_id)
            .join(LivestreamPoint, LivestreamPoint.id == Booking.livestream_point_id)
            .where(
                LivestreamOutcome.station_id.in_(list(request.station_ids)),
                LivestreamOutcome.starts_at >= start,
                LivestreamOutcome.starts_at < end,
            )
            .order_by(LivestreamOutcome.starts_at, LivestreamOutcome.booking_id)
            .limit(_limit(request.limit, OUTCOMES_DEFAULT))
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return bookings_pb2.ListLivestreamOutcomesResponse(
            items=[
                bookings_pb2.LivestreamOutcomeRecord(
                    station_id=outcome.station_id,
                    livestream_point_id=point.id,
                    livestream_point_name=point.name,
                    starts_at=to_pb(booking.starts_at),
                    ends_at=to_pb(booking.ends_at),
                    households=outcome.households,
                    sales_yuan=float(outcome.sales_yuan),
                    note=outcome.note,
                    recorded_by=outcome.recorded_by,
                )
                for outcome, booking, point in rows
            ]
        )

    async def ListOpinions(
        self, request: bookings_pb2.ListOpinionsRequest, context: ServicerContext
    ) -> bookings_pb2.ListOpinionsResponse:
        """Opinions raised in [from, to) (or whenever), oldest first."""
        start, end = await _range(request, context, required=False)
        query = (
            select(Opinion)
            .where(Opinion.station_id.in_(list(request.station_ids)))
            .order_by(Opinion.created_at, Opinion.id)
            .limit(_limit(request.limit, OPINIONS_DEFAULT))
        )
        if start is not None and end is not None:
            query = query.where(Opinion.created_at >= start, Opinion.created_at < end)
        if request.unresolved_only:
            query = query.where(Opinion.status.in_((OPINION_RECEIVED, OPINION_IN_PROGRESS)))
        async with self._sessions() as session:
            opinions = (await session.scalars(query)).all()
        items = []
        for opinion in opinions:
            record = bookings_pb2.OpinionRecord(
                id=opinion.id,
                station_id=opinion.station_id,
                category=opinion.category,
                text=opinion.text,
                status=opinion.status,
                measure=opinion.measure or "",
                created_at=to_pb(opinion.created_at),
            )
            if opinion.closed_at is not None:
                record.closed_at.CopyFrom(to_pb(opinion.closed_at))
            items.append(record)
        return bookings_pb2.ListOpinionsResponse(items=items)
