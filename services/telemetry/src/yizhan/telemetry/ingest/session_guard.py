"""Before ingest connects: make sure no other broker account can take its session.

The broker keys a persistent session by client id. Were the ingest's account usable with any
client id, or its client id usable by a device, a kiosk's credentials could connect as the
ingest, disconnect it and (with a clean start) erase the messages held for it. Stations binds
every device account to its device id and the ingest's account to its own client id
(`mosquitto_ctrl dynsec setClientId`); this checks that the binding is there."""

import logging
import uuid

from yizhan.common.mqtt import could_be_device_id, login_accepted
from yizhan.telemetry.settings import Settings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 5.0


class SessionNotProtected(RuntimeError):
    """Another account could connect with the ingest's client id."""


def session_problem(settings: Settings) -> str | None:
    """Why the ingest's session could be taken over, or None when it cannot."""
    common = settings.common
    client_id = settings.mqtt_client_id
    if could_be_device_id(client_id):
        return (
            f"client id {client_id!r} could be a device id; use one with a character devices "
            "cannot have, such as a dot (YZ_TELEMETRY_MQTT_CLIENT_ID)"
        )
    if not common.mqtt_username:
        return "the broker lets clients in without an account (YZ_MQTT_USERNAME is not set)"
    password = common.mqtt_password.get_secret_value() if common.mqtt_password else None
    # A throwaway login with another client id: refused when the account is bound to ours.
    stranger = f"{client_id}.probe-{uuid.uuid4().hex[:8]}"
    if login_accepted(
        common.mqtt_host,
        common.mqtt_port,
        common.mqtt_username,
        password,
        stranger,
        PROBE_TIMEOUT_SECONDS,
    ):
        return (
            f"broker account {common.mqtt_username!r} is not bound to client id {client_id!r} "
            "(stations binds it: YZ_STATIONS_TELEMETRY_MQTT_CLIENT_ID)"
        )
    return None


def guard_session(settings: Settings) -> None:
    """Refuse to start in production when the session is not protected; warn otherwise."""
    problem = session_problem(settings)
    if problem is None:
        return
    if settings.common.env == "prod":
        raise SessionNotProtected(f"ingest refuses to start: {problem}")
    log.warning("ingest session could be taken over", extra={"problem": problem})
