"""What every service's command line shares: `serve` and `migrate`, settings built once."""

import argparse
import contextlib
import logging
import socket
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings

from yizhan.common import rpc
from yizhan.common.db import ensure_database, run_migrations
from yizhan.common.logs import configure_logging
from yizhan.common.runtime import Component, run_server, serve_until_stopped
from yizhan.common.settings import CommonSettings

log = logging.getLogger(__name__)


class ServiceSettings(BaseSettings):
    """A service's own settings; subclasses set the env prefix (`YZ_<SERVICE>_`) and defaults."""

    http_port: int
    grpc_port: int
    database_url: str
    common: CommonSettings = Field(default_factory=CommonSettings)


Command = Callable[[argparse.Namespace, Any], None]


async def serve_service(
    settings: ServiceSettings,
    *,
    app: FastAPI,
    register: Callable[[grpc.aio.Server], None],
    grpc_services: Sequence[str],
    components: Sequence[Component] = (),
    sock: socket.socket | None = None,
) -> None:
    """Serve a service until SIGINT/SIGTERM: its gRPC server (service credential, health,
    reflection, traceparent) on its gRPC port, then `components`, then HTTP on its port (or
    on `sock`, a listening socket shared by worker processes)."""

    def grpc_server() -> contextlib.AbstractAsyncContextManager[None]:
        return rpc.server_component(
            host=settings.common.bind_host,
            port=settings.grpc_port,
            service_token=settings.common.service_token.get_secret_value(),
            register=register,
            service_names=grpc_services,
            tls=settings.common.grpc_tls(),
        )

    await serve_until_stopped(
        app=app,
        host=settings.common.bind_host,
        port=settings.http_port,
        components=[grpc_server, *components],
        trusted_proxies=settings.common.trusted_proxies,
        sock=sock,
    )


@dataclass
class ServiceCli:
    """The command line of one service."""

    name: str
    load_settings: Callable[[], ServiceSettings]
    serve: Callable[[Any], Coroutine[Any, Any, None]]
    migrations_dir: Path
    # Extra subcommands: name -> (configure parser, run with args and settings).
    commands: Mapping[str, tuple[Callable[[argparse.ArgumentParser], None], Command]] = field(
        default_factory=dict
    )

    def main(self, argv: list[str] | None = None) -> None:
        """Parse argv and run the chosen subcommand."""
        parser = argparse.ArgumentParser(prog=f"yz-{self.name}")
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("serve", help="run the HTTP and gRPC servers (and background work)")
        sub.add_parser("migrate", help="create the database if needed and apply migrations")
        for name, (configure, _) in self.commands.items():
            configure(sub.add_parser(name))
        args = parser.parse_args(argv)
        settings = self.load_settings()
        configure_logging(self.name, settings.common.log_level)
        if args.command == "serve":
            run_server(self.serve(settings))
        elif args.command == "migrate":
            ensure_database(settings.database_url)
            run_migrations(settings.database_url, self.migrations_dir)
            log.info("migrations applied", extra={"service": self.name})
        else:
            self.commands[args.command][1](args, settings)
