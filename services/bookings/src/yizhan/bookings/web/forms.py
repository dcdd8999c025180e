"""The web form's fields: parsed and checked with the same rules as the JSON API."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from yizhan.bookings.booking_service import ForumChoice, LivestreamChoice
from yizhan.bookings.phones import normalize_phone
from yizhan.bookings.schemas import LongText, OtpDigits, PersonName
from yizhan.bookings.texts import Lang, message

# The API's own rules, so that the form and the API accept the same input.
_NAME = TypeAdapter(PersonName)
_OTP = TypeAdapter(OtpDigits)
_TEXT = TypeAdapter(LongText)

SLOT_PREFIX = "slot"
FORUM_PREFIX = "forum"


@dataclass
class FieldErrors:
    """Errors keyed by the input's id, in the order the page shows the inputs."""

    lang: Lang = "zh"
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_id: str, message_key: str) -> None:
        """Record an error on one input (the first per input wins)."""
        if field_id not in self:
            self.items.append((field_id, message(message_key, self.lang)))

    def __contains__(self, field_id: object) -> bool:
        return any(existing == field_id for existing, _ in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def of(self, field_id: str) -> str | None:
        """The message of one input, if it has one."""
        return next((text for existing, text in self.items if existing == field_id), None)


def slot_value(point_id: int, start: datetime) -> str:
    """The value of a livestream start's radio button."""
    return f"{SLOT_PREFIX}|{point_id}|{start.isoformat()}"


def forum_value(session_id: int) -> str:
    """The value of a session's radio button."""
    return f"{FORUM_PREFIX}|{session_id}"


@dataclass(frozen=True)
class SlotStart:
    """A chosen livestream start; its length comes from the length field."""

    point_id: int
    start: datetime

    def choice(self, steps: int, slot_minutes: int) -> LivestreamChoice:
        """The booking of `steps` consecutive slots from this start."""
        end = self.start + timedelta(minutes=steps * slot_minutes)
        return LivestreamChoice(self.point_id, self.start, end)


def parse_choice(value: str) -> SlotStart | ForumChoice | None:
    """A radio button's value back as a choice; None when empty or tampered with."""
    parts = value.split("|")
    try:
        if parts[0] == FORUM_PREFIX and len(parts) == 2:
            return ForumChoice(int(parts[1]))
        if parts[0] == SLOT_PREFIX and len(parts) == 3:
            start = datetime.fromisoformat(parts[2])
            return SlotStart(int(parts[1]), start) if start.tzinfo is not None else None
    except ValueError:
        return None
    return None


def parse_steps(value: str) -> int | None:
    """The number of consecutive slots chosen, or None."""
    return int(value) if value.isdigit() and 0 < int(value) <= 48 else None


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


def check_opinion_text(text: str, errors: FieldErrors) -> str:
    """The opinion's text, trimmed, recording an error when empty or too long."""
    try:
        return _TEXT.validate_python(text)
    except ValidationError:
        errors.add("opinion-text", "opinion_text_invalid")
        return text.strip()
