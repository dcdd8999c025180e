"""gRPC ReportNotices: the console hands over a district's report once a period, and it goes
out through the notification channels (notifications/reports.py)."""

from datetime import UTC, date, datetime

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.api.telemetry.v1 import insights_pb2, insights_pb2_grpc
from yizhan.telemetry.notifications import reports

Context = grpc.aio.ServicerContext[object, object]
# A report larger than this is not something to send through a webhook.
MAX_XLSX_BYTES = 4 * 1024 * 1024


class ReportNoticesServicer(insights_pb2_grpc.ReportNoticesServicer):
    """Queues report deliveries in telemetry's database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def PublishReport(
        self, request: insights_pb2.PublishReportRequest, context: Context
    ) -> insights_pb2.PublishReportResponse:
        """Queue the report for its channels, once per district and period."""
        try:
            first, last = date.fromisoformat(request.first), date.fromisoformat(request.last)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "first and last: YYYY-MM-DD")
        if not request.district or last < first or len(request.xlsx) > MAX_XLSX_BYTES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "a district, first <= last, at most 4 MiB"
            )
        facts = reports.ReportFacts(
            request.district,
            first,
            last,
            request.title,
            request.url,
            request.filename,
            request.xlsx,
        )
        async with self._sessions() as session:
            queued = await reports.publish(session, facts, datetime.now(UTC))
        if queued is None:
            return insights_pb2.PublishReportResponse(already_published=True)
        return insights_pb2.PublishReportResponse(deliveries=queued)
