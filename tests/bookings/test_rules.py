"""Pure rules: phone numbers, booking codes, manage tokens, check-in reasons, settings."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from yizhan.bookings.checkin import refusal
from yizhan.bookings.codes import (
    ALPHABET,
    CODE_LENGTH,
    manage_token,
    manage_token_key,
    new_booking_code,
    normalize_code,
    token_matches,
)
from yizhan.bookings.models import CANCELLED, CONFIRMED, WAITLISTED, Booking
from yizhan.bookings.phones import mask_phone, normalize_phone
from yizhan.bookings.settings import Settings
from yizhan.bookings.texts import checkin_message
from yizhan.common.settings import CommonSettings

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("12800138000", None),  # 12x is not a mobile prefix
        ("1380013800", None),
        ("138001380000", None),
        ("1380013800a", None),
        ("", None),
    ],
)
def test_phone_numbers(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_phone_is_masked_for_display() -> None:
    assert mask_phone("13800138000") == "138****8000"


def test_booking_codes_avoid_look_alikes() -> None:
    assert not set("01OI") & set(ALPHABET)
    codes = {new_booking_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == CODE_LENGTH and set(code) <= set(ALPHABET) for code in codes)


def test_codes_are_read_back_forgivingly() -> None:
    assert normalize_code(" ls7f-3k9q ") == "LS7F3K9Q"
    assert normalize_code("LS7F3K9") is None
    assert normalize_code("LS0F3K9Q") is None  # 0 is not in the alphabet


def test_manage_tokens_are_derived_per_code_and_key() -> None:
    key = manage_token_key("secret-one-secret-one-secret-one-00")
    token = manage_token(key, "LS7F3K9Q")
    assert token_matches(key, "LS7F3K9Q", token)
    assert not token_matches(key, "LS7F3K9R", token)
    other = manage_token_key("secret-two-secret-two-secret-two-00")
    assert not token_matches(other, "LS7F3K9Q", token)
    assert len(token) >= 32


def _booking(**overrides: object) -> Booking:
    fields: dict[str, object] = {
        "code": "LS7F3K9Q",
        "station_id": "S1",
        "status": CONFIRMED,
        "starts_at": NOW,
        "ends_at": NOW + timedelta(minutes=30),
        "checked_in_at": None,
    }
    fields.update(overrides)
    return Booking(**fields)


@pytest.mark.parametrize(
    ("booking", "station", "now", "reason"),
    [
        (None, "S1", NOW, "not_found"),
        (_booking(), "S2", NOW, "wrong_station"),
        (_booking(status=CANCELLED), "S1", NOW, "cancelled"),
        (_booking(checked_in_at=NOW), "S1", NOW + timedelta(hours=1), "already_checked_in"),
        (_booking(status=WAITLISTED), "S1", NOW, "not_found"),
        (_booking(), "S1", NOW - timedelta(minutes=15, seconds=1), "too_early"),
        (_booking(), "S1", NOW - timedelta(minutes=15), None),
        (_booking(), "S1", NOW, None),
        (_booking(), "S1", NOW + timedelta(minutes=15), None),
        (_booking(), "S1", NOW + timedelta(minutes=15, seconds=1), "too_late"),
    ],
)
def test_checkin_reasons(booking: Booking | None, station: str, now: datetime, reason: str) -> None:
    refused = refusal(booking, station, now)
    assert (refused[0] if refused else None) == reason


def test_every_checkin_answer_has_both_languages() -> None:
    for key in (
        "ok",
        "not_found",
        "waitlisted",
        "wrong_station",
        "too_early",
        "too_late",
        "cancelled",
        "already_checked_in",
    ):
        zh, en = checkin_message(key)
        assert zh != en
        assert not zh.startswith("checkin.")
        assert not en.startswith("checkin.")


def test_a_no_show_scanned_later_is_too_late() -> None:
    booking = _booking(status="no_show")
    refused = refusal(booking, "S1", NOW + timedelta(minutes=20))
    assert refused is not None
    assert refused[0] == "too_late"


def test_log_sender_is_refused_in_production() -> None:
    prod = CommonSettings(
        env="prod",
        jwt_secret="a-real-secret-a-real-secret-a-real-secret",
        service_token="a-real-service-token-000",
    )
    with pytest.raises(ValidationError, match="SMS_SENDER=log"):
        Settings(common=prod)
    settings = Settings(common=prod, sms_sender="webhook", sms_webhook_url="https://sms.example/")
    assert not settings.exposes_dev_tools
    with pytest.raises(ValidationError, match="WEBHOOK_URL"):
        Settings(sms_sender="webhook", sms_webhook_url="file:///etc/passwd")
