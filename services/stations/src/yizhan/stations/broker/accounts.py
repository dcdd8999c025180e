"""Broker accounts and what they may do, as dynamic security plugin commands.

The plugin's default ACL access (set by `mosquitto_ctrl dynsec init`) denies publishing and
subscribing; these roles allow exactly what the device protocol needs:
- a device publishes `telemetry`, `event` and `status` under its own station and device ids,
  and subscribes only to its own `down` topic;
- telemetry subscribes to every device topic (also as a shared subscription) and publishes
  only `down` answers.
"""

import hashlib
import hmac
from typing import Any

from yizhan.common.mqtt import TOPIC_PREFIX, device_topic

Command = dict[str, Any]
DEVICE_ROLE_PREFIX = "device."
TELEMETRY_ROLE = "service.telemetry"
UPLINK_CHANNELS = ("telemetry", "event", "status")
# Everything devices publish, as a subscription filter.
ALL_DEVICE_TOPICS = f"{TOPIC_PREFIX}/+/dev/+/+"


def _allow(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def device_role(device_id: str) -> str:
    """The role holding one device's ACLs (one per device: its topics name its station)."""
    return f"{DEVICE_ROLE_PREFIX}{device_id}"


def device_acls(station_id: str, device_id: str) -> list[dict[str, Any]]:
    """Publish its own uplink topics, subscribe to its own downlink."""
    acls = [
        _allow("publishClientSend", device_topic(station_id, device_id, channel))
        for channel in UPLINK_CHANNELS
    ]
    acls.append(_allow("subscribeLiteral", device_topic(station_id, device_id, "down")))
    return acls


def telemetry_acls() -> list[dict[str, Any]]:
    """Ingest everything (plain or `$share/<group>/...`), answer on `down` only."""
    return [
        _allow("subscribePattern", ALL_DEVICE_TOPICS),
        _allow("subscribePattern", f"$share/+/{ALL_DEVICE_TOPICS}"),
        _allow("publishClientSend", f"{TOPIC_PREFIX}/+/dev/+/down"),
    ]


def create_role(role: str, acls: list[dict[str, Any]]) -> Command:
    """Create a role with its ACLs (fails with "Role already exists" when it does)."""
    return {"command": "createRole", "rolename": role, "acls": acls}


def create_client(
    username: str,
    password: str,
    role: str,
    text_name: str,
    client_id: str,
    description: str = "",
) -> Command:
    """Create an account holding one role, usable only with `client_id` (fails with
    "Client already exists"). The binding is what stops one account from connecting under
    another's client id and taking over its session."""
    return {
        "command": "createClient",
        "username": username,
        "password": password,
        "clientid": client_id,
        "textname": text_name,
        "textdescription": description,
        "roles": [{"rolename": role, "priority": 0}],
    }


def set_client_id(username: str, client_id: str) -> Command:
    """Bind an existing account to a client id; the plugin disconnects its connection."""
    return {"command": "setClientId", "username": username, "clientid": client_id}


def password_mark(key: str, password: str) -> str:
    """A keyed fingerprint of a service password, kept in its account's description (it
    tells whether the broker holds this password without revealing it)."""
    digest = hmac.new(key.encode(), password.encode(), hashlib.sha256).hexdigest()[:32]
    return f"password-mark:{digest}"


def set_description(username: str, text: str) -> Command:
    """Set an account's free-text description."""
    return {"command": "modifyClient", "username": username, "textdescription": text}


def client_description(answer_data: dict[str, Any]) -> str | None:
    """The description in a getClient answer."""
    text = answer_data.get("client", {}).get("textdescription")
    return text if isinstance(text, str) else None


def bound_client_id(answer_data: dict[str, Any]) -> str | None:
    """The client id a getClient answer shows the account bound to (None: any)."""
    client_id = answer_data.get("client", {}).get("clientid")
    return client_id if isinstance(client_id, str) and client_id else None


def set_password(username: str, password: str) -> Command:
    """New password; the plugin disconnects the account's current connection."""
    return {"command": "setClientPassword", "username": username, "password": password}


def add_client_role(username: str, role: str) -> Command:
    """Give an existing account a role (Mosquitto 2.0 answers "Internal error" when the
    account has it already: check with get_client first)."""
    return {"command": "addClientRole", "username": username, "rolename": role, "priority": 0}


def delete_client(username: str) -> Command:
    """Remove an account; the plugin disconnects it at once."""
    return {"command": "deleteClient", "username": username}


def delete_role(role: str) -> Command:
    """Remove a role."""
    return {"command": "deleteRole", "rolename": role}


def get_client(username: str) -> Command:
    """An account with its roles."""
    return {"command": "getClient", "username": username}


def client_roles(answer_data: dict[str, Any]) -> set[str]:
    """The role names in a getClient answer."""
    roles = answer_data.get("client", {}).get("roles", [])
    return {role.get("rolename", "") for role in roles if isinstance(role, dict)}


def get_role(role: str) -> Command:
    """A role with its ACLs."""
    return {"command": "getRole", "rolename": role}


def add_role_acl(role: str, acl: dict[str, Any]) -> Command:
    """Add one ACL to a role."""
    return {"command": "addRoleACL", "rolename": role, **acl}


def remove_role_acl(role: str, acl: dict[str, Any]) -> Command:
    """Remove one ACL from a role."""
    return {
        "command": "removeRoleACL",
        "rolename": role,
        "acltype": acl["acltype"],
        "topic": acl["topic"],
    }


def list_clients() -> Command:
    """Every account with its roles."""
    return {"command": "listClients", "verbose": True, "count": -1, "offset": 0}


def list_roles() -> Command:
    """Every role name."""
    return {"command": "listRoles", "verbose": False, "count": -1, "offset": 0}
