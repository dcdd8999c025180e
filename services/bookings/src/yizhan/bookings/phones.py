"""Mainland China mobile numbers: the one identity a worker gives us. Every way in (OTP,
quotas, SMS, lookups, the web form and the API) goes through normalize_phone, so that one
phone is one string however it was typed."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# ASCII digits only: `\d` also matches Arabic-Indic, Devanagari and other digits, which would
# make one phone many (past per-phone limits and quotas).
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$", re.ASCII)
# Spaces and dashes people type, and the country code they may prepend.
_SEPARATORS = re.compile(r"[\s\-()]")


def normalize_phone(raw: str) -> str | None:
    """The 11-digit number, or None when `raw` is not a mainland mobile number. NFKC first:
    fullwidth digits, signs and spaces (what Chinese keyboards type) become ASCII."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    return digits if _MOBILE.match(digits) else None


def mask_phone(phone: str | None) -> str:
    """138****8000: enough for a person to recognise their own number (*** once erased)."""
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) == 11 else "***"


def _validate(raw: str) -> str:
    phone = normalize_phone(raw)
    if phone is None:
        raise ValueError("a mainland China mobile number: 11 digits starting with 13-19")
    return phone


Phone = Annotated[str, AfterValidator(_validate)]
