"""A kiosk that never loses a reading: everything it measures goes to its disk outbox
first (outbox.py) and is sent from there, oldest first, at QoS 1 with a bounded number in
flight; a reading leaves the outbox only when the broker acknowledged it. After an outage
the backlog drains in order; a reading sent twice (acknowledgement lost) carries the same
`seq` and is stored once.

Clock: readings keep the kiosk's own clock time; `ts` is computed when they are sent, with
the correction learnt from the server's `time` message (asked for with `time.sync` at every
connection, and sent unasked when a message was refused for its `ts`). Sending waits for
that answer after connecting (a few seconds at most), so readings measured while the clock
was wrong still arrive with the right time.

The connection: the status Last Will (`offline`, retained), `online` on connecting, TLS
with the station's CA, and paho's reconnection with exponential backoff; each delay
starts from a random fraction so that a station's kiosks do not reconnect in step."""

import contextlib
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from yizhan.kiosk.outbox import Outbox

log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = 1
TOPIC_PREFIX: Final = "yz/v1/st"
# How long sending waits for the server's time after connecting (an older server may not
# answer `time.sync`; readings then go with the kiosk's own clock).
TIME_WAIT_SECONDS: Final = 5.0
# The sender sleeps until there is something to do (a reading kept, an acknowledgement, a
# connection, the server's time); this is only how often it looks anyway.
SEND_IDLE_SECONDS: Final = 1.0
# How long stop() waits for its `offline` status to be acknowledged.
GOODBYE_SECONDS: Final = 2.0
RECONNECT_MIN_SECONDS: Final = 1
RECONNECT_MAX_SECONDS: Final = 60


def _epoch_ms(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)


class Kiosk:
    """One device's connection and outbox (`data_dir` holds the outbox and its seq)."""

    def __init__(
        self,
        station_id: str,
        device_id: str,
        *,
        host: str,
        port: int,
        data_dir: Path,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        max_in_flight: int = 20,
        firmware: str = "yizhan-kiosk-0.1",
        clock: Callable[[], float] = time.time,
        on_checkin: Callable[[dict[str, Any]], None] = lambda result: None,
    ) -> None:
        self.station_id, self.device_id = station_id, device_id
        self._base = f"{TOPIC_PREFIX}/{station_id}/dev/{device_id}"
        self._host, self._port = host, port
        self._clock = clock
        self._firmware = firmware
        self._on_checkin = on_checkin
        self._max_in_flight = max_in_flight
        self.outbox = Outbox(data_dir / f"{device_id}.outbox.sqlite")
        # Server time minus our clock, in ms (0 until the server said).
        self.offset_ms = 0
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # mid -> seq
        # Acknowledgements that came before their publish() returned (see _send_loop).
        self._acked_early: set[int] = set()
        # Counts disconnections: a publish that straddles one is left to be sent again.
        self._link_generation = 0
        self._sent_up_to = -1
        self._connected_at: float | None = None
        self._time_heard = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sender = threading.Thread(target=self._send_loop, name=f"kiosk-{device_id}")
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=device_id,
            protocol=mqtt.MQTTv5,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if ca_file is not None:
            self._client.tls_set(ca_certs=str(ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self._client.reconnect_delay_set(
            random.randint(RECONNECT_MIN_SECONDS, 3), RECONNECT_MAX_SECONDS
        )
        self._client.will_set(f"{self._base}/status", self._status("offline"), 1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message

    # What the kiosk measures.

    def telemetry(self, **metrics: float) -> int:
        """Keep metric readings taken now; their seq."""
        seq = self.outbox.add("telemetry", self._local_ms(), {"metrics": metrics})
        self._wake.set()
        return seq

    def event(self, kind: str, **fields: Any) -> int:
        """Keep an event that happened now (`visit`, `heat.use`, `checkin.scan`...); its seq."""
        seq = self.outbox.add("event", self._local_ms(), {"type": kind, **fields})
        self._wake.set()
        return seq

    def past_events(self, events: Iterable[tuple[float, str, dict[str, Any]]]) -> int:
        """Keep events that happened earlier, as (the kiosk's clock time in seconds, type,
        fields): a log read back from equipment after the kiosk was down. All are written
        in one transaction; how many."""
        kept = self.outbox.add_many(
            ("event", int(at * 1000), {"type": kind, **fields}) for at, kind, fields in events
        )
        self._wake.set()
        return len(kept)

    # The connection.

    def start(self) -> None:
        """Connect (retrying in the background) and start sending."""
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()
        self._sender.start()

    def stop(self) -> None:
        """Stop sending, say `offline` (a kiosk switched off on purpose is not left to its
        Last Will) and disconnect; what is not acknowledged stays in the outbox."""
        self._stop.set()
        self._wake.set()
        self._sender.join(10)
        if self._client.is_connected():
            goodbye = self._client.publish(
                f"{self._base}/status", self._status("offline"), 1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                goodbye.wait_for_publish(GOODBYE_SECONDS)
        self._client.disconnect()
        self._client.loop_stop()
        self.outbox.close()

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the connection."""
        return self._client.is_connected()

    def _local_ms(self) -> int:
        return int(self._clock() * 1000)

    def _status(self, state: str) -> str:
        ts = int(self._clock() * 1000) + self.offset_ms
        return json.dumps({"v": PROTOCOL_VERSION, "state": state, "ts": ts, "fw": self._firmware})

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused the kiosk: %s", reason)
            return
        client.subscribe(f"{self._base}/down", qos=1)
        client.publish(f"{self._base}/status", self._status("online"), 1, retain=True)
        client.publish(f"{self._base}/event", json.dumps({"v": 1, "type": "time.sync"}), 1)
        with self._lock:
            self._time_heard.clear()
            self._connected_at = time.monotonic()
        self._wake.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        # Whatever was in flight goes again after reconnecting (same seq: stored once).
        with self._lock:
            self._in_flight.clear()
            self._acked_early.clear()
            self._link_generation += 1
            self._sent_up_to = -1
            self._connected_at = None

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        with self._lock:
            seq = self._in_flight.pop(mid, None)
            if seq is None:
                self._acked_early.add(mid)
        if seq is not None:
            self.outbox.remove(seq)
            self._wake.set()  # room for another

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if body.get("type") == "time" and isinstance(body.get("now"), str):
            self.offset_ms = _epoch_ms(body["now"]) - self._local_ms()
            self._time_heard.set()
            self._wake.set()
        elif body.get("type") == "checkin.result":
            self._on_checkin(body)

    def _ready_to_send(self) -> bool:
        with self._lock:
            since = self._connected_at
        if since is None or not self._client.is_connected():
            return False
        return self._time_heard.is_set() or time.monotonic() - since > TIME_WAIT_SECONDS

    def _send_loop(self) -> None:
        while True:
            self._wake.wait(SEND_IDLE_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self._ready_to_send():
                continue
            with self._lock:
                room = self._max_in_flight - len(self._in_flight)
                after = self._sent_up_to
                generation = self._link_generation
            if room <= 0:
                continue
            for item in self.outbox.oldest(room, after):
                payload = {"v": PROTOCOL_VERSION, "seq": item.seq, **item.body}
                payload["ts"] = item.local_ms + self.offset_ms
                # Never call paho holding our lock: its network thread holds paho's own lock
                # while it calls _on_publish, which takes ours (the two would wait on each
                # other for ever, and the kiosk would stop even answering pings).
                info = self._client.publish(
                    f"{self._base}/{item.channel}", json.dumps(payload), qos=1
                )
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break
                with self._lock:
                    if generation != self._link_generation:
                        break  # disconnected meanwhile: all goes again after reconnecting
                    self._sent_up_to = item.seq
                    early = info.mid in self._acked_early
                    if early:
                        self._acked_early.discard(info.mid)
                    else:
                        self._in_flight[info.mid] = item.seq
                if early:
                    self.outbox.remove(item.seq)
