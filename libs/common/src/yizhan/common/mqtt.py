"""MQTT client setup shared by the services and tools (paho-mqtt 2, MQTT 5)."""

import re
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from yizhan.common.settings import CommonSettings

# A service's queued messages survive a week of downtime at the broker.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
KEEPALIVE_SECONDS = 30
# paho's default reconnect backoff, capped so a restarted broker is found again quickly.
RECONNECT_MIN_SECONDS = 1
RECONNECT_MAX_SECONDS = 10

TOPIC_PREFIX = "yz/v1/st"
# Device ids, which are also device usernames and (bound by the broker) device client ids.
# Service accounts and service client ids must not match: no device can then be provisioned
# under a service's name and take its session.
DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def could_be_device_id(name: str) -> bool:
    """Whether a device could ever be provisioned under this name (or client id)."""
    return DEVICE_ID.match(name) is not None


def login_accepted(
    host: str, port: int, username: str, password: str | None, client_id: str, timeout: float
) -> bool:
    """Whether the broker accepts a login with these credentials and client id now (a
    throwaway, clean connection). Blocking."""
    answered = threading.Event()
    accepted = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            accepted.set()
        answered.set()

    probe = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    probe.username_pw_set(username, password)
    probe.on_connect = on_connect
    try:
        probe.connect(host, port, keepalive=KEEPALIVE_SECONDS)
    except OSError:
        return False
    probe.loop_start()
    try:
        answered.wait(timeout)
    finally:
        probe.disconnect()
        probe.loop_stop()
    return accepted.is_set()


def device_topic(station_id: str, device_id: str, channel: str) -> str:
    """The topic of one device channel: telemetry, event, status or down."""
    return f"{TOPIC_PREFIX}/{station_id}/dev/{device_id}/{channel}"


def make_client(
    client_id: str, settings: CommonSettings, *, manual_ack: bool = False
) -> mqtt.Client:
    """A paho client with our credentials and reconnect policy; the caller connects it
    (with `connect_properties`)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    client.reconnect_delay_set(RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS)
    context = tls_context(settings)
    if context is not None:
        client.tls_set_context(context)
    return client


class _NamedContext(ssl.SSLContext):
    """A client context that checks the broker's certificate against a fixed server name.

    paho checks against the host it connects to; a broker reached by IP address or through a
    tunnel has a certificate for its real name.
    """

    server_name: str | None = None

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        """Wrap as SSLContext does, naming our server."""
        if self.server_name:
            kwargs["server_hostname"] = self.server_name
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context(settings: CommonSettings) -> ssl.SSLContext | None:
    """The TLS context for the broker (None: plain TCP), verifying against our CA."""
    if settings.mqtt_tls_ca is None:
        return None
    context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(settings.mqtt_tls_ca))
    if settings.mqtt_tls_cert is not None:
        key = str(settings.mqtt_tls_key) if settings.mqtt_tls_key else None
        context.load_cert_chain(str(settings.mqtt_tls_cert), key)
    context.server_name = settings.mqtt_tls_server_name
    return context


def tls_server_name(settings: CommonSettings) -> str:
    """The name the broker's certificate must carry."""
    return settings.mqtt_tls_server_name or settings.mqtt_host


def connect_properties(persistent_session: bool, receive_maximum: int | None = None) -> Properties:
    """CONNECT properties.

    A persistent session keeps a service's subscriptions and queued QoS 1 messages at the
    broker while it is down, so nothing published meanwhile is lost. Receive Maximum bounds
    how many unacknowledged messages the broker sends us at once (our backpressure).
    """
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS if persistent_session else 0
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    return properties
