"""The demo network: stations named after the places in the seed articles, their devices,
livestream points and forum sessions, created through the public APIs (as an operator would)."""

import logging
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
DEVICE_KINDS = ("charger", "water", "heater", "counter", "kiosk")
DAILY_07_22 = {
    day: [["07:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
DAILY_08_18 = {
    day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


@dataclass(frozen=True)
class DemoStation:
    """One station of the demo network."""

    id: str
    zh: str
    en: str
    district: str
    host_type: str
    opening_hours: dict[str, list[list[str]]] | None
    address: str
    # How busy it is relative to the others (scales the simulator's rates).
    traffic: float
    # Where it is (WGS 84), so the worker site's finder can put the nearest first.
    latitude: float
    longitude: float


STATIONS = (
    DemoStation(
        "CQ-NC-0001",
        "金佛山西坡工会驿站",
        "Jinfo Mountain West Slope",
        "南川区",
        "scenic_area",
        DAILY_08_18,
        "重庆市南川区金佛山西坡",
        1.4,
        29.0223,
        107.1702,
    ),
    DemoStation(
        "CQ-NC-0002",
        "古城镇集镇工会驿站",
        "Gucheng Town Market",
        "南川区",
        "community_centre",
        DAILY_07_22,
        "重庆市南川区古城镇集镇",
        0.8,
        29.048,
        107.0356,
    ),
    DemoStation(
        "CQ-NC-0003",
        "德隆镇银杏村工会驿站",
        "Delong Ginkgo Village",
        "南川区",
        "scenic_area",
        DAILY_08_18,
        "重庆市南川区德隆镇银杏村",
        1.2,
        29.0981,
        107.2386,
    ),
    DemoStation(
        "CQ-NC-0004",
        "东城街道灌坝社区工会驿站",
        "Guanba Community, Dongcheng",
        "南川区",
        "community_centre",
        DAILY_07_22,
        "重庆市南川区东城街道灌坝社区",
        1.0,
        29.1617,
        107.1135,
    ),
    DemoStation(
        "CQ-NC-0005",
        "万达广场骑手之家",
        "Wanda Plaza Riders' Home",
        "南川区",
        "other",
        None,
        "重庆市南川区万达广场",
        1.6,
        29.1502,
        107.0951,
    ),
    DemoStation(
        "CQ-YZ-0001",
        "解放碑银行网点工会驿站",
        "Jiefangbei Bank Branch",
        "渝中区",
        "bank_branch",
        DAILY_07_22,
        "重庆市渝中区解放碑",
        1.5,
        29.5577,
        106.5773,
    ),
    DemoStation(
        "CQ-YZ-0002",
        "较场口加油站工会驿站",
        "Jiaochangkou Petrol Station",
        "渝中区",
        "petrol_station",
        None,
        "重庆市渝中区较场口",
        1.1,
        29.5526,
        106.5703,
    ),
    DemoStation(
        "CQ-YZ-0003",
        "市劳动人民文化宫驿站",
        "Workers' Cultural Palace",
        "渝中区",
        "community_centre",
        DAILY_07_22,
        "重庆市渝中区劳动人民文化宫",
        0.9,
        29.5538,
        106.5461,
    ),
    DemoStation(
        "CQ-YZ-0004",
        "大坪换电站骑手之家",
        "Daping Battery-Swap Riders' Home",
        "渝中区",
        "battery_swap",
        None,
        "重庆市渝中区大坪",
        1.3,
        29.5393,
        106.5169,
    ),
    DemoStation(
        "JX-GX-0001",
        "广场社区工会驿站",
        "Guangchang Community",
        "赣县区",
        "community_centre",
        DAILY_07_22,
        "江西省赣州市赣县区广场社区",
        0.9,
        25.8612,
        115.0092,
    ),
    DemoStation(
        "JX-GX-0002",
        "友好食堂骑手驿站",
        "Friendly Canteen Riders' Station",
        "赣县区",
        "other",
        DAILY_07_22,
        "江西省赣州市赣县区友好食堂",
        1.2,
        25.857,
        115.0035,
    ),
    DemoStation(
        "JX-GX-0003",
        "快递站点工会驿站",
        "Courier Depot Station",
        "赣县区",
        "other",
        DAILY_07_22,
        "江西省赣州市赣县区快递站点",
        0.7,
        25.8681,
        115.0174,
    ),
    DemoStation(
        "JX-GX-0004",
        "群团综合服务中心驿站",
        "Mass Organisations Service Centre",
        "赣县区",
        "community_centre",
        DAILY_08_18,
        "江西省赣州市赣县区群团综合服务中心",
        0.6,
        25.8598,
        115.0121,
    ),
)

# Bookings the demo makes through the worker API at a start (the site lets one client ask
# for 30 one-time codes an hour).
WORKER_BOOKINGS = 20
FORUM_TOPICS = (
    ("渝议事：商圈取餐停车难", "Forum: nowhere to park when collecting orders", 30),
    ("骑手权益与劳动保障座谈", "Riders' rights and social insurance", 20),
    ("免费体检 · 新就业形态劳动者", "Free health check for new-form workers", 40),
)


def device_ids(station_id: str) -> list[tuple[str, str]]:
    """(device id, kind) of a demo station's devices."""
    return [
        (f"{station_id}-{kind}-1" if kind != "kiosk" else f"{station_id}-kiosk", kind)
        for kind in DEVICE_KINDS
    ]


def _ok(reply: httpx.Response, *accepted: int) -> httpx.Response:
    if reply.status_code not in accepted:
        raise RuntimeError(
            f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text}"
        )
    return reply


@dataclass(frozen=True)
class Seeded:
    """What seed() made: devices' MQTT credentials, and the forum sessions made now (to be
    booked by workers, see book_as_workers)."""

    credentials: dict[str, tuple[str, str]]
    new_sessions: list[int]


def seed(
    stations_url: str,
    bookings_url: str,
    token: str,
    today: date | None = None,
    have_credentials: Collection[str] = (),
) -> Seeded:
    """Create what is missing of the demo network; safe to run on every start. Returns the
    MQTT credentials (username, password) of devices made now, and of existing devices not in
    `have_credentials` (their credentials are rotated: a password is shown only once)."""
    headers = {"Authorization": f"Bearer {token}"}
    today = today or datetime.now(TZ).date()
    credentials: dict[str, tuple[str, str]] = {}
    per_station: list[list[int]] = []
    with httpx.Client(headers=headers, timeout=30) as client:
        for station in STATIONS:
            credentials.update(_seed_station(client, stations_url, station, set(have_credentials)))
            per_station.append(_seed_bookables(client, bookings_url, station, today))
    # Every station's next session first, then the ones after.
    new_sessions = [ids[i] for i in range(len(FORUM_TOPICS)) for ids in per_station if i < len(ids)]
    log.info("demo network ready", extra={"stations": len(STATIONS)})
    return Seeded(credentials, new_sessions)


def book_as_workers(bookings_url: str, session_ids: list[int]) -> int:
    """Seats in the coming forum sessions, booked as workers book them (one-time code by SMS,
    read from the development endpoint); the number booked. The booking site allows a client
    only 30 codes an hour, so the demo books no more than WORKER_BOOKINGS."""
    with httpx.Client(timeout=30) as client:
        return _book_seats(client, bookings_url, session_ids)


def _book_seats(client: httpx.Client, bookings_url: str, session_ids: list[int]) -> int:
    rng = random.Random(len(session_ids))
    booked = 0
    for n, session_id in enumerate(session_ids[:WORKER_BOOKINGS]):
        phone = f"1990000{n:04d}"
        sent = client.post(f"{bookings_url}/api/v1/otp", json={"phone": phone})
        if sent.status_code == 429:
            log.warning("demo bookings stopped: one-time codes rate-limited")
            break
        _ok(sent, 202)
        otp = _ok(client.get(f"{bookings_url}/api/v1/dev/otp", params={"phone": phone}), 200)
        body = {
            "forum_session_id": session_id,
            "phone": phone,
            "name": rng.choice(("王师傅", "李骑手", "张师傅", "刘女士", "陈快递")),
            "otp": otp.json()["code"],
        }
        key = {"Idempotency-Key": f"demo-{session_id}-{phone}"}
        _ok(client.post(f"{bookings_url}/api/v1/bookings", json=body, headers=key), 201)
        booked += 1
    return booked


def _seed_station(
    client: httpx.Client, stations_url: str, station: DemoStation, have_credentials: set[str]
) -> dict[str, tuple[str, str]]:
    existing = client.get(f"{stations_url}/api/v1/stations/{station.id}")
    if existing.status_code == 404:
        body: dict[str, Any] = {
            "id": station.id,
            "name": {"zh": station.zh, "en": station.en},
            "district": station.district,
            "host_type": station.host_type,
            "opening_hours": station.opening_hours,
            "address": station.address,
            "amenities": ["water", "charging", "rest", "microwave"],
            "latitude": station.latitude,
            "longitude": station.longitude,
        }
        _ok(client.post(f"{stations_url}/api/v1/stations", json=body), 201)
    elif _ok(existing, 200).json().get("latitude") is None:
        # A demo made before the stations had coordinates: give them theirs.
        place = {"latitude": station.latitude, "longitude": station.longitude}
        _ok(client.patch(f"{stations_url}/api/v1/stations/{station.id}", json=place), 200)
    devices_url = f"{stations_url}/api/v1/stations/{station.id}/devices"
    devices = _ok(client.get(devices_url), 200)
    have = {d["id"] for d in devices.json()["items"]}
    credentials: dict[str, tuple[str, str]] = {}
    for device_id, kind in device_ids(station.id):
        if device_id not in have:
            body = {"id": device_id, "kind": kind, "model": f"demo-{kind}"}
            reply = _ok(client.post(devices_url, json=body), 201)
        elif device_id not in have_credentials:
            reply = _ok(client.post(f"{devices_url}/{device_id}/rotate"), 200, 201)
        else:
            continue
        mqtt = reply.json()["mqtt"]
        credentials[device_id] = (mqtt["username"], mqtt["password"])
    return credentials


def _seed_bookables(
    client: httpx.Client, bookings_url: str, station: DemoStation, today: date
) -> list[int]:
    """The station's livestream point and, when none is coming, three forum sessions in the
    next days; the ids of the sessions made now."""
    points = _ok(
        client.get(f"{bookings_url}/api/v1/livestream-points", params={"station_id": station.id}),
        200,
    ).json()["items"]
    if not points:
        body = {
            "station_id": station.id,
            "name": "公益直播点 · Livestream corner",
            "slot_minutes": 30,
        }
        _ok(client.post(f"{bookings_url}/api/v1/livestream-points", json=body), 201)
    sessions = _ok(
        client.get(f"{bookings_url}/api/v1/forum-sessions", params={"station_id": station.id}), 200
    ).json()["items"]
    upcoming = [s for s in sessions if datetime.fromisoformat(s["start"]) > datetime.now(TZ)]
    if upcoming:
        return []
    made = []
    for offset, (topic_zh, topic_en, seats) in enumerate(FORUM_TOPICS):
        day = today + timedelta(days=1 + offset * 2)
        start = datetime.combine(day, time(15, 0), TZ)
        body = {
            "station_id": station.id,
            "topic": f"{topic_zh} · {topic_en}",
            "host": "区总工会 · District union",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=90)).isoformat(),
            "seats": seats,
        }
        made.append(_ok(client.post(f"{bookings_url}/api/v1/forum-sessions", json=body), 201))
    return [reply.json()["id"] for reply in made]
