"""Simulated station kiosks: every demo device publishes per CONTRACT §2, with a daily rhythm
(lunch and evening peaks), charging sessions, dispenses, faults, status and Last Will."""

import json
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt

from yizhan.common.mqtt import connect_properties, device_topic, make_client
from yizhan.common.settings import CommonSettings
from yizhan.devstack.demo import STATIONS, DemoStation, device_ids

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
# Each device reports at least this often (the contract asks for at least every 60 s).
TICK_SECONDS = 10.0
# Person-visits per hour at an average station, by local hour: quiet nights, a lunch peak
# around 12:00 and an evening peak around 18:30, when riders wait between orders.
BASE_VISITS_PER_HOUR = 6.0
LUNCH_PEAK, EVENING_PEAK = 12.0, 18.5
CONNECT_TIMEOUT_SECONDS = 10.0


def visits_per_hour(local_hour: float, traffic: float) -> float:
    """Expected person-visits per hour at a station at this local time."""
    night = 0.15 if local_hour < 6 or local_hour >= 23 else 1.0
    lunch = 22 * math.exp(-(((local_hour - LUNCH_PEAK) / 0.9) ** 2))
    evening = 18 * math.exp(-(((local_hour - EVENING_PEAK) / 1.1) ** 2))
    return traffic * night * (BASE_VISITS_PER_HOUR + lunch + evening)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; means here are small)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class SeqClock:
    """Per-device `seq`: microseconds since the epoch, strictly increasing, so it also keeps
    increasing across simulator restarts without any saved state."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next sequence number."""
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last


@dataclass
class Device:
    """One simulated device with its own MQTT connection."""

    station: DemoStation
    device_id: str
    kind: str
    client: mqtt.Client
    seq: SeqClock = field(default_factory=SeqClock)
    open_session: str | None = None
    tank_l: float = 18.0
    fault_open: bool = False

    def topic(self, channel: str) -> str:
        """This device's topic of a channel."""
        return device_topic(self.station.id, self.device_id, channel)

    def publish(self, channel: str, body: dict[str, Any], ts: datetime | None = None) -> None:
        """Publish a telemetry or event message at QoS 1."""
        payload = {"v": 1, "seq": self.seq.next(), "ts": _rfc3339(ts or datetime.now(TZ)), **body}
        self.client.publish(self.topic(channel), json.dumps(payload), qos=1)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(TZ).isoformat(timespec="milliseconds")


def _status(state: str) -> str:
    return json.dumps({"v": 1, "state": state, "ts": _rfc3339(datetime.now(TZ)), "fw": "1.4.2"})


class Simulator:
    """All demo devices, ticking every TICK_SECONDS until stopped."""

    def __init__(
        self,
        settings: CommonSettings,
        seed: int | None = None,
        credentials: dict[str, tuple[str, str]] | None = None,
        tls: tuple[int, Path] | None = None,
    ) -> None:
        """`credentials`: device id → provisioned (username, password), for a broker that
        enforces accounts; `tls`: (port, CA file) to connect over TLS as kiosks do."""
        self._settings = settings
        self._credentials = credentials or {}
        self._tls = tls
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self.devices: list[Device] = []

    def connect(self) -> None:
        """Connect every device (status online, Last Will offline)."""
        for station in STATIONS:
            for device_id, kind in device_ids(station.id):
                # Bound by the broker: a device connects with its own id as client id.
                client = make_client(device_id, self._settings)
                if device_id in self._credentials:
                    client.username_pw_set(*self._credentials[device_id])
                port = self._settings.mqtt_port
                if self._tls is not None:
                    port, ca_file = self._tls
                    client.tls_set(ca_certs=str(ca_file))
                device = Device(station, device_id, kind, client)
                client.will_set(device.topic("status"), _status("offline"), qos=1, retain=True)
                client.connect_async(
                    self._settings.mqtt_host,
                    port,
                    keepalive=60,
                    clean_start=True,
                    properties=connect_properties(persistent_session=False),
                )
                client.on_connect = _on_connect(device)
                client.loop_start()
                self.devices.append(device)
        deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not all(
            d.client.is_connected() for d in self.devices
        ):
            time.sleep(0.1)
        connected = sum(d.client.is_connected() for d in self.devices)
        log.info("simulated devices connected", extra={"devices": connected})

    def run(self) -> None:
        """Publish until stop() is called."""
        while not self._stop.is_set():
            started = time.monotonic()
            for device in self.devices:
                self._tick(device, TICK_SECONDS)
            self._stop.wait(max(0.0, TICK_SECONDS - (time.monotonic() - started)))

    def stop(self) -> None:
        """Say offline, disconnect every device."""
        self._stop.set()
        for device in self.devices:
            device.client.publish(device.topic("status"), _status("offline"), qos=1, retain=True)
            device.client.disconnect()
            device.client.loop_stop()

    def _tick(self, device: Device, seconds: float) -> None:
        now = datetime.now(TZ)
        hour = now.hour + now.minute / 60
        rate = visits_per_hour(hour, device.station.traffic) * seconds / 3600
        rng = self._rng
        if device.kind == "counter":
            count = poisson(rng, rate)
            if count:
                device.publish("event", {"type": "visit", "count": min(count, 1000)})
            else:
                device.publish("telemetry", {"metrics": {"people_inside": poisson(rng, 3)}})
        elif device.kind == "water":
            for _ in range(poisson(rng, rate * 0.7)):
                liters = round(rng.uniform(0.2, 0.8), 2)
                device.tank_l = max(0.0, device.tank_l - liters)
                temp = rng.choice(["hot", "warm"])
                device.publish("event", {"type": "water.dispense", "liters": liters, "temp": temp})
            if device.tank_l < 3 and not device.fault_open:
                device.fault_open = True
                device.publish(
                    "event",
                    {
                        "type": "fault",
                        "code": "WATER_LOW",
                        "severity": "warning",
                        "message": "tank below 3 L",
                    },
                )
            elif device.tank_l < 3 and rng.random() < 0.2:  # the station refills the tank
                device.tank_l = 18.0
                device.fault_open = False
                device.publish("event", {"type": "fault.clear", "code": "WATER_LOW"})
            device.publish(
                "telemetry",
                {
                    "metrics": {
                        "tank_l": round(device.tank_l, 2),
                        "water_temp_c": round(rng.uniform(88, 96), 1),
                    }
                },
            )
        elif device.kind == "charger":
            if device.open_session is None and rng.random() < min(0.9, rate * 0.5):
                device.open_session = f"S{device.seq.next()}"
                device.publish(
                    "event",
                    {
                        "type": "charge.start",
                        "session": device.open_session,
                        "connector": rng.randint(1, 4),
                    },
                )
            elif device.open_session is not None and rng.random() < 0.3:
                device.publish(
                    "event",
                    {
                        "type": "charge.stop",
                        "session": device.open_session,
                        "energy_wh": round(rng.uniform(40, 600), 1),
                        "reason": "finished",
                    },
                )
                device.open_session = None
            power = rng.uniform(300, 900) if device.open_session else 0.0
            device.publish("telemetry", {"metrics": {"power_w": round(power, 1)}})
        else:
            device.publish("telemetry", {"metrics": {"cpu_temp_c": round(rng.uniform(40, 60), 1)}})

    def backfill(self, days: int) -> int:
        """Publish the past `days` as a kiosk would after an outage (store and forward): one
        aggregated visit, dispense and charging event per device and hour. Returns messages."""
        now = datetime.now(TZ).replace(minute=0, second=0, microsecond=0)
        sent = 0
        for device in self.devices:
            for hours_ago in range(days * 24, 0, -1):
                moment = now - timedelta(hours=hours_ago)
                expected = visits_per_hour(moment.hour + 0.5, device.station.traffic)
                ts = moment + timedelta(minutes=self._rng.randint(0, 59))
                if device.kind == "counter":
                    count = poisson(self._rng, expected)
                    if count:
                        device.publish("event", {"type": "visit", "count": count}, ts)
                        sent += 1
                elif device.kind == "water":
                    for _ in range(min(20, poisson(self._rng, expected * 0.5))):
                        liters = round(self._rng.uniform(0.2, 0.8), 2)
                        device.publish("event", {"type": "water.dispense", "liters": liters}, ts)
                        sent += 1
                elif device.kind == "charger":
                    for n in range(min(6, poisson(self._rng, expected * 0.15))):
                        session = f"H{device.seq.next()}"
                        device.publish(
                            "event",
                            {
                                "type": "charge.stop",
                                "session": session,
                                "energy_wh": round(self._rng.uniform(40, 600), 1),
                                "reason": "finished",
                            },
                            ts + timedelta(seconds=n),
                        )
                        sent += 1
            # Pace the backlog so the broker's queue for one client stays small.
            time.sleep(0.05)
        return sent


def _on_connect(device: Device) -> Any:
    def on_connect(
        client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            log.warning(
                "device refused by broker",
                extra={"device": device.device_id, "reason": str(reason_code)},
            )
            return
        client.publish(device.topic("status"), _status("online"), qos=1, retain=True)

    return on_connect
