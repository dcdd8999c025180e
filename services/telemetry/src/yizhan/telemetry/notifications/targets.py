"""Where a webhook may point. In production a channel must not reach loopback or private
networks (the telemetry host's neighbours: databases, the broker, cloud metadata), unless
YZ_TELEMETRY_NOTIFY_ALLOW_PRIVATE_TARGETS says so (`make run` does, for local receivers).

Checked twice: when the channel is created (a clear 422 on `url`), and before every send,
after resolving the name, since a name can later resolve elsewhere."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = ("http", "https")


class TargetRefused(ValueError):
    """The URL is not a target notifications may be sent to."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    """The URL's host when the URL is usable; TargetRefused otherwise (no DNS lookup)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise TargetRefused("use an http or https URL")
    host = parts.hostname
    if not host:
        raise TargetRefused("the URL has no host")
    if allow_private:
        return host
    if host == "localhost" or host.endswith(".localhost"):
        raise TargetRefused("loopback targets are not allowed")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name: checked again once resolved, before each send
    if not _is_public(str(literal)):
        raise TargetRefused("loopback and private-network targets are not allowed")
    return host


async def check_resolved(url: str, allow_private: bool) -> None:
    """TargetRefused when the URL's host resolves to any non-public address."""
    host = check_url(url, allow_private)
    if allow_private:
        return
    port = urlsplit(url).port or 443
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        if not _is_public(str(sockaddr[0])):
            raise TargetRefused(f"{host} resolves to a non-public address")
