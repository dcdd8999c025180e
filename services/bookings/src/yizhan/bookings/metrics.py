"""Prometheus counters of the bookings service (served at /metrics)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

BOOKINGS_CREATED = Counter("yz_bookings_created_total", "Bookings made", ["kind", "status"])
BOOKING_CONFLICTS = Counter(
    "yz_booking_conflicts_total",
    "Booking attempts refused because the slot was taken or the phone already booked",
    ["kind", "reason"],
)
BOOKING_DEADLOCKS = Counter(
    "yz_booking_deadlocks_total",
    "Slot transactions PostgreSQL rolled back to break a deadlock between overlapping inserts",
)
BOOKING_REPLAYS = Counter(
    "yz_booking_idempotent_replays_total", "Retries answered with the booking already made"
)
BOOKINGS_CANCELLED = Counter("yz_bookings_cancelled_total", "Bookings cancelled", ["kind"])
WAITLIST_PROMOTIONS = Counter(
    "yz_bookings_waitlist_promotions_total", "Waitlisted forum bookings given a freed seat"
)
CHECKINS = Counter("yz_bookings_checkins_total", "Check-in attempts by outcome", ["outcome"])
OTP_SENT = Counter("yz_bookings_otp_sent_total", "One-time codes sent")
OTP_REFUSED = Counter(
    "yz_bookings_otp_refused_total", "One-time codes refused at booking", ["reason"]
)
SMS_FAILURES = Counter("yz_bookings_sms_failures_total", "SMS the sender failed to deliver")
PEER_ERRORS = Counter("yz_bookings_peer_errors_total", "Failed calls to other services", ["peer"])
SMS_NOTIFICATIONS = Counter(
    "yz_bookings_sms_notifications_total", "Notification SMS sent from the outbox", ["purpose"]
)
NO_SHOWS = Counter("yz_bookings_no_shows_total", "Bookings marked no-show by the sweep", ["kind"])
QUOTA_REFUSALS = Counter(
    "yz_bookings_quota_refusals_total", "Bookings refused by a per-phone limit", ["limit"]
)
OPINIONS = Counter("yz_bookings_opinions_total", "Opinions submitted by attendees", ["category"])
# Where a booking's time goes (docs/performance.md): one span per step of the booking path.
BOOKING_PHASES = Histogram(
    "yz_booking_phase_seconds",
    "Time spent in each step of making a booking",
    ["phase"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


@contextmanager
def booking_phase(name: str) -> Iterator[None]:
    """Time the block as one step of the booking path (yz_booking_phase_seconds)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        BOOKING_PHASES.labels(name).observe(time.perf_counter() - started)


# How many HTTP worker processes serve (settings.http_workers); the benchmark reads it.
HTTP_WORKERS = Gauge(
    "yz_http_workers", "HTTP worker processes of the service", multiprocess_mode="max"
)
