"""`yz-stations create-operator`: create the first admin (or any operator) from a shell, or
once from a secret file when a stack is first deployed (`--password-file ... --if-missing`)."""

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from yizhan.common.db import create_engine, session_factory
from yizhan.stations import repository
from yizhan.stations.operators import save_operator
from yizhan.stations.settings import Settings


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", required=True)
    parser.add_argument("--role", required=True, choices=["admin", "district", "viewer"])
    parser.add_argument("--districts", default="", help="comma-separated, for district/viewer")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--password-env",
        help="name of the environment variable holding the password (kept out of argv)",
    )
    source.add_argument(
        "--password-file", type=Path, help="file holding the password (a compose secret)"
    )
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the operator exists (a bootstrap that runs on every start)",
    )


def _password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            password = str(args.password_file.read_text().strip())
        except OSError as exc:
            sys.exit(f"cannot read the password file: {exc}")
    else:
        password = os.environ.get(args.password_env, "")
    if not password:
        sys.exit(f"the password ({args.password_file or args.password_env}) is empty")
    return password


def _create(args: argparse.Namespace, settings: Any) -> None:
    assert isinstance(settings, Settings)
    password = _password(args)
    districts = [d.strip() for d in args.districts.split(",") if d.strip()]

    async def run() -> bool:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                if args.if_missing and await repository.get_operator(session, args.username):
                    return False
                await save_operator(session, args.username, password, args.role, districts)
                return True
        finally:
            await engine.dispose()

    try:
        saved = asyncio.run(run())
    except ValueError as exc:
        sys.exit(str(exc))
    if saved:
        print(f"operator {args.username} saved ({args.role})")
    else:
        print(f"operator {args.username} exists; left as it is")


COMMANDS = {"create-operator": (_configure, _create)}
