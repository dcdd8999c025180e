"""Command line: `yz-stations serve | migrate | create-operator`."""

from pathlib import Path

from yizhan.common.service import ServiceCli
from yizhan.stations.app import serve
from yizhan.stations.operators_cli import COMMANDS
from yizhan.stations.settings import Settings

CLI = ServiceCli(
    name="stations",
    load_settings=Settings,
    serve=serve,
    migrations_dir=Path(__file__).parent / "migrations",
    commands=COMMANDS,
)


def main() -> None:
    """Entry point of the `yz-stations` console script."""
    CLI.main()


if __name__ == "__main__":
    main()
