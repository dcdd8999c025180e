"""A booking as an iCalendar file (RFC 5545) with the `icalendar` library: one VEVENT in
Asia/Shanghai time (with its VTIMEZONE), so that any phone's calendar shows the local hour."""

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from yizhan.bookings.models import Booking

# Bookings are in the stations' zone; the calendar names it and carries its definition.
CALENDAR_ZONE = ZoneInfo("Asia/Shanghai")
PRODUCT_ID = "-//Yizhan//Worker bookings//ZH"


def booking_event(
    booking: Booking, *, summary: str, location: str, description: str, url: str, now: datetime
) -> bytes:
    """The .ics body of one booking (a stable UID: importing it again updates the event)."""
    event = Event()
    event.add("uid", f"{booking.code}@yizhan")
    event.add("dtstamp", now)
    event.add("dtstart", booking.starts_at.astimezone(CALENDAR_ZONE))
    event.add("dtend", booking.ends_at.astimezone(CALENDAR_ZONE))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("url", url)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    body: bytes = calendar.to_ical()
    return body
