"""Simulated station kiosks: every demo device runs on the reference kiosk client
(yizhan.kiosk: disk outbox, persisted seq, TLS, clock correction, status and Last Will) and
measures with a daily rhythm (lunch and evening peaks): visits, charging sessions,
dispenses, heating uses, now and then a fault; one kiosk of the network is switched off
after its history, so the demo also shows a device offline."""

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from yizhan.common.settings import CommonSettings
from yizhan.devstack.demo import STATIONS, DemoStation, device_ids
from yizhan.kiosk.client import Kiosk

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
# Each device reports at least this often (the contract asks for at least every 60 s).
TICK_SECONDS = 10.0
# Person-visits per hour at an average station, by local hour: quiet nights, a lunch peak
# around 12:00 and an evening peak around 18:30, when riders wait between orders.
BASE_VISITS_PER_HOUR = 6.0
LUNCH_PEAK, EVENING_PEAK = 12.0, 18.5
CONNECT_TIMEOUT_SECONDS = 10.0
# The demo's kiosk that has been switched off (its history is there, then silence: an
# `offline` alarm), and its charger whose fan broke (an open critical alarm).
SWITCHED_OFF = "JX-GX-0003-kiosk"
BROKEN = ("CQ-YZ-0004-charger-1", "FAN_FAILURE", "critical", "cooling fan stopped")


def visits_per_hour(local_hour: float, traffic: float) -> float:
    """Expected person-visits per hour at a station at this local time."""
    night = 0.15 if local_hour < 6 or local_hour >= 23 else 1.0
    lunch = 22 * math.exp(-(((local_hour - LUNCH_PEAK) / 0.9) ** 2))
    evening = 18 * math.exp(-(((local_hour - EVENING_PEAK) / 1.1) ** 2))
    return traffic * night * (BASE_VISITS_PER_HOUR + lunch + evening)


def heat_uses_per_hour(local_hour: float, traffic: float) -> float:
    """Expected microwave uses per hour: riders warm their food at lunch and dinner, hardly
    otherwise (the fourth promise, 饭凉能加热)."""
    lunch = 9 * math.exp(-(((local_hour - LUNCH_PEAK) / 0.7) ** 2))
    evening = 7 * math.exp(-(((local_hour - EVENING_PEAK) / 0.9) ** 2))
    return traffic * (0.2 + lunch + evening)


def heat_seconds(rng: random.Random) -> int:
    """How long one use runs: mostly one to three minutes, within the protocol's 1 to 1800."""
    return max(1, min(1800, round(rng.gauss(120, 45))))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; means here are small)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class Device:
    """One simulated device: its station, kind and reference kiosk client."""

    station: DemoStation
    device_id: str
    kind: str
    kiosk: Kiosk
    open_session: str | None = None
    sessions: int = 0
    tank_l: float = 18.0
    fault_open: bool = False


class Simulator:
    """All demo devices, ticking every TICK_SECONDS until stopped."""

    def __init__(
        self,
        settings: CommonSettings,
        outbox_dir: Path,
        seed: int | None = None,
        credentials: dict[str, tuple[str, str]] | None = None,
        tls: tuple[int, Path] | None = None,
    ) -> None:
        """`outbox_dir`: where the kiosks keep their outboxes and seq; `credentials`: device
        id → provisioned (username, password), for a broker that enforces accounts; `tls`:
        (port, CA file) to connect over TLS as kiosks do."""
        self._settings = settings
        self._outbox_dir = outbox_dir
        self._credentials = credentials or {}
        self._tls = tls
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self.devices: list[Device] = []

    def connect(self) -> None:
        """Start every device's kiosk client and wait (a while) for them to connect."""
        port, ca_file = self._tls if self._tls is not None else (self._settings.mqtt_port, None)
        for station in STATIONS:
            for device_id, kind in device_ids(station.id):
                username, password = self._credentials.get(device_id, (None, None))
                kiosk = Kiosk(
                    station.id,
                    device_id,
                    host=self._settings.mqtt_host,
                    port=port,
                    data_dir=self._outbox_dir,
                    username=username,
                    password=password,
                    ca_file=ca_file,
                    firmware="1.4.2",
                )
                kiosk.start()
                self.devices.append(Device(station, device_id, kind, kiosk))
        deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not all(d.kiosk.connected for d in self.devices):
            time.sleep(0.1)
        connected = sum(d.kiosk.connected for d in self.devices)
        log.info("simulated devices connected", extra={"devices": connected})

    def run(self) -> None:
        """Measure until stop() is called."""
        self._break_one()
        while not self._stop.is_set():
            started = time.monotonic()
            for device in self.devices:
                if device.device_id != SWITCHED_OFF:
                    self._tick(device, TICK_SECONDS)
            if self._switched_off_drained():
                self._switch_off()
            self._stop.wait(max(0.0, TICK_SECONDS - (time.monotonic() - started)))

    def stop(self) -> None:
        """Stop every kiosk (each says `offline`; unsent readings stay in its outbox)."""
        self._stop.set()
        for device in self.devices:
            device.kiosk.stop()

    def _break_one(self) -> None:
        device_id, code, severity, message = BROKEN
        for device in self.devices:
            if device.device_id == device_id:
                fault = {"code": code, "severity": severity, "message": message}
                device.kiosk.event("fault", **fault)

    def _switched_off_drained(self) -> bool:
        return any(
            d.device_id == SWITCHED_OFF and d.kiosk.connected and not len(d.kiosk.outbox)
            for d in self.devices
        )

    def _switch_off(self) -> None:
        """The kiosk's history is sent: switch it off (its Last Will says offline)."""
        for device in self.devices:
            if device.device_id == SWITCHED_OFF:
                device.kiosk.stop()
                self.devices.remove(device)
                log.info("demo kiosk switched off", extra={"device": SWITCHED_OFF})
                return

    def _tick(self, device: Device, seconds: float) -> None:
        now = datetime.now(TZ)
        hour = now.hour + now.minute / 60
        rate = visits_per_hour(hour, device.station.traffic) * seconds / 3600
        rng = self._rng
        kiosk = device.kiosk
        if device.kind == "counter":
            count = poisson(rng, rate)
            if count:
                kiosk.event("visit", count=min(count, 1000))
            else:
                kiosk.telemetry(people_inside=poisson(rng, 3))
        elif device.kind == "water":
            for _ in range(poisson(rng, rate * 0.7)):
                liters = round(rng.uniform(0.2, 0.8), 2)
                device.tank_l = max(0.0, device.tank_l - liters)
                kiosk.event("water.dispense", liters=liters, temp=rng.choice(["hot", "warm"]))
            if device.tank_l < 3 and not device.fault_open:
                device.fault_open = True
                kiosk.event("fault", code="WATER_LOW", severity="warning", message="tank below 3 L")
            elif device.tank_l < 3 and rng.random() < 0.2:  # the station refills the tank
                device.tank_l = 18.0
                device.fault_open = False
                kiosk.event("fault.clear", code="WATER_LOW")
            kiosk.telemetry(
                tank_l=round(device.tank_l, 2), water_temp_c=round(rng.uniform(88, 96), 1)
            )
        elif device.kind == "heater":
            uses = poisson(rng, heat_uses_per_hour(hour, device.station.traffic) * seconds / 3600)
            for _ in range(uses):
                kiosk.event("heat.use", seconds=heat_seconds(rng))
            if not uses:
                kiosk.telemetry(cavity_temp_c=round(rng.uniform(20, 30), 1))
        elif device.kind == "charger":
            if device.open_session is None and rng.random() < min(0.9, rate * 0.5):
                device.sessions += 1
                device.open_session = f"S{int(time.time())}-{device.sessions}"
                kiosk.event(
                    "charge.start", session=device.open_session, connector=rng.randint(1, 4)
                )
            elif device.open_session is not None and rng.random() < 0.3:
                kiosk.event(
                    "charge.stop",
                    session=device.open_session,
                    energy_wh=round(rng.uniform(40, 600), 1),
                    reason="finished",
                )
                device.open_session = None
            power = rng.uniform(300, 900) if device.open_session else 0.0
            kiosk.telemetry(power_w=round(power, 1))
        else:
            kiosk.telemetry(cpu_temp_c=round(rng.uniform(40, 60), 1))

    def backfill(self, days: int) -> int:
        """Keep the past `days` as a kiosk does that reads its equipment's logs after being
        down (store and forward): one aggregated visit, dispense, heating and charging event
        per device and hour, in each kiosk's outbox. Returns the events kept."""
        now = datetime.now(TZ).replace(minute=0, second=0, microsecond=0)
        kept = 0
        for device in self.devices:
            events = self._history(device, now, days)
            kept += device.kiosk.past_events(events)
        return kept

    def _history(
        self, device: Device, now: datetime, days: int
    ) -> list[tuple[float, str, dict[str, Any]]]:
        rng = self._rng
        events: list[tuple[float, str, dict[str, Any]]] = []
        for hours_ago in range(days * 24, 0, -1):
            moment = now - timedelta(hours=hours_ago)
            expected = visits_per_hour(moment.hour + 0.5, device.station.traffic)
            at = (moment + timedelta(minutes=rng.randint(0, 59))).timestamp()
            if device.kind == "counter":
                count = poisson(rng, expected)
                if count:
                    events.append((at, "visit", {"count": count}))
            elif device.kind == "water":
                for n in range(min(20, poisson(rng, expected * 0.5))):
                    liters = round(rng.uniform(0.2, 0.8), 2)
                    events.append((at + n, "water.dispense", {"liters": liters}))
            elif device.kind == "heater":
                heat_expected = heat_uses_per_hour(moment.hour + 0.5, device.station.traffic)
                for n in range(min(20, poisson(rng, heat_expected))):
                    events.append((at + n, "heat.use", {"seconds": heat_seconds(rng)}))
            elif device.kind == "charger":
                for n in range(min(6, poisson(rng, expected * 0.15))):
                    session = f"H{int(moment.timestamp())}-{n}"
                    energy = round(rng.uniform(40, 600), 1)
                    stop = {"session": session, "energy_wh": energy, "reason": "finished"}
                    events.append((at + n, "charge.stop", stop))
        return events
