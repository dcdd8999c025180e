"""BookingError -> RFC 9457 problem JSON, with field errors like FastAPI's own 422s."""

from fastapi import Request
from fastapi.responses import Response

from yizhan.bookings import texts
from yizhan.bookings.errors import BookingError, Busy, InvalidInput, RateLimited
from yizhan.common.http import problem, title_of


def field_path(field: str) -> str:
    """`otp` -> `body.otp`, the way FastAPI names body fields; located names pass through."""
    return field if "." in field else f"body.{field}"


async def booking_error_handler(request: Request, exc: Exception) -> Response:
    """Render a BookingError raised by a route."""
    assert isinstance(exc, BookingError)
    return booking_problem(exc)


def booking_problem(exc: BookingError) -> Response:
    """The answer to a BookingError; its `code` is the message key, stable for clients."""
    detail = texts.message(exc.key, "en")
    extra: dict[str, object] = {}
    if isinstance(exc, InvalidInput) and exc.field:
        extra["errors"] = [{"field": field_path(exc.field), "message": detail}]
    response = problem(exc.status, title_of(exc.status), detail, code=exc.key, **extra)
    if isinstance(exc, RateLimited) and exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Busy):
        response.headers["Retry-After"] = "1"
    return response
