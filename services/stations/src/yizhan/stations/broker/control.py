"""The admin connection to Mosquitto's dynamic security plugin: commands go to
`$CONTROL/dynamic-security/v1` as JSON, answers come back on `.../response`, matched to
their command by `correlationData`."""

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from yizhan.common.mqtt import KEEPALIVE_SECONDS, RECONNECT_MAX_SECONDS, RECONNECT_MIN_SECONDS
from yizhan.stations.broker.accounts import Command

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
# Commands per control message: the plugin rewrites its JSON file once per message, and one
# answer must stay well below any packet size limit.
BATCH_SIZE = 50


class BrokerUnavailable(Exception):
    """The broker is not connected, or did not answer in time."""


@dataclass(frozen=True)
class Answer:
    """The plugin's answer to one command: `error` is None on success."""

    command: str
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.error is None


class DynsecControl:
    """One MQTT connection with the plugin's admin account; reconnects by itself.
    `on_ready` runs (in paho's thread) each time the connection is up and listening."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        timeout_seconds: float,
        reconnect_max_seconds: int = RECONNECT_MAX_SECONDS,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout_seconds
        self._on_ready = on_ready
        self._pending: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Answer]]] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._response_mid: int | None = None
        # A client id of its own per process: two stations replicas must not kick each other.
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"yz.stations-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(username, password)
        self._client.reconnect_delay_set(RECONNECT_MIN_SECONDS, reconnect_max_seconds)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.enable_logger(logging.getLogger("paho.stations-admin"))

    @property
    def ready(self) -> bool:
        """Whether commands can be sent now."""
        return self._ready.is_set()

    def start(self) -> None:
        """Connect in the background, retrying until the broker answers."""
        self._client.connect_async(self._host, self._port, keepalive=KEEPALIVE_SECONDS)
        self._client.loop_start()
        log.info("broker admin connecting", extra={"broker": f"{self._host}:{self._port}"})

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._ready.clear()
        self._client.disconnect()
        self._client.loop_stop()
        self._fail_pending("stopping")

    async def execute(self, commands: Sequence[Command]) -> list[Answer]:
        """Run commands in order; one answer per command. Raises BrokerUnavailable."""
        answers: list[Answer] = []
        for first in range(0, len(commands), BATCH_SIZE):
            answers += await self._execute_batch(commands[first : first + BATCH_SIZE])
        return answers

    async def _execute_batch(self, commands: Sequence[Command]) -> list[Answer]:
        if not self._ready.is_set():
            raise BrokerUnavailable("not connected to the broker")
        loop = asyncio.get_running_loop()
        tagged: list[Command] = []
        futures: list[asyncio.Future[Answer]] = []
        with self._lock:
            for command in commands:
                tag = uuid.uuid4().hex
                future: asyncio.Future[Answer] = loop.create_future()
                self._pending[tag] = (loop, future)
                tagged.append({**command, "correlationData": tag})
                futures.append(future)
        payload = json.dumps({"commands": tagged})
        info = self._client.publish(CONTROL_TOPIC, payload, qos=1)
        try:
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise BrokerUnavailable(f"publish failed ({info.rc})")
            async with asyncio.timeout(self._timeout):
                return list(await asyncio.gather(*futures))
        except TimeoutError as exc:
            raise BrokerUnavailable("the broker did not answer in time") from exc
        finally:
            with self._lock:
                for command in tagged:
                    self._pending.pop(command["correlationData"], None)

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for loop, future in pending:
            loop.call_soon_threadsafe(_set_exception, future, BrokerUnavailable(why))

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the admin account", extra={"reason": str(reason)})
            return
        result, mid = client.subscribe(RESPONSE_TOPIC, qos=1)
        self._response_mid = mid if result == mqtt.MQTT_ERR_SUCCESS else None

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        if mid != self._response_mid:
            return
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the admin subscription: is this the plugin's admin?")
            return
        self._ready.set()
        log.info("broker admin connected")
        if self._on_ready is not None:
            self._on_ready()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        self._fail_pending("disconnected from the broker")
        if was_ready:
            log.warning("broker admin disconnected", extra={"reason": str(reason)})

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            log.warning(
                "unreadable dynamic security answer", extra={"payload": message.payload[:200]}
            )
            return
        for response in responses:
            tag = response.get("correlationData")
            with self._lock:
                waiting = self._pending.pop(tag, None) if isinstance(tag, str) else None
            if waiting is None:
                continue  # another replica's command, or one that timed out
            loop, future = waiting
            answer = Answer(
                command=str(response.get("command", "")),
                error=response.get("error"),
                data=response.get("data") or {},
            )
            loop.call_soon_threadsafe(_set_result, future, answer)


def _set_result(future: "asyncio.Future[Answer]", answer: Answer) -> None:
    if not future.done():
        future.set_result(answer)


def _set_exception(future: "asyncio.Future[Answer]", error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
