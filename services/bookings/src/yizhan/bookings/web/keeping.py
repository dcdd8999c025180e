"""What a worker keeps without an account (issue 15): "my bookings" by phone and a one-time
code, and deleting their data (PIPL) with the same proof.

1. GET /my            the phone, with the privacy notice;
2. POST /my/code      send the one-time code (the same limits as booking), ask for it;
3. POST /my/list      the code proves the phone: their bookings, each with its page's link,
                      and "delete my data" carrying a short-lived signed proof of the phone;
4. POST /my/delete    asks once; with the "yes", cancels what is upcoming (seats go to the
                      waitlist) and erases phone and name from every booking of the phone.
No cookie or session: the proof travels in the form, signed, for a few minutes."""

import base64
import contextlib
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from yizhan.bookings import repository, texts, worker_data
from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.codes import derive_key
from yizhan.bookings.context import Deps
from yizhan.bookings.errors import BookingError, RateLimited
from yizhan.bookings.locking import lock_phone
from yizhan.bookings.models import Booking
from yizhan.bookings.peers.stations import StationInfo
from yizhan.bookings.phones import mask_phone, normalize_phone
from yizhan.bookings.texts import Lang
from yizhan.bookings.web import choices
from yizhan.bookings.web.display import when
from yizhan.bookings.web.forms import FieldErrors, check_otp
from yizhan.bookings.web.pages import booking_url
from yizhan.bookings.web.render import render, request_lang
from yizhan.common.clients import client_address

router = APIRouter(include_in_schema=False)

FormField = Annotated[str, Form(max_length=200)]
# How long "delete my data" works after the code was typed: long enough to read the list.
PROOF_TTL = timedelta(minutes=15)
_PROOF_CONTEXT = b"yizhan-bookings/phone-proof/v1"


def _proof_key(deps: Deps) -> bytes:
    return derive_key(deps.settings.common.jwt_secret.get_secret_value(), _PROOF_CONTEXT)


def sign_proof(key: bytes, phone: str, until: datetime) -> str:
    """A token saying "this phone was proven by a code, valid until `until`"."""
    payload = f"{phone}|{int(until.timestamp())}"
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    return f"{payload}|{base64.urlsafe_b64encode(mac).decode()}"


def proven_phone(key: bytes, proof: str, now: datetime) -> str | None:
    """The phone a proof names, when it is genuine and not expired; None otherwise."""
    parts = proof.split("|")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    phone, until, _ = parts
    if now.timestamp() > int(until):
        return None
    expected = sign_proof(key, phone, datetime.fromtimestamp(int(until), now.tzinfo))
    return phone if hmac.compare_digest(expected, proof) else None


def _privacy(deps: Deps, lang: Lang) -> str:
    return texts.text("privacy.notice", lang, days=deps.settings.phone_retention_days)


def _start_context(deps: Deps, lang: Lang, phone: str = "") -> dict[str, Any]:
    return {"phone": phone, "privacy": _privacy(deps, lang), "done": False}


@router.get("/my")
async def my_start(request: Request, deps: DepsDep) -> Response:
    """Ask for the phone whose bookings to show."""
    return render(request, "my.html", _start_context(deps, request_lang(request)))


@router.post("/my/code")
async def my_send_code(request: Request, deps: DepsDep, phone: FormField = "") -> Response:
    """Send the one-time code to the phone, then ask for it."""
    lang = request_lang(request)
    errors = FieldErrors(lang)
    normalized = normalize_phone(phone)
    if normalized is None:
        errors.add("phone", "phone_invalid")
        context = {**_start_context(deps, lang, phone), "errors": errors}
        return render(request, "my.html", context, 422, back_to="/my")
    try:
        wait = await deps.otp_wait(client_address(request))
        if wait is not None:
            raise RateLimited("otp_rate", retry_after=wait)
        await deps.otp.issue(normalized)
    except BookingError as exc:
        errors.add("phone", exc.key)
        context = {**_start_context(deps, lang, phone), "errors": errors}
        return render(request, "my.html", context, exc.status, back_to="/my")
    return render(request, "my_code.html", _code_context(deps, lang, normalized), back_to="/my")


def _code_context(deps: Deps, lang: Lang, phone: str) -> dict[str, Any]:
    minutes = max(1, deps.settings.otp_ttl_seconds // 60)
    return {
        "phone": phone,
        "intro": texts.text("my.code_intro", lang, phone=mask_phone(phone), minutes=minutes),
        "dev_link": "/api/v1/dev/otp?" + urlencode({"phone": phone}),
    }


async def _prove(deps: Deps, phone: str, code: str) -> None:
    """Use up the phone's latest one-time code; InvalidInput (field `otp`) when it is not it."""
    await deps.otp.judge(phone, code)
    async with deps.sessions.begin() as session:
        # The code is used up under the phone's lock, as a booking uses it (locking.py).
        await lock_phone(session, phone)
        await deps.otp.consume(session, phone, code, deps.clock())


@router.post("/my/list")
async def my_list(
    request: Request, deps: DepsDep, phone: FormField = "", otp: FormField = ""
) -> Response:
    """The phone's bookings once the code proves it is theirs."""
    lang = request_lang(request)
    errors = FieldErrors(lang)
    normalized = normalize_phone(phone)
    if normalized is None:
        errors.add("phone", "phone_invalid")
        context = {**_start_context(deps, lang, phone), "errors": errors}
        return render(request, "my.html", context, 422, back_to="/my")
    code = check_otp(otp, errors)
    if not errors:
        try:
            await _prove(deps, normalized, code)
        except BookingError as exc:
            errors.add("otp", exc.key)
    if errors:
        context = {**_code_context(deps, lang, normalized), "errors": errors}
        return render(request, "my_code.html", context, 422, back_to="/my")
    now = deps.clock()
    async with deps.sessions() as session:
        bookings = await worker_data.bookings_of(session, normalized)
        items = await _items(deps, session, lang, bookings, now)
    return render(
        request,
        "my_list.html",
        {
            "phone": mask_phone(normalized),
            "items": items,
            "proof": sign_proof(_proof_key(deps), normalized, now + PROOF_TTL),
            "privacy": _privacy(deps, lang),
        },
        back_to="/my",
    )


async def _items(
    deps: Deps, session: Any, lang: Lang, bookings: list[Booking], now: datetime
) -> list[dict[str, Any]]:
    points = await repository.names_of_points(
        session, sorted({b.livestream_point_id for b in bookings if b.livestream_point_id})
    )
    topics = await repository.topics_of_sessions(
        session, sorted({b.forum_session_id for b in bookings if b.forum_session_id})
    )
    stations: dict[str, StationInfo] = {}
    if bookings:
        ids = sorted({b.station_id for b in bookings})
        stations = {s.id: s for s in await deps.stations.list_stations(ids=ids)}
    listed = []
    for b in bookings:
        station = stations.get(b.station_id)
        tz = choices.zone_of(station)
        listed.append(
            {
                "code": b.code,
                "title": points.get(b.livestream_point_id or 0)
                or topics.get(b.forum_session_id or 0, ""),
                "station": choices.station_name(station, lang) if station else b.station_id,
                "when": when(b.starts_at, b.ends_at, tz, now.astimezone(tz).date(), lang),
                "status": texts.text(f"status.{b.status}", lang),
                "url": booking_url(b.code, deps.bookings.manage_token(b)),
            }
        )
    return listed


@router.post("/my/delete")
async def my_delete(
    request: Request, deps: DepsDep, proof: FormField = "", confirmed: FormField = ""
) -> Response:
    """Delete the proven phone's data: asked once, then done."""
    lang = request_lang(request)
    now = deps.clock()
    phone = proven_phone(_proof_key(deps), proof, now)
    if phone is None:
        # Too long since the code (or a forged proof): start again from the phone.
        context = {**_start_context(deps, lang), "notice": texts.text("my.proof_expired", lang)}
        return render(request, "my.html", context, 403, back_to="/my")
    if confirmed != "yes":
        context = {"proof": proof, "phone": mask_phone(phone)}
        return render(request, "my_delete.html", context, back_to="/my")
    await erase_worker(deps, phone)
    context = {**_start_context(deps, lang), "done": True}
    context["notice"] = texts.text("my.deleted", lang)
    return render(request, "my.html", context, back_to="/my")


async def erase_worker(deps: Deps, phone: str) -> None:
    """Cancel the phone's upcoming bookings (their seats go to the waitlist, as on a cancel),
    then erase its phone and name everywhere."""
    async with deps.sessions() as session:
        codes = await worker_data.active_codes_of(session, phone, deps.clock())
    for code in codes:
        async with deps.sessions() as session:
            booking = await repository.get_booking_by_code(session, code)
        if booking is None:
            continue
        # One that started meanwhile cannot be cancelled: it is erased below all the same.
        with contextlib.suppress(BookingError):
            await deps.bookings.cancel(code, deps.bookings.manage_token(booking))
    async with deps.sessions.begin() as session:
        await lock_phone(session, phone)
        await worker_data.erase_phone(session, phone, deps.clock())
