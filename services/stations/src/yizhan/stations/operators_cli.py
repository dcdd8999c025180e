"""`yz-stations create-operator`: create the first admin (or any operator) from a shell."""

import argparse
import asyncio
import os
import sys
from typing import Any

from yizhan.common.db import create_engine, session_factory
from yizhan.stations.operators import save_operator
from yizhan.stations.settings import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", required=True)
    parser.add_argument("--role", required=True, choices=["admin", "district", "viewer"])
    parser.add_argument("--districts", default="", help="comma-separated, for district/viewer")
    parser.add_argument(
        "--password-env",
        required=True,
        help="name of the environment variable holding the password (kept out of argv)",
    )


def _create(args: argparse.Namespace, settings: Any) -> None:
    assert isinstance(settings, Settings)
    password = os.environ.get(args.password_env)
    if not password:
        sys.exit(f"environment variable {args.password_env} is empty")
    districts = [d.strip() for d in args.districts.split(",") if d.strip()]

    async def run() -> None:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                await save_operator(session, args.username, password, args.role, districts)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except ValueError as exc:
        sys.exit(str(exc))
    print(f"operator {args.username} saved ({args.role})")


COMMANDS = {"create-operator": (_configure, _create)}
