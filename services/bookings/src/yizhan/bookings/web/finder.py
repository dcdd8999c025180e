"""The station finder pages of the worker site: `/stations` (by district and search without
JavaScript; nearest first when the worker lets the page use their location) and
`/stations/{id}` (address, the week's hours, amenities, live equipment, directions). Both
read the same snapshot as the public API (public_stations.py); nothing is loaded from outside."""

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from yizhan.bookings import texts
from yizhan.bookings.public_stations import Query as FinderQuery
from yizhan.bookings.public_stations import StationFinder
from yizhan.bookings.texts import Lang
from yizhan.bookings.web.render import render, request_lang

router = APIRouter(include_in_schema=False)

# The page's only script: ask for the position, then reload the list sorted by it.
SCRIPT = (Path(__file__).parent / "finder.js").read_bytes


def _finder(request: Request) -> StationFinder:
    finder: StationFinder = request.app.state.finder
    return finder


def distance_text(lang: Lang, metres: int | None) -> str:
    """A distance for people: metres under a kilometre, else kilometres with one decimal."""
    if metres is None:
        return ""
    if metres < 1000:
        return texts.text("finder.distance_m", lang, m=metres)
    return texts.text("finder.distance_km", lang, km=f"{metres / 1000:.1f}")


def open_text(lang: Lang, open_now: bool | None) -> str:
    """Open, closed or unknown, in words."""
    key = {True: "finder.open", False: "finder.closed", None: "finder.open_unknown"}[open_now]
    return texts.text(key, lang)


def equipment_lines(lang: Lang, availability: dict[str, Any]) -> list[str]:
    """The live equipment in words (or why it is unknown)."""
    if availability["status"] != "live":
        return [texts.text("finder.live_unknown", lang)]
    chargers, water = availability["chargers"], availability["water"]
    lines = []
    if chargers["total"]:
        lines.append(
            texts.text(
                "finder.chargers",
                lang,
                free=chargers["free"],
                in_use=chargers["in_use"],
                broken=chargers["out_of_order"],
            )
        )
    if water["total"]:
        # None working is said in words: "0/1" is easy to misread as "working".
        key = "finder.water" if water["working"] else "finder.water_down"
        lines.append(texts.text(key, lang, **water))
    return lines


# Amenities the finder names in words; any other is shown as the operator typed it.
KNOWN_AMENITIES = frozenset(
    {"charging", "water", "rest", "microwave", "toilet", "wifi", "first_aid", "umbrella"}
)


def amenity_text(lang: Lang, amenity: str) -> str:
    """An amenity in the worker's language (known ones), else as registered."""
    return texts.text(f"amenity.{amenity}", lang) if amenity in KNOWN_AMENITIES else amenity


def _view(lang: Lang, item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "amenity_names": [amenity_text(lang, a) for a in item["amenities"]],
        "title": item["name"][lang] or item["name"]["zh"],
        "distance": distance_text(lang, item["distance_m"]),
        "open_text": open_text(lang, item["open_now"]),
        "equipment": equipment_lines(lang, item["availability"]),
    }


def navigation_links(lang: Lang, item: dict[str, Any]) -> list[tuple[str, str]]:
    """A `geo:` URI and the common map apps' links (labels in the worker's language)."""
    lat, lng = item["latitude"], item["longitude"]
    if lat is None or lng is None:
        return []
    name = quote(item["name"]["zh"])
    return [
        (texts.text("finder.geo_link", lang), f"geo:{lat},{lng}?q={lat},{lng}({name})"),
        (
            texts.text("finder.amap", lang),
            f"https://uri.amap.com/marker?position={lng},{lat}&name={name}&coordinate=wgs84",
        ),
        (
            texts.text("finder.baidu", lang),
            f"baidumap://map/marker?location={lat},{lng}&title={name}&coord_type=wgs84",
        ),
        (texts.text("finder.apple", lang), f"https://maps.apple.com/?ll={lat},{lng}&q={name}"),
    ]


@router.get("/stations")
async def stations_page(
    request: Request,
    q: Annotated[str, Query(max_length=50)] = "",
    district: Annotated[str, Query(max_length=100)] = "",
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> Response:
    """The station list: by district and search, or nearest first with a position."""
    lang = request_lang(request)
    finder = _finder(request)
    found = await finder.search(
        FinderQuery(lat=lat, lng=lng, district=district or None, q=q or None, limit=50)
    )
    return render(
        request,
        "finder.html",
        {
            "query": q,
            "district": district,
            "districts": await finder.districts(),
            "items": [_view(lang, item) for item in found["items"]],
        },
    )


@router.get("/stations/finder.js")
async def finder_script() -> Response:
    """The finder's script (served here: the page loads nothing from outside)."""
    return Response(
        SCRIPT(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/stations/{station_id}")
async def station_page(request: Request, station_id: str) -> Response:
    """One station: address, the week's hours, amenities, live equipment, directions."""
    lang = request_lang(request)
    finder = _finder(request)
    found = await finder.one(station_id)
    if found is None:
        return render(request, "not_found.html", {}, status_code=404)
    item, timezone = found
    locale = texts.BABEL_LOCALE[lang]

    def clock(moment: datetime) -> str:
        return format_time(moment, "HH:mm", locale=locale)

    week = [
        (
            format_skeleton("MMMEd", day, locale=locale),
            ", ".join(f"{clock(a)}–{clock(b) if b.time() else '24:00'}" for a, b in spans)
            or texts.text("finder.hours_closed", lang),
        )
        for day, spans in await finder.week_hours(station_id, timezone)
    ]
    last = item["availability"]["last_report"]
    return render(
        request,
        "finder_station.html",
        {
            "s": _view(lang, item),
            "week": week,
            "links": navigation_links(lang, item),
            "last_report": (
                texts.text(
                    "finder.last_report",
                    lang,
                    time=clock(datetime.fromisoformat(last).astimezone(ZoneInfo(timezone))),
                )
                if last
                else ""
            ),
        },
    )
