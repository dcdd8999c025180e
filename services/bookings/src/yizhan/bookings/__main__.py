"""Command line: `yz-bookings serve | migrate | demo-history`."""

from pathlib import Path

from yizhan.bookings import demo_history
from yizhan.bookings.serving import serve
from yizhan.bookings.settings import Settings
from yizhan.common.service import ServiceCli

CLI = ServiceCli(
    name="bookings",
    load_settings=Settings,
    serve=serve,
    migrations_dir=Path(__file__).parent / "migrations",
    commands={"demo-history": (demo_history.configure, demo_history.run)},
)


def main() -> None:
    """Entry point of the `yz-bookings` console script."""
    CLI.main()


if __name__ == "__main__":
    main()
