"""Command line: `yz-console serve` (the console has no database, so nothing to migrate)."""

import argparse
import asyncio

from yizhan.common.logs import configure_logging
from yizhan.console.app import serve
from yizhan.console.settings import ConsoleSettings


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `yz-console` console script."""
    parser = argparse.ArgumentParser(prog="yz-console")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the console's HTTP server")
    parser.parse_args(argv)
    settings = ConsoleSettings()
    configure_logging("console", settings.common.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
