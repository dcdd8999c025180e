"""The monthly district reports (issue 14 item 3): from the 1st of each month, at
`report_hour` in the console's zone, the previous month's report of every district is built
and handed to telemetry, which sends it to the notification channels subscribed to
`report.monthly` (a link to the printable page and the XLSX itself).

The console keeps no state: telemetry records each (district, month) it was given and
ignores a second hand-over, so a restart, two console replicas, or a run by hand
(`yz-console send-reports --date 2026-12-01`) never sends a report twice. A console that was
down on the 1st catches up during the month's first `report_catch_up_days` days. The clock
is a parameter (`run_schedule(now=...)`), so the schedule is testable without waiting a month.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import grpc

from yizhan.api.telemetry.v1 import insights_pb2
from yizhan.common.auth import Operator
from yizhan.console.i18n import Lang, translator
from yizhan.console.period import Period, month_of
from yizhan.console.report_routes import make_report, report_filename, report_xlsx
from yizhan.console.sources import SourceDown
from yizhan.console.wiring import ConsoleDeps

if TYPE_CHECKING:
    from yizhan.api.telemetry.v1.insights_pb2_grpc import ReportNoticesAsyncStub

log = logging.getLogger(__name__)

# Who the scheduled reports are made as: someone who sees every district.
SCHEDULE_OPERATOR = Operator("report-schedule", "admin")
# Reports go out in Chinese, the language of the unions they are sent to.
REPORT_LANG: Final[Lang] = "zh"


@dataclass(frozen=True)
class Outcome:
    """What the schedule did for one district."""

    district: str
    first: date
    last: date
    # sent: queued for `deliveries` channels; already: handed over before; failed: see log.
    result: str
    deliveries: int = 0


def due_month(now: datetime, tz: str, hour: int, catch_up_days: int) -> tuple[date, date] | None:
    """The month whose reports are due at `now`: the previous one, from the 1st at `hour`
    until the end of the catch-up days; None outside that window."""
    local = now.astimezone(ZoneInfo(tz))
    first_of_month = local.date().replace(day=1)
    opens = datetime.combine(first_of_month, time(hour), ZoneInfo(tz))
    if local < opens or local.date() >= first_of_month + timedelta(days=catch_up_days):
        return None
    return month_of(first_of_month - timedelta(days=1))


async def run_schedule(
    console: ConsoleDeps,
    notices: "ReportNoticesAsyncStub",
    now: datetime,
    done: set[tuple[str, date]] | None = None,
) -> list[Outcome]:
    """Hand over every district's report for the month due at `now` (none when no month is
    due); what happened per district. Districts in `done` (district, first day) are skipped
    and those handed over are added: the loop builds each report once, not every tick."""
    settings = console.settings
    month = due_month(now, settings.timezone, settings.report_hour, settings.report_catch_up_days)
    if month is None:
        return []
    first, last = month
    period = Period("custom", first, last, "day", settings.timezone)
    t = translator(REPORT_LANG)
    outcomes = []
    for district in await console.directory.districts():
        if done is not None and (district, first) in done:
            continue
        try:
            outcome = await _send(console, notices, district, period, t, now)
            outcomes.append(outcome)
            if done is not None:
                done.add((district, first))
        except (SourceDown, grpc.aio.AioRpcError) as exc:
            log.warning("district report not sent", extra={"district": district, "error": str(exc)})
            outcomes.append(Outcome(district, first, last, "failed"))
    return outcomes


async def _send(
    console: ConsoleDeps,
    notices: "ReportNoticesAsyncStub",
    district: str,
    period: Period,
    t: Callable[..., str],
    now: datetime,
) -> Outcome:
    report = await make_report(console, SCHEDULE_OPERATOR, district, period, REPORT_LANG, now)
    if report.problems:
        # A report with holes is not sent; the next run (or the next tick) tries again.
        raise SourceDown("console", "; ".join(report.problems))
    query = {
        "district": district,
        "period": "custom",
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
    }
    reply = await notices.PublishReport(
        insights_pb2.PublishReportRequest(
            district=district,
            first=period.first.isoformat(),
            last=period.last.isoformat(),
            title=f"{t('report_title')} · {district} · {period.first:%Y-%m}",
            url=f"{console.settings.public_url.rstrip('/')}/console/reports?{urlencode(query)}",
            filename=report_filename(report),
            xlsx=report_xlsx(report, REPORT_LANG),
        ),
        timeout=console.settings.rpc_deadline_seconds,
    )
    result = "already" if reply.already_published else "sent"
    log.info("district report handed over", extra={"district": district, "result": result})
    return Outcome(district, period.first, period.last, result, reply.deliveries)


async def run_forever(
    console: ConsoleDeps, notices: "ReportNoticesAsyncStub", clock: Callable[[], datetime]
) -> None:
    """Run the schedule every `report_schedule_seconds` for the life of the console."""
    done: set[tuple[str, date]] = set()
    while True:
        try:
            await run_schedule(console, notices, clock(), done)
        except Exception:  # stations may be away; the next tick tries again
            log.exception("report schedule turn failed")
        await asyncio.sleep(console.settings.report_schedule_seconds)
