"""Feedback at the station: the QR code on the kiosk opens `/f/{station}`, one screen with a
rating, what was wrong and an optional text. No login; each client address may send a few an
hour (the shared PostgreSQL rate limiter). Operators read it through api/feedback_routes.py."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from yizhan.bookings import feedback, texts
from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import PeerUnavailable
from yizhan.bookings.models import FEEDBACK_PROBLEMS
from yizhan.bookings.peers.stations import StationInfo
from yizhan.bookings.texts import Lang
from yizhan.bookings.web import choices
from yizhan.bookings.web.forms import FieldErrors
from yizhan.bookings.web.qr import qr_svg
from yizhan.bookings.web.render import render, request_lang
from yizhan.common.clients import client_address

router = APIRouter(include_in_schema=False)

RATINGS = (5, 4, 3, 2, 1)
TEXT_MAX = 500


async def _station(deps: Deps, station_id: str) -> StationInfo | None:
    if len(station_id) > 64:
        return None
    try:
        return await deps.stations.get_station(station_id)
    except PeerUnavailable:
        return None


def _context(lang: Lang, station: StationInfo, form: dict[str, Any]) -> dict[str, Any]:
    return {
        "station": station,
        "station_name": choices.station_name(station, lang),
        "ratings": [(r, texts.text(f"feedback.rating_{r}", lang)) for r in RATINGS],
        "problems": [(p, texts.text(f"feedback.problem_{p}", lang)) for p in FEEDBACK_PROBLEMS],
        "form": form,
        "sent": False,
    }


@router.get("/f/{station_id}")
async def feedback_form(request: Request, station_id: str, deps: DepsDep) -> Response:
    """The one-screen form."""
    station = await _station(deps, station_id)
    if station is None:
        return render(request, "not_found.html", {}, 404)
    form = {"rating": "", "problems": [], "text": ""}
    return render(request, "feedback.html", _context(request_lang(request), station, form))


@router.post("/f/{station_id}")
async def send_feedback(
    request: Request,
    station_id: str,
    deps: DepsDep,
    rating: Annotated[str, Form(max_length=2)] = "",
    problems: Annotated[list[str] | None, Form(max_length=10)] = None,
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check and store the form; thanks, or the form again with its errors."""
    lang = request_lang(request)
    station = await _station(deps, station_id)
    if station is None:
        return render(request, "not_found.html", {}, 404)
    chosen = [p for p in FEEDBACK_PROBLEMS if p in (problems or [])]
    form = {"rating": rating, "problems": chosen, "text": text}
    errors = FieldErrors(lang)
    if not rating.isdigit() or int(rating) not in RATINGS:
        errors.add("rating", "feedback_rating")
    if len(set(problems or [])) != len(chosen):
        errors.add("problems", "feedback_problem")
    clean = " ".join(text.split())
    if len(clean) > TEXT_MAX:
        errors.add("feedback-text", "feedback_text_long")
    context = _context(lang, station, form)
    back = f"/f/{station.id}"
    if errors:
        return render(request, "feedback.html", {**context, "errors": errors}, 422, back_to=back)
    wait = await deps.feedback_wait(client_address(request))
    if wait is not None:
        context["notice"] = texts.message("feedback_rate", lang)
        response = render(request, "feedback.html", context, 429, back_to=back)
        response.headers["Retry-After"] = str(wait)
        return response
    async with deps.sessions.begin() as session:
        await feedback.record(session, station.id, int(rating), chosen, clean, deps.clock())
    return render(request, "feedback.html", {**context, "sent": True}, back_to=back)


@router.get("/f/{station_id}/qr.svg")
async def feedback_qr(station_id: str, deps: DepsDep) -> Response:
    """The QR code to print on the station's kiosk: it opens the feedback form."""
    station = await _station(deps, station_id)
    if station is None:
        return Response(status_code=404)
    url = f"{deps.settings.public_base_url.rstrip('/')}/f/{station.id}"
    return Response(str(qr_svg(url)), media_type="image/svg+xml")
