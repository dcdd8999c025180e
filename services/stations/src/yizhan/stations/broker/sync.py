"""Keeping the broker's accounts in step with the database.

The database decides; the broker follows. After a change (provision, rotate, revoke) the
API pushes that one device at once; when the broker is unreachable then, the device stays
`pending` and the resync brings the broker up to date: on start, after every reconnect of
the admin connection, and every `broker_resync_seconds`. Each push holds the device's row
lock, so a push and a rotation (or two replicas) never interleave.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from yizhan.stations.broker import accounts
from yizhan.stations.broker.control import Answer, BrokerUnavailable, DynsecControl
from yizhan.stations.models import Device
from yizhan.stations.passwords import device_password, verify_secret
from yizhan.stations.settings import Settings

log = logging.getLogger(__name__)

ROLE_EXISTS = "Role already exists"
CLIENT_EXISTS = "Client already exists"
NOT_FOUND = ("Client not found", "Role not found")


class BrokerCommandFailed(Exception):
    """The plugin refused a command we expected to succeed."""


@dataclass(frozen=True)
class ServiceAccount:
    """A service's broker account that stations keeps (telemetry's)."""

    username: str
    password: str
    client_id: str
    role: str
    acls: list[dict[str, Any]]


@dataclass
class ResyncReport:
    """What one resync changed."""

    pushed: int = 0
    removed: int = 0
    failed: int = 0


def _needs_push(device: Device, in_broker: bool, bound_to: str | None = None) -> bool:
    """Whether the broker differs from the database for this device (from the listing):
    absent, an older password, or not bound to its device id as client id."""
    if device.status == "active":
        return (
            not in_broker
            or device.broker_generation != device.credential_generation
            or bound_to != device.id
        )
    return in_broker or device.broker_generation != 0


def _check(answers: Sequence[Answer], tolerated: Sequence[str] = ()) -> None:
    for answer in answers:
        if answer.error is not None and answer.error not in tolerated:
            raise BrokerCommandFailed(f"{answer.command}: {answer.error}")


class BrokerSync:
    """Pushes devices and service accounts to the broker."""

    def __init__(
        self,
        control: DynsecControl,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        self._control = control
        self._sessions = sessions
        self._key = settings.device_key.get_secret_value()
        self._services: list[ServiceAccount] = []
        if settings.telemetry_mqtt_password is not None:
            password = settings.telemetry_mqtt_password.get_secret_value()
            for username, client_id in settings.telemetry_accounts():
                self._services.append(
                    ServiceAccount(
                        username,
                        password,
                        client_id,
                        accounts.TELEMETRY_ROLE,
                        list(accounts.telemetry_acls()),
                    )
                )
        self._interval = settings.broker_resync_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_resync_ok = False

    @property
    def ready(self) -> bool:
        """Connected, and the last resync went through."""
        return self._control.ready and self.last_resync_ok

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that `request_resync` wakes."""
        self._loop = loop

    def request_resync(self) -> None:
        """Resync soon (thread-safe: called from paho's thread on reconnect)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def push_device(self, device_id: str) -> bool:
        """Make the broker hold this device as the database has it; False when the broker
        is unreachable (the device stays pending for the resync)."""
        try:
            await self._push(device_id, None)
        except (BrokerUnavailable, BrokerCommandFailed) as exc:
            log.warning(
                "device not pushed to the broker yet",
                extra={"device_id": device_id, "error": str(exc)},
            )
            return False
        return True

    async def _push(self, device_id: str, in_broker: bool | None, bound: bool = False) -> str:
        """Push one device under its row lock; returns what was done. `bound`: the listing
        showed its account bound to the device id."""
        async with self._sessions() as session, session.begin():
            device = await session.scalar(
                select(Device).where(Device.id == device_id).with_for_update()
            )
            if device is None:
                return "gone"
            if device.status == "active":
                current = device.broker_generation == device.credential_generation
                if in_broker and bound and current:
                    return "unchanged"
                password = device_password(self._key, device.id, device.credential_generation)
                # argon2 takes tens of milliseconds: not on the event loop.
                matches = await asyncio.to_thread(
                    verify_secret, device.mqtt_password_hash, password
                )
                if not matches:
                    # Not ours to derive: provisioned with a random password before derivation,
                    # or YZ_STATIONS_DEVICE_KEY changed. Only a rotation fixes it.
                    raise BrokerCommandFailed(
                        f"device {device.id}: stored hash does not match; rotate its credentials"
                    )
                await self._put_device(device, password)
                device.broker_generation = device.credential_generation
                return "pushed"
            if device.broker_generation == 0 and in_broker is False:
                return "unchanged"
            role = accounts.device_role(device.id)
            answers = await self._control.execute(
                [accounts.delete_client(device.mqtt_username), accounts.delete_role(role)]
            )
            _check(answers, NOT_FOUND)
            device.broker_generation = 0
            return "removed"

    async def _put_device(self, device: Device, password: str) -> None:
        role = accounts.device_role(device.id)
        text_name = f"device {device.id} of station {device.station_id}"
        answers = await self._control.execute(
            [
                accounts.create_role(role, accounts.device_acls(device.station_id, device.id)),
                accounts.create_client(
                    device.mqtt_username, password, role, text_name, client_id=device.id
                ),
            ]
        )
        _check(answers[:1], [ROLE_EXISTS])
        if answers[1].error == CLIENT_EXISTS:
            # A rotation, or a resync of an account the broker kept: the new password
            # also disconnects whoever is connected with the old one.
            answers = await self._control.execute(
                [
                    accounts.set_password(device.mqtt_username, password),
                    accounts.get_client(device.mqtt_username),
                ]
            )
            _check(answers)
            await self._ensure_role(device.mqtt_username, role, answers[1].data)
            await self._ensure_client_id(device.mqtt_username, device.id, answers[1].data)
        else:
            _check(answers[1:])

    async def _ensure_role(self, username: str, role: str, client_data: dict[str, Any]) -> None:
        if role not in accounts.client_roles(client_data):
            _check(await self._control.execute([accounts.add_client_role(username, role)]))

    async def _ensure_client_id(
        self, username: str, client_id: str, client_data: dict[str, Any]
    ) -> None:
        # Accounts made before client ids were bound (or changed by hand) get bound now.
        if accounts.bound_client_id(client_data) != client_id:
            _check(await self._control.execute([accounts.set_client_id(username, client_id)]))

    async def resync(self) -> ResyncReport:
        """Bring every account to what the database says; raises BrokerUnavailable."""
        report = ResyncReport()
        for service in self._services:
            await self._ensure_service(service)
        answers = await self._control.execute([accounts.list_clients(), accounts.list_roles()])
        _check(answers)
        listed = answers[0].data.get("clients", [])
        clients = {c["username"] for c in listed}
        bound = {c["username"]: c.get("clientid") for c in listed}
        # Accounts stations made (they hold a device role); any other account is left alone.
        device_accounts = {
            c["username"]
            for c in listed
            if any(
                str(r.get("rolename", "")).startswith(accounts.DEVICE_ROLE_PREFIX)
                for r in c.get("roles", [])
            )
        }
        roles = {
            r if isinstance(r, str) else r.get("rolename", "")
            for r in answers[1].data.get("roles", [])
        }
        async with self._sessions() as session:
            rows = (await session.execute(select(Device))).scalars().all()
        known = {device.mqtt_username for device in rows}
        for device in rows:
            in_broker = device.mqtt_username in clients
            bound_to = bound.get(device.mqtt_username)
            if not _needs_push(device, in_broker, bound_to):
                continue
            try:
                outcome = await self._push(device.id, in_broker, bound_to == device.id)
            except BrokerCommandFailed as exc:
                report.failed += 1
                log.error(
                    "device not pushed to the broker",
                    extra={"device_id": device.id, "error": str(exc)},
                )
                continue
            report.pushed += outcome == "pushed"
            report.removed += outcome == "removed"
        # Device accounts the database does not know (a broker restored from elsewhere, or
        # another database) lose their access to device topics.
        strays = sorted(device_accounts - known)
        stray_roles = sorted(
            r
            for r in roles
            if r.startswith(accounts.DEVICE_ROLE_PREFIX)
            and r.removeprefix(accounts.DEVICE_ROLE_PREFIX) not in known
        )
        commands = [accounts.delete_client(u) for u in strays] + [
            accounts.delete_role(r) for r in stray_roles
        ]
        if commands:
            _check(await self._control.execute(commands), NOT_FOUND)
            report.removed += len(strays)
        return report

    async def _ensure_service(self, service: ServiceAccount) -> None:
        text_name = f"service {service.role}"
        mark = accounts.password_mark(self._key, service.password)
        answers = await self._control.execute(
            [
                accounts.create_role(service.role, service.acls),
                accounts.create_client(
                    service.username,
                    service.password,
                    service.role,
                    text_name,
                    client_id=service.client_id,
                    description=mark,
                ),
                accounts.get_role(service.role),
                accounts.get_client(service.username),
            ]
        )
        _check(answers[:2], [ROLE_EXISTS, CLIENT_EXISTS])
        _check(answers[2:])
        # A role made by an older version may lack an ACL, or hold one no longer wanted.
        acls = answers[2].data.get("role", {}).get("acls", [])
        current = {(a["acltype"], a["topic"]) for a in acls if a.get("allow", True)}
        wanted = {(a["acltype"], a["topic"]) for a in service.acls}
        fixes = [
            accounts.add_role_acl(service.role, a)
            for a in service.acls
            if (a["acltype"], a["topic"]) not in current
        ]
        fixes += [
            accounts.remove_role_acl(service.role, {"acltype": acltype, "topic": topic})
            for acltype, topic in current - wanted
        ]
        if fixes:
            _check(await self._control.execute(fixes))
        await self._ensure_role(service.username, service.role, answers[3].data)
        await self._ensure_client_id(service.username, service.client_id, answers[3].data)
        if accounts.client_description(answers[3].data) != mark:
            await self._reset_service_password(service, mark)

    async def _reset_service_password(self, service: ServiceAccount, mark: str) -> None:
        """Set the password and remember its mark in the account's description. A bound
        account cannot be probed with a throwaway login (and a login with its own client id
        would take its session), so the mark says whether the broker has this password; a
        reset disconnects the service, so it happens only when the mark differs."""
        log.info("resetting a service's broker password", extra={"username": service.username})
        _check(
            await self._control.execute(
                [
                    accounts.set_password(service.username, service.password),
                    accounts.set_description(service.username, mark),
                ]
            )
        )

    async def run(self) -> None:
        """Resync on start, after each reconnect, and every interval; never raises."""
        while True:
            if self._control.ready:
                try:
                    report = await self.resync()
                    self.last_resync_ok = True
                    if report.pushed or report.removed or report.failed:
                        log.info("broker resynchronised", extra=vars(report))
                except (BrokerUnavailable, BrokerCommandFailed) as exc:
                    self.last_resync_ok = False
                    log.warning("broker resync failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()


@contextlib.asynccontextmanager
async def running(sync: BrokerSync, control: DynsecControl) -> AsyncIterator[None]:
    """Connect the admin account and keep the broker in step while the service runs."""
    # Bound before connecting: the first on_ready (from paho's thread) must find the loop.
    sync.bind_loop(asyncio.get_running_loop())
    control.start()
    task = asyncio.create_task(sync.run(), name="broker-resync")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(control.stop)
