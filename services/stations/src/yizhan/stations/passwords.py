"""Password and device-secret hashing (argon2id) and generation."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Shape of generated device passwords: 32 url-safe characters, about 190 bits.
DEVICE_PASSWORD_BYTES = 24


def hash_secret(secret: str) -> str:
    """An argon2id hash of a password or device secret."""
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    """Whether `secret` matches the hash."""
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def new_device_password() -> str:
    """A random password for a device's MQTT credentials."""
    return secrets.token_urlsafe(DEVICE_PASSWORD_BYTES)
