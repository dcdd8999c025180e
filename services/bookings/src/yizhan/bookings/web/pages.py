"""A booking's own page (/b/{code}?token=...): the code and, once confirmed, its QR code to
show at the kiosk (a waitlisted booking shows its place in the queue instead), cancel (asked
once, on a page of its own: works without JavaScript), add to calendar (.ics), and for forum
attendees the opinions they raised; plus the language switch."""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from yizhan.bookings import repository, texts, worker_data
from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import BookingError, NotFound, PeerUnavailable
from yizhan.bookings.models import (
    ACTIVE_STATUSES,
    CANCELLED,
    CONFIRMED,
    OPINION_CATEGORIES,
    Booking,
)
from yizhan.bookings.opinions import may_submit
from yizhan.bookings.texts import Lang
from yizhan.bookings.web import calendar, choices
from yizhan.bookings.web.display import when
from yizhan.bookings.web.forms import FieldErrors, check_opinion_text
from yizhan.bookings.web.qr import qr_svg
from yizhan.bookings.web.render import LANG_COOKIE, render, request_lang

router = APIRouter(include_in_schema=False)

FormField = Annotated[str, Form(max_length=2000)]
Token = Annotated[str, Query(max_length=100)]
# The language choice is kept a year: a worker chooses once.
LANG_COOKIE_SECONDS = 365 * 24 * 3600


def booking_url(code: str, token: str, *, new: bool = False, sent: bool = False) -> str:
    """The address of a booking's page (what the worker bookmarks)."""
    query = {"token": token, **({"new": "1"} if new else {}), **({"sent": "1"} if sent else {})}
    return f"/b/{quote(code)}?{urlencode(query)}"


async def _context(deps: Deps, lang: Lang, booking: Booking, token: str) -> dict[str, Any]:
    try:
        station = await deps.stations.get_station(booking.station_id)
    except PeerUnavailable:
        station = None
    tz = choices.zone_of(station)
    async with deps.sessions() as session:
        if booking.livestream_point_id is not None:
            point = await repository.get_point(session, booking.livestream_point_id)
            title = point.name if point else ""
        else:
            forum = await repository.get_forum_session(session, booking.forum_session_id or 0)
            title = forum.topic if forum else ""
        position = await worker_data.waitlist_position(session, booking)
    now = deps.clock()
    opinions = await deps.opinions.of_booking(booking.id) if booking.forum_session_id else []
    return {
        "booking": booking,
        "token": token,
        # Only a confirmed booking is scanned at the kiosk; a waitlisted one waits its turn.
        "qr": qr_svg(booking.code) if booking.status == CONFIRMED else None,
        "position": position,
        "calendar_url": calendar_url(booking.code, token),
        "station_name": choices.station_name(station, lang) if station else booking.station_id,
        "title": title,
        "when": when(booking.starts_at, booking.ends_at, tz, now.astimezone(tz).date(), lang),
        "status_label": texts.text(f"status.{booking.status}", lang),
        "can_cancel": can_cancel(booking, now),
        "can_give_opinion": may_submit(booking, now, deps.opinions.rules) is None
        and len(opinions) < deps.opinions.rules.per_booking,
        "categories": [(c, texts.text(f"category.{c}", lang)) for c in OPINION_CATEGORIES],
        "opinions": [
            {
                "category": texts.text(f"category.{o.category}", lang),
                "text": o.text,
                "status": texts.text(f"opinion_status.{o.status}", lang),
                "answer": (
                    texts.text("form.opinion_measure", lang, text=o.measure)
                    if o.measure
                    else texts.text("form.opinion_reason", lang, text=o.decline_reason)
                    if o.decline_reason
                    else None
                ),
            }
            for o in opinions
        ],
        "opinion_form": {"category": "", "text": ""},
        "new": False,
    }


@router.get("/b/{code}")
async def view_booking(
    request: Request,
    code: str,
    deps: DepsDep,
    token: Token = "",
    new: Annotated[str, Query(max_length=1)] = "",
    sent: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """The booking code and QR code to show at the kiosk, with the cancel button."""
    lang = request_lang(request)
    try:
        booking = await deps.bookings.get(code, token)
    except NotFound:
        return render(request, "not_found.html", {}, 404)
    context = await _context(deps, lang, booking, token)
    context["new"] = new == "1" and booking.status != CANCELLED
    if sent == "1":
        context["notice"] = texts.text("form.opinion_sent", lang)
    return render(request, "booking.html", context)


def can_cancel(booking: Booking, now: datetime) -> bool:
    """Whether the worker may still cancel (not cancelled, not started, not checked in)."""
    return (
        booking.status in ACTIVE_STATUSES
        and booking.checked_in_at is None
        and now < booking.starts_at
    )


def calendar_url(code: str, token: str) -> str:
    """The address of a booking's calendar file."""
    return f"/b/{quote(code)}/calendar.ics?{urlencode({'token': token})}"


@router.get("/b/{code}/cancel")
async def ask_before_cancelling(
    request: Request, code: str, deps: DepsDep, token: Token = ""
) -> Response:
    """ "Really cancel?": the one question, with the booking named, before anything changes."""
    lang = request_lang(request)
    try:
        booking = await deps.bookings.get(code, token)
    except NotFound:
        return render(request, "not_found.html", {}, 404)
    context = await _context(deps, lang, booking, token)
    if not context["can_cancel"]:
        return RedirectResponse(booking_url(booking.code, token), status_code=303)
    return render(request, "cancel_confirm.html", context)


@router.post("/b/{code}/cancel")
async def cancel_booking(
    request: Request,
    code: str,
    deps: DepsDep,
    token: FormField = "",
    confirmed: FormField = "",
) -> Response:
    """Cancel once the worker said yes on the question page, then show the booking again;
    without that yes, the question."""
    lang = request_lang(request)
    if confirmed != "yes":
        return await ask_before_cancelling(request, code, deps, token)
    try:
        booking = await deps.bookings.cancel(code, token)
    except NotFound:
        return render(request, "not_found.html", {}, 404)
    except BookingError as exc:
        booking = await deps.bookings.get(code, token)
        context = await _context(deps, lang, booking, token)
        context["notice"] = texts.message(exc.key, lang)
        return render(request, "booking.html", context, exc.status, back_to=_page(booking, token))
    return RedirectResponse(booking_url(booking.code, token), status_code=303)


def _page(booking: Booking, token: str) -> str:
    return booking_url(booking.code, token)


@router.post("/b/{code}/opinions")
async def submit_opinion(
    request: Request,
    code: str,
    deps: DepsDep,
    token: FormField = "",
    category: FormField = "",
    text: FormField = "",
) -> Response:
    """An attendee raises an opinion from the booking page."""
    lang = request_lang(request)
    try:
        booking = await deps.bookings.get(code, token)
    except NotFound:
        return render(request, "not_found.html", {}, 404)
    errors = FieldErrors(lang)
    if category not in OPINION_CATEGORIES:
        errors.add("category", "category_invalid")
    clean = check_opinion_text(text, errors)
    status_code = 422
    if not errors:
        try:
            await deps.opinions.submit(booking.id, category, clean)
        except BookingError as exc:
            errors.add("opinion-text", exc.key)
            status_code = exc.status
        else:
            return RedirectResponse(booking_url(booking.code, token, sent=True), status_code=303)
    context = await _context(deps, lang, booking, token)
    context.update(errors=errors, opinion_form={"category": category, "text": text})
    return render(request, "booking.html", context, status_code, back_to=_page(booking, token))


@router.get("/b/{code}/calendar.ics")
async def booking_calendar(
    request: Request, code: str, deps: DepsDep, token: Token = ""
) -> Response:
    """The booking as an iCalendar event (RFC 5545) to add to the phone's calendar."""
    lang = request_lang(request)
    try:
        booking = await deps.bookings.get(code, token)
    except NotFound:
        return render(request, "not_found.html", {}, 404)
    context = await _context(deps, lang, booking, token)
    site = deps.settings.public_base_url.rstrip("/")
    body = calendar.booking_event(
        booking,
        summary=f"{context['title']} · {context['station_name']}",
        location=context["station_name"],
        description=texts.text("form.calendar_description", lang, code=booking.code),
        url=site + booking_url(booking.code, token),
        now=deps.clock(),
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="yizhan-{booking.code}.ics"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/lang/{lang}")
async def switch_language(
    lang: str, next_page: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    """Remember the worker's language and go back to the page they were on."""
    # Only a path of this site: never an open redirect to another host.
    target = next_page if next_page.startswith("/") and not next_page.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        texts.as_lang(lang),
        max_age=LANG_COOKIE_SECONDS,
        samesite="lax",
        httponly=True,
    )
    return response
