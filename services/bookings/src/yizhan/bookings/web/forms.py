"""The web form's fields: parsed and checked with the same rules as the JSON API."""

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import TypeAdapter, ValidationError

from yizhan.bookings import texts
from yizhan.bookings.booking_service import LivestreamChoice
from yizhan.bookings.phones import normalize_phone
from yizhan.bookings.schemas import OtpDigits, PersonName

# The API's own rules, so that the form and the API accept the same input.
_NAME = TypeAdapter(PersonName)
_OTP = TypeAdapter(OtpDigits)


@dataclass
class FieldErrors:
    """Errors keyed by the input's id, in the order the page shows the inputs."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_id: str, message_key: str) -> None:
        """Record an error on one input (the first per input wins)."""
        if field_id not in self:
            self.items.append((field_id, texts.message(message_key)))

    def __contains__(self, field_id: object) -> bool:
        return any(existing == field_id for existing, _ in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def of(self, field_id: str) -> str | None:
        """The message of one input, if it has one."""
        return next((message for existing, message in self.items if existing == field_id), None)


def slot_value(point_id: int, start: datetime, end: datetime) -> str:
    """The value of a slot's radio button."""
    return f"{point_id}|{start.isoformat()}|{end.isoformat()}"


def parse_slot(value: str) -> LivestreamChoice | None:
    """A radio button's value back as a choice; None when it was tampered with."""
    try:
        point_id, start, end = value.split("|")
        choice = LivestreamChoice(
            int(point_id), datetime.fromisoformat(start), datetime.fromisoformat(end)
        )
    except ValueError:
        return None
    if choice.start.tzinfo is None or choice.end.tzinfo is None:
        return None
    return choice


def parse_day(value: str | None) -> date | None:
    """YYYY-MM-DD, or None."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class BookerFields:
    """Phone and name as typed, normalized when valid."""

    phone: str
    name: str


def check_booker(phone: str, name: str, errors: FieldErrors) -> BookerFields:
    """Normalize phone and name, recording errors for invalid ones."""
    normalized = normalize_phone(phone)
    if normalized is None:
        errors.add("phone", "phone_invalid")
    try:
        clean_name = _NAME.validate_python(name)
    except ValidationError:
        errors.add("name", "name_invalid")
        clean_name = name.strip()
    return BookerFields(normalized or phone.strip(), clean_name)


def check_otp(otp: str, errors: FieldErrors) -> str:
    """The six digits, recording an error when it is not six digits."""
    try:
        return _OTP.validate_python(otp)
    except ValidationError:
        errors.add("otp", "otp_format")
        return otp.strip()
