"""Prometheus counters of the bookings service (served at /metrics)."""

from prometheus_client import Counter

BOOKINGS_CREATED = Counter("yz_bookings_created_total", "Bookings made", ["kind", "status"])
BOOKING_CONFLICTS = Counter(
    "yz_booking_conflicts_total",
    "Booking attempts refused because the slot was taken or the phone already booked",
    ["kind", "reason"],
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
