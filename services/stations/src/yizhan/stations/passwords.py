"""Password and device-secret hashing (argon2id), and device password derivation."""

import base64
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Device passwords are 32 url-safe characters (192 bits of an HMAC-SHA256).
DEVICE_PASSWORD_LENGTH = 32
_DERIVATION_LABEL = b"yizhan device mqtt password v1"
MIN_PASSWORD_LENGTH = 8
# zxcvbn's scale: 0 too guessable ... 4 very unguessable; 3 resists an offline attack on a
# slow hash for long enough ("safely unguessable"), which argon2 is.
MIN_PASSWORD_SCORE = 3
# Words a guesser tries first against this network's accounts.
_PASSWORD_CONTEXT = ("yizhan", "驿站", "operator", "console", "admin", "station")


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or device secret."""
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    """Whether `secret` matches the hash."""
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def device_password(key: str, device_id: str, generation: int) -> str:
    """The MQTT password of a device's `generation`-th credentials.

    Derived rather than random so that the database needs only a hash, and the broker can
    still be given every active device's password again (after losing its state, or when
    provisioning happened while it was down). Rotation bumps the generation.
    """
    message = b"\x00".join([_DERIVATION_LABEL, device_id.encode(), str(generation).encode()])
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:DEVICE_PASSWORD_LENGTH]


def weak_password(password: str, username: str) -> str | None:
    """Why a new password is too easy to guess (None when it is good enough)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password has at least {MIN_PASSWORD_LENGTH} characters"
    # zxcvbn costs grow with the length; the first 100 characters decide anyway.
    verdict = zxcvbn(password[:100], user_inputs=[username, *_PASSWORD_CONTEXT])
    if verdict["score"] < MIN_PASSWORD_SCORE:
        hint = verdict["feedback"].get("warning") or "it is too easy to guess"
        return f"too weak a password: {hint}"
    return None


# Device passwords are 192 random bits (device_password): no guessing is feasible whatever
# the hash costs, so they get argon2id with a small cost. The default cost (64 MiB, 3 passes)
# protects passwords people choose; for devices it only made a bulk import of 500 kiosks take
# minutes (each hash ~0.5 s on a loaded 2-core machine, then again to verify when pushing to
# the broker), where these parameters take ~20 ms. verify_secret reads the parameters from
# the hash, so hashes made before keep working.
_device_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def hash_device_secret(secret: str) -> str:
    """An argon2id hash of a device password (high-entropy: a small cost suffices)."""
    return _device_hasher.hash(secret)
