"""Errors a worker or operator can cause, each with an HTTP status and a message key of
texts.py; the API renders them as problem JSON, the web form as field errors."""

from typing import ClassVar


class BookingError(Exception):
    """Base of the errors this service reports to its callers."""

    status: ClassVar[int] = 400

    def __init__(self, key: str, *, field: str | None = None) -> None:
        super().__init__(key)
        self.key = key
        # The request field at fault ("otp", "start"), for form and API field errors.
        self.field = field


class InvalidInput(BookingError):
    """A field is invalid (422)."""

    status = 422


class NotFound(BookingError):
    """The thing does not exist, or the caller may not see it (404)."""

    status = 404


class Conflict(BookingError):
    """The request collides with the current state: slot taken, already booked (409)."""

    status = 409


class RateLimited(BookingError):
    """Over a rate or a quota (429); `retry_after` seconds when waiting helps."""

    status = 429

    def __init__(self, key: str, *, retry_after: int | None = None) -> None:
        super().__init__(key)
        self.retry_after = retry_after


class PeerUnavailable(BookingError):
    """A service we depend on (stations, the SMS gateway) did not answer (503)."""

    status = 503


class Busy(BookingError):
    """The database could not finish the request now; trying again shortly helps (503)."""

    status = 503
