"""The bookings service: livestream slots and forum seats for workers, check-in at the kiosk.

Where to look first:
- a booking is taken in `booking_service.py`; what stops two people taking the same slot or
  seat is written down in `locking.py` (and enforced by migration 0001's EXCLUDE constraint);
- slots come from the station's opening hours in `slots.py` and `availability.py`;
- one-time codes in `otp.py`, SMS in `sms.py`; check-in rules in `checkin.py`;
- HTTP routes in `api/` (JSON) and `web/` (the form at `/`), gRPC in `rpc/`; every text a
  worker reads is in `texts.py`; `app.py` wires it all together.
"""
