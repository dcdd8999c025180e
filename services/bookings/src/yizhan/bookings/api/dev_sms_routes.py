"""GET /api/v1/dev/sms?phone=... (CONTRACT.md §4, development only): the notification SMS
sent to a phone, newest first, read from the outbox they were sent from."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from yizhan.bookings.api.deps import DepsDep
from yizhan.bookings.errors import NotFound
from yizhan.bookings.models import SmsOutbox
from yizhan.bookings.phones import normalize_phone

router = APIRouter(prefix="/api/v1/dev", tags=["development"])

# A development page of messages, not an archive.
MAX_ITEMS = 50


@router.get("/sms")
async def sent_sms(
    phone: Annotated[str, Query(max_length=32)], deps: DepsDep
) -> dict[str, list[dict[str, Any]]]:
    """The SMS sent to a phone, newest first; only served with YZ_ENV=dev or test."""
    normalized = normalize_phone(phone)
    if normalized is None:
        raise NotFound("booking_not_found")
    async with deps.sessions() as session:
        rows = await session.execute(
            select(SmsOutbox.sent_at, SmsOutbox.text)
            .where(SmsOutbox.phone == normalized, SmsOutbox.sent_at.is_not(None))
            .order_by(SmsOutbox.sent_at.desc(), SmsOutbox.id.desc())
            .limit(MAX_ITEMS)
        )
        found = rows.all()
    if not found:
        raise NotFound("booking_not_found")
    return {"items": [{"at": at.isoformat(), "text": text} for at, text in found if at]}
