"""POST /api/v1/otp (a one-time code by SMS) and, in development, GET /api/v1/dev/otp."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.errors import NotFound, RateLimited
from yizhan.bookings.phones import normalize_phone
from yizhan.bookings.schemas import DevOtp, OtpAccepted, OtpRequest
from yizhan.common.clients import client_address

router = APIRouter(prefix="/api/v1", tags=["worker"])
dev_router = APIRouter(prefix="/api/v1/dev", tags=["development"])


@router.post("/otp", status_code=status.HTTP_202_ACCEPTED, response_model=OtpAccepted)
async def send_otp(body: OtpRequest, request: Request, deps: DepsDep) -> OtpAccepted:
    """Send a one-time code to a phone by SMS (rate-limited per phone and per client)."""
    wait = await deps.otp_wait(client_address(request))
    if wait is not None:
        raise RateLimited("otp_rate", retry_after=wait)
    await deps.otp.issue(body.phone)
    return OtpAccepted(expires_in_seconds=deps.settings.otp_ttl_seconds)


@dev_router.get("/otp", response_model=DevOtp)
async def last_otp(phone: Annotated[str, Query(max_length=32)], deps: DepsDep) -> DevOtp:
    """The last code sent to a phone; only served with YZ_ENV=dev or test."""
    normalized = normalize_phone(phone)
    code = await deps.otp.dev_code(normalized) if normalized is not None else None
    if normalized is None or code is None:
        raise NotFound("booking_not_found")
    return DevOtp(phone=normalized, code=code)
