"""Booking codes (what a worker shows at the kiosk) and manage tokens (the link to view or
cancel a booking)."""

import base64
import hashlib
import hmac
import re
import secrets

# 32 symbols without the look-alikes 0/O and 1/I: codes are read aloud and typed by hand.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
_CODE = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
_TOKEN_CONTEXT = b"yizhan-bookings/manage-token/v1"


def new_booking_code() -> str:
    """A random code of 8 symbols (40 bits); the database's unique index catches repeats."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str | None:
    """The code as stored (upper case, no spaces or dashes), or None when it cannot be one."""
    code = re.sub(r"[\s-]", "", raw).upper()
    return code if _CODE.match(code) else None


def derive_key(secret: str, purpose: bytes) -> bytes:
    """A key for one purpose, derived from the deployment's secret."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def manage_token_key(secret: str) -> bytes:
    """The key manage tokens are computed with."""
    return derive_key(secret, _TOKEN_CONTEXT)


def manage_token(key: bytes, code: str) -> str:
    """The token that lets its holder view and cancel one booking.

    Derived from the code rather than stored, so that an idempotent retry can hand out the same
    token again, and a stolen database does not reveal working links.
    """
    digest = hmac.new(key, code.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def token_matches(key: bytes, code: str, token: str) -> bool:
    """Whether `token` is the manage token of `code` (constant-time)."""
    return hmac.compare_digest(manage_token(key, code), token)
