"""Command line: `yz-telemetry serve | migrate`."""

from pathlib import Path

from yizhan.common.service import ServiceCli
from yizhan.telemetry.app import serve
from yizhan.telemetry.settings import Settings

CLI = ServiceCli(
    name="telemetry",
    load_settings=Settings,
    serve=serve,
    migrations_dir=Path(__file__).parent / "migrations",
)


def main() -> None:
    """Entry point of the `yz-telemetry` console script."""
    CLI.main()


if __name__ == "__main__":
    main()
