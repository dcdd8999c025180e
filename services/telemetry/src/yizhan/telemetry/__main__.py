"""Command line: `yz-telemetry serve | ingest | migrate`."""

import argparse
from pathlib import Path

from yizhan.common.runtime import run_server
from yizhan.common.service import ServiceCli
from yizhan.telemetry.app import serve
from yizhan.telemetry.ingest_app import serve_ingest
from yizhan.telemetry.settings import Settings


def _no_options(parser: argparse.ArgumentParser) -> None:
    parser.description = "ingest kiosk messages from the MQTT broker (a process of its own)"


def _ingest(args: argparse.Namespace, settings: Settings) -> None:
    run_server(serve_ingest(settings))


CLI = ServiceCli(
    name="telemetry",
    load_settings=Settings,
    serve=serve,
    migrations_dir=Path(__file__).parent / "migrations",
    commands={"ingest": (_no_options, _ingest)},
)


def main() -> None:
    """Entry point of the `yz-telemetry` console script."""
    CLI.main()


if __name__ == "__main__":
    main()
