"""Device credentials and topic rules answered over HTTP, for a broker that asks (a cluster).

A clustering broker (EMQX 5, see deploy/k8s/broker/) cannot run Mosquitto's dynamic security
plugin; instead it asks stations, at each CONNECT (authentication) and each PUBLISH or
SUBSCRIBE (authorization). The rules are those of the plugin path (`accounts.py`):
- a device logs in with its device id as username *and* client id, and the password of its
  current credential generation; a revoked device, or an older generation, is refused;
- a device publishes `telemetry`, `event`, `status` on its own topics and subscribes only
  to its own `down`;
- telemetry's ingest account subscribes to every device topic (also as `$share/<group>/...`)
  and publishes only `down`; its client ids start with its own client id (devices cannot
  have a dot, so no device can take the ingest's session, nor the ingest a device's).
Every answer reads the database: a revocation or rotation holds from the next request on.
"""

import asyncio
import hmac
import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from yizhan.common.mqtt import TOPIC_PREFIX
from yizhan.stations import repository
from yizhan.stations.broker.accounts import UPLINK_CHANNELS
from yizhan.stations.passwords import device_password, verify_secret
from yizhan.stations.schemas import ID_PATTERN

Action = Literal["publish", "subscribe"]
_PREFIX_LEVELS = TOPIC_PREFIX.split("/")  # ["yz", "v1", "st"]
# Device ids, which are also device usernames and client ids (CONTRACT §2).
DEVICE_ID = re.compile(ID_PATTERN)
_REPLICA_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{1,64}|-[0-9]{1,2}")


@dataclass(frozen=True)
class ServiceLogin:
    """The ingest's broker account as stations knows it."""

    username: str
    password: str
    client_id: str


def service_client_id_ok(login: ServiceLogin, client_id: str) -> bool:
    """The ingest's own client id, or one process's of a shared group: `<id>.<name>` (a pod
    name: letters, digits, `-`, `_`) or `<id>-<n>`. Nothing longer, so that a login under
    `<id>.<name>.<more>` is refused as any foreign client id is (issue 9's session guard
    probes exactly that)."""
    base = login.client_id
    if client_id == base:
        return True
    rest = client_id.removeprefix(base)
    if rest == client_id:
        return False
    return bool(_REPLICA_SUFFIX.fullmatch(rest))


async def authenticate(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    client_id: str,
    device_key: str,
    service: ServiceLogin | None,
) -> bool:
    """Whether this CONNECT may go through."""
    if service is not None and username == service.username:
        return service_client_id_ok(service, client_id) and hmac.compare_digest(
            password.encode(), service.password.encode()
        )
    if not DEVICE_ID.fullmatch(username) or client_id != username:
        return False
    device = await repository.get_device(session, username)
    if device is None or device.status != "active" or device.mqtt_username != username:
        return False
    current = device_password(device_key, device.id, device.credential_generation)
    if hmac.compare_digest(password.encode(), current.encode()):
        return True
    # A device provisioned before passwords were derived: only its stored hash knows it
    # (argon2 takes tens of milliseconds: not on the event loop).
    return await asyncio.to_thread(verify_secret, device.mqtt_password_hash, password)


def _levels(topic: str) -> list[str] | None:
    """The levels of a device topic or filter (`yz/v1/st/{s}/dev/{d}/{channel}`), or None."""
    levels = topic.split("/")
    if len(levels) != 7 or levels[:3] != _PREFIX_LEVELS or levels[4] != "dev":
        return None
    return levels


def service_filter_ok(topic: str) -> bool:
    """A filter inside `yz/v1/st/+/dev/+/+`, plain or shared."""
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        if len(parts) != 3 or not parts[1] or "+" in parts[1] or "#" in parts[1]:
            return False
        topic = parts[2]
    levels = _levels(topic)
    if levels is None:
        return False
    return all(level == "+" or DEVICE_ID.fullmatch(level) for level in (levels[3], levels[5])) and (
        levels[6] == "+" or levels[6] in (*UPLINK_CHANNELS, "down")
    )


def _service_publish_ok(topic: str) -> bool:
    """An answer on one device's `down`."""
    levels = _levels(topic)
    return (
        levels is not None
        and levels[6] == "down"
        and DEVICE_ID.fullmatch(levels[3]) is not None
        and DEVICE_ID.fullmatch(levels[5]) is not None
    )


async def authorize(
    session: AsyncSession,
    *,
    username: str,
    client_id: str,
    topic: str,
    action: str,
    service: ServiceLogin | None,
) -> bool:
    """Whether this account may publish to, or subscribe to, this topic (filter)."""
    if service is not None and username == service.username:
        if not service_client_id_ok(service, client_id):
            return False
        if action == "subscribe":
            return service_filter_ok(topic)
        return action == "publish" and _service_publish_ok(topic)
    if not DEVICE_ID.fullmatch(username) or client_id != username:
        return False
    device = await repository.get_device(session, username)
    if device is None or device.status != "active":
        return False
    own = f"{TOPIC_PREFIX}/{device.station_id}/dev/{device.id}"
    if action == "publish":
        return topic in {f"{own}/{channel}" for channel in UPLINK_CHANNELS}
    return action == "subscribe" and topic == f"{own}/down"
