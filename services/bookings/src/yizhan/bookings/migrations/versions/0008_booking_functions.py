"""The booking rules as SQL functions (issue 16, docs/performance.md): a livestream slot is
booked by one call of `yz_book_slot`, one round trip instead of about fifteen (BEGIN, eleven
statements, COMMIT), which is where most of a booking's CPU went in the service. The rules it
applies are functions of their own, which the other paths call too (a forum seat's booking,
"my bookings" and a retry's proof), so that each rule is written once:

- `yz_lock_phone`: the phone's transaction-scoped advisory lock;
- `yz_judge_otp`: a one-time code judged under the latest code's row lock, a wrong guess
  counted (the caller commits it whatever happens next);
- `yz_use_otp`: the latest code used up, if it is still the latest, unused and unexpired;
- `yz_quota_refusal`: the phone's no-shows, bookings of the week and bookings held, against
  the limits (locking.py rule 3: the caller holds the phone's lock).

Lock order is locking.py's: idempotency key, phone lock, one-time code row, booking rows.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LOCK_PHONE = """
CREATE FUNCTION yz_lock_phone(p_phone text) RETURNS void LANGUAGE sql AS $$
    -- Rule 3 of locking.py: every transaction working for one phone, one at a time.
    SELECT pg_advisory_xact_lock(hashtextextended('yizhan-bookings/phone/' || p_phone, 0))
$$
"""

JUDGE_OTP = """
CREATE FUNCTION yz_judge_otp(
    p_phone text, p_code_hash text, p_any_recent boolean, p_max_attempts integer,
    p_now timestamptz
) RETURNS text LANGUAGE plpgsql AS $$
-- NULL when the code is right; else the refusal (otp_expired, otp_exhausted, otp_wrong).
-- With p_any_recent any recent code of the phone proves it (a retry's proof), used or not.
DECLARE
    latest otp_codes;
    matched boolean;
BEGIN
    -- A concurrent guess waits on this lock, then reads the count this one left.
    SELECT * INTO latest FROM otp_codes WHERE phone = p_phone
        ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE;
    IF NOT FOUND OR NOT (p_any_recent OR (latest.consumed_at IS NULL
                                          AND latest.expires_at > p_now)) THEN
        RETURN 'otp_expired';
    END IF;
    IF latest.attempts >= p_max_attempts THEN
        RETURN 'otp_exhausted';
    END IF;
    -- Stored hashes are keyed (HMAC): a guess chooses the code, never the hash compared.
    IF p_any_recent THEN
        matched := EXISTS (SELECT 1 FROM otp_codes
                           WHERE phone = p_phone AND code_hash = p_code_hash);
    ELSE
        matched := latest.code_hash = p_code_hash;
    END IF;
    IF matched THEN
        RETURN NULL;
    END IF;
    UPDATE otp_codes SET attempts = attempts + 1 WHERE id = latest.id;
    RETURN 'otp_wrong';
END $$
"""

USE_OTP = """
CREATE FUNCTION yz_use_otp(p_phone text, p_code_hash text, p_now timestamptz)
RETURNS boolean LANGUAGE sql AS $$
    -- The latest code is locked, checked and marked used by the same statement.
    WITH used AS (
        UPDATE otp_codes SET consumed_at = p_now WHERE id = (
            SELECT id FROM otp_codes WHERE phone = p_phone
            ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE)
        AND consumed_at IS NULL AND expires_at > p_now AND code_hash = p_code_hash
        RETURNING id)
    SELECT EXISTS (SELECT 1 FROM used)
$$
"""

QUOTA_REFUSAL = """
CREATE FUNCTION yz_quota_refusal(
    p_phone text, p_start timestamptz, p_now timestamptz, p_tz text,
    p_no_show_window interval, p_no_show_limit integer, p_weekly integer, p_max_active integer
) RETURNS text LANGUAGE plpgsql AS $$
-- NULL when the phone may book something that starts at p_start; else the refusal
-- (no_show_blocked, weekly_quota, quota). The week is the calendar week (Monday 00:00 to
-- Monday 00:00 in p_tz) that holds p_start. Statuses as models.py names them.
DECLARE
    monday timestamp := date_trunc('week', p_start AT TIME ZONE p_tz);
    no_shows integer;
    made integer;
    held integer;
BEGIN
    SELECT count(*) FILTER (WHERE status = 'no_show' AND starts_at >= p_now - p_no_show_window),
           count(*) FILTER (WHERE status <> 'cancelled'
                            AND starts_at >= monday AT TIME ZONE p_tz
                            AND starts_at < (monday + interval '7 days') AT TIME ZONE p_tz),
           count(*) FILTER (WHERE status IN ('confirmed', 'waitlisted') AND ends_at > p_now
                            AND checked_in_at IS NULL)
        INTO no_shows, made, held
        FROM bookings WHERE phone = p_phone;
    IF no_shows >= p_no_show_limit THEN
        RETURN 'no_show_blocked';
    ELSIF made >= p_weekly THEN
        RETURN 'weekly_quota';
    ELSIF held >= p_max_active THEN
        RETURN 'quota';
    END IF;
    RETURN NULL;
END $$
"""

BOOK_SLOT = """
CREATE FUNCTION yz_book_slot(
    p_key text, p_fingerprint text, p_now timestamptz,
    p_phone text, p_name text, p_code_hash text, p_max_attempts integer,
    p_point_id bigint, p_point_facts integer[], p_start timestamptz, p_end timestamptz,
    p_booking_code text, p_sms_text text,
    p_tz text, p_no_show_window interval, p_no_show_limit integer, p_weekly integer,
    p_max_active integer,
    OUT outcome text, OUT booking_id bigint, OUT station_id text,
    OUT stored_fingerprint text, OUT stored_booking_id bigint,
    OUT taken_start timestamptz, OUT taken_end timestamptz, OUT taken_phone text
) LANGUAGE plpgsql AS $$
-- A livestream slot booked in one call, in locking.py's order. `outcome` is `booked` (with
-- booking_id and station_id), `replay` (the key was used: stored_*), `code_taken` (draw
-- another booking code and call again), `point_changed` (the caller checked the slot
-- against other point facts than p_point_facts: slot minutes, max steps, notice minutes,
-- days ahead; read the point again), or a refusal key of texts.py (otp_*, quotas,
-- station_closed, slot_taken). A refusal leaves nothing behind but a wrong guess's count.
-- A slot found taken before any lock names the booking that holds it (taken_*).
DECLARE
    facts integer[];
BEGIN
    -- A retry of a booking already made gets it (rule 4), and a slot already taken is refused
    -- at once, before anything is locked or written: in a rush that is every request after
    -- the first commit. Both read committed rows only; the steps below decide the rest.
    SELECT k.fingerprint, k.booking_id INTO stored_fingerprint, stored_booking_id
        FROM idempotency_keys k WHERE k.key = p_key;
    IF FOUND THEN
        outcome := 'replay';
        RETURN;
    END IF;
    SELECT b.starts_at, b.ends_at, b.phone INTO taken_start, taken_end, taken_phone
        FROM bookings b
        WHERE b.livestream_point_id = p_point_id AND b.status = 'confirmed'
        AND tstzrange(b.starts_at, b.ends_at, '[)') && tstzrange(p_start, p_end, '[)')
        LIMIT 1;
    IF FOUND THEN
        outcome := 'slot_taken';
        RETURN;
    END IF;
    -- Rule 4: the key first; a concurrent request with it waits here for that one's end.
    INSERT INTO idempotency_keys (key, fingerprint, created_at)
        VALUES (p_key, p_fingerprint, p_now) ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        outcome := 'replay';
        SELECT k.fingerprint, k.booking_id INTO stored_fingerprint, stored_booking_id
            FROM idempotency_keys k WHERE k.key = p_key;
        RETURN;
    END IF;
    -- Rule 3: one phone at a time.
    PERFORM yz_lock_phone(p_phone);
    outcome := yz_judge_otp(p_phone, p_code_hash, false, p_max_attempts, p_now);
    IF outcome IS NULL THEN
        outcome := yz_quota_refusal(p_phone, p_start, p_now, p_tz, p_no_show_window,
                                    p_no_show_limit, p_weekly, p_max_active);
    END IF;
    IF outcome IS NULL THEN
        SELECT p.station_id, ARRAY[p.slot_minutes, p.max_steps, p.min_notice_minutes,
                                   p.max_days_ahead]
            INTO station_id, facts FROM livestream_points p
            WHERE p.id = p_point_id AND p.active;
        IF NOT FOUND THEN
            outcome := 'station_closed';
        ELSIF facts IS DISTINCT FROM p_point_facts THEN
            outcome := 'point_changed';
        END IF;
    END IF;
    IF outcome IS NULL THEN
        -- Rule 1: the exclusion constraint decides whether the slot is free. One insert per
        -- point at a time: PostgreSQL checks the constraint after adding the index entry, so
        -- concurrent overlapping inserts wait for each other, often both ways (a deadlock,
        -- found only after deadlock_timeout); under this lock the loser of a rush meets the
        -- winner's committed row at once.
        PERFORM pg_advisory_xact_lock(hashtextextended('yizhan-bookings/point/' || p_point_id, 0));
        BEGIN
            INSERT INTO bookings (code, phone, name, created_at, kind, station_id,
                                  livestream_point_id, starts_at, ends_at, status)
                VALUES (p_booking_code, p_phone, p_name, p_now, 'livestream', station_id,
                        p_point_id, p_start, p_end, 'confirmed')
                ON CONFLICT (code) DO NOTHING RETURNING id INTO booking_id;
            IF booking_id IS NULL THEN
                outcome := 'code_taken';
            END IF;
        EXCEPTION WHEN exclusion_violation THEN
            outcome := 'slot_taken';
        END;
    END IF;
    IF outcome IS NOT NULL THEN
        -- Rule 4: a key is only ever stored with the booking it made.
        DELETE FROM idempotency_keys WHERE key = p_key;
        station_id := NULL;
        RETURN;
    END IF;
    -- Judged right under the code's row lock and the phone's lock just above: still usable.
    IF NOT yz_use_otp(p_phone, p_code_hash, p_now) THEN
        RAISE EXCEPTION 'one-time code judged right but not usable';
    END IF;
    UPDATE idempotency_keys SET booking_id = yz_book_slot.booking_id WHERE key = p_key;
    INSERT INTO sms_outbox (phone, text, purpose, created_at, next_attempt_at, attempts)
        VALUES (p_phone, p_sms_text, 'confirmed', p_now, p_now, 0);
    outcome := 'booked';
END $$
"""

FUNCTIONS = {
    "yz_lock_phone(text)": LOCK_PHONE,
    "yz_judge_otp(text, text, boolean, integer, timestamptz)": JUDGE_OTP,
    "yz_use_otp(text, text, timestamptz)": USE_OTP,
    "yz_quota_refusal(text, timestamptz, timestamptz, text, interval, integer, integer,"
    " integer)": QUOTA_REFUSAL,
    "yz_book_slot(text, text, timestamptz, text, text, text, integer, bigint, integer[],"
    " timestamptz, timestamptz, text, text, text, interval, integer, integer, integer)": BOOK_SLOT,
}


def upgrade() -> None:
    for body in FUNCTIONS.values():
        op.execute(body)


def downgrade() -> None:
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
