"""Command line: `yz-console serve` (the console has no database, so nothing to migrate), and
`yz-console send-reports [--date YYYY-MM-DD]`: run the monthly report schedule once as if it
were that day (default: today) at the report hour, and print what it did per district."""

import argparse
import asyncio
import json
import sys
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from yizhan.api.telemetry.v1 import insights_pb2_grpc
from yizhan.common import rpc
from yizhan.common.logs import configure_logging
from yizhan.common.runtime import run_server
from yizhan.console.app import serve
from yizhan.console.report_schedule import Outcome, run_schedule
from yizhan.console.settings import ConsoleSettings
from yizhan.console.wiring import build_console


async def send_reports(settings: ConsoleSettings, day: date) -> list[Outcome]:
    """The schedule once, with the clock at `day`, report hour, in the console's zone."""
    common = settings.common
    token = common.service_token.get_secret_value()
    tls = common.grpc_tls()
    channels = [
        rpc.aio_channel(address, token, tls)
        for address in (common.stations_grpc, common.telemetry_grpc, common.bookings_grpc)
    ]
    try:
        console = build_console(settings, *channels)
        now = datetime.combine(day, time(settings.report_hour), ZoneInfo(settings.timezone))
        notices = insights_pb2_grpc.ReportNoticesStub(channels[1])
        return await run_schedule(console, notices, now)
    finally:
        for channel in channels:
            await channel.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `yz-console` console script."""
    parser = argparse.ArgumentParser(prog="yz-console")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the console's HTTP server")
    reports = sub.add_parser(
        "send-reports", help="hand over the district reports due on a day (default: today)"
    )
    reports.add_argument("--date", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    settings = ConsoleSettings()
    configure_logging("console", settings.common.log_level)
    if args.command == "send-reports":
        day = args.date or datetime.now(ZoneInfo(settings.timezone)).date()
        outcomes = asyncio.run(send_reports(settings, day))
        for outcome in outcomes:
            print(
                json.dumps(
                    {
                        "district": outcome.district,
                        "from": outcome.first.isoformat(),
                        "to": outcome.last.isoformat(),
                        "result": outcome.result,
                        "deliveries": outcome.deliveries,
                    },
                    ensure_ascii=False,
                )
            )
        sys.exit(1 if any(o.result == "failed" for o in outcomes) else 0)
    run_server(serve(settings))


if __name__ == "__main__":
    main()
