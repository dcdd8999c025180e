"""The bookings service: livestream slots and forum seats for workers, check-in at the kiosk,
opinions raised at forum sessions, and the figures operators see.

Where to look first:
- a booking is taken in `booking_service.py`; what stops two people taking the same slot or
  seat is written down in `locking.py` (and enforced by migration 0001's EXCLUDE constraint);
- slots come from the station's opening hours in `slots.py` and `availability.py` (each
  point's notice, days ahead and longest booking); per-phone limits in `quotas.py`;
- seats and the waitlist in `seats.py`; operators' session changes in `forum_admin.py`;
- one-time codes in `otp.py`; SMS in `sms.py`, notifications through `outbox.py` and
  `notices.py`; check-in rules in `checkin.py`; the no-show sweep in `noshow.py`;
- opinions in `opinions.py`; the figures per station in `stats.py`;
- what a worker keeps (issue 15): reminders in `reminders.py`, "my bookings" and erasing a
  phone in `worker_data.py` and `web/keeping.py`, retention in `housekeeping.py`, feedback at
  the station and its quality score in `feedback.py`, finder search in `search_text.py`;
- HTTP routes in `api/` (JSON) and `web/` (the form at `/`), gRPC in `rpc/`; every text is in
  the catalogues of `locale/`, read by `texts.py`; `app.py` wires it all together.
"""
