"""A forum seat booked by one call of `yz_book_seat`, as a livestream slot is by
`yz_book_slot` (migration 0008; docs/performance.md, fifth round). Seats are counted and taken
under the session's row lock (locking.py rule 2), so in a rush every booking of a session
waits for the one before it: the lock was held for five round trips from the service (the
lock, the insert, the key's booking, the SMS, the commit), each waiting its turn on a busy
worker's event loop, and 300 workers racing for 30 seats were answered over 1.5 s. Here the
lock is held for the few statements after it, inside PostgreSQL.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BOOK_SEAT = """
CREATE FUNCTION yz_book_seat(
    p_key text, p_fingerprint text, p_now timestamptz,
    p_phone text, p_name text, p_code_hash text, p_max_attempts integer,
    p_session_id bigint, p_starts_at timestamptz, p_ends_at timestamptz,
    p_booking_code text, p_sms_text text,
    p_tz text, p_no_show_window interval, p_no_show_limit integer, p_weekly integer,
    p_max_active integer,
    OUT outcome text, OUT booking_id bigint, OUT status text, OUT station_id text,
    OUT stored_fingerprint text, OUT stored_booking_id bigint
) LANGUAGE plpgsql AS $$
-- A forum seat booked in one call, in locking.py's order. `outcome` is `booked` (with
-- booking_id, its status, confirmed or waitlisted, and station_id), `replay` (the key was
-- used: stored_*), `code_taken` (draw another booking code and call again),
-- `session_changed` (the session's time is no longer p_starts_at to p_ends_at, which the
-- caller's quota week and SMS text used: read it again), or a refusal key of texts.py
-- (otp_*, quotas, session_unknown, session_cancelled, registration_closed, already_booked).
-- A refusal leaves nothing behind but a wrong guess's count. The confirmation SMS
-- (p_sms_text) is queued only for a confirmed seat.
DECLARE
    forum forum_sessions;
    violated text;
BEGIN
    -- A retry of a booking already made gets it (rule 4).
    SELECT k.fingerprint, k.booking_id INTO stored_fingerprint, stored_booking_id
        FROM idempotency_keys k WHERE k.key = p_key;
    IF FOUND THEN
        outcome := 'replay';
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
        outcome := yz_quota_refusal(p_phone, p_starts_at, p_now, p_tz, p_no_show_window,
                                    p_no_show_limit, p_weekly, p_max_active);
    END IF;
    IF outcome IS NULL THEN
        -- Rule 2: seats counted and taken under the session's row lock, held from here to
        -- the end of this call.
        SELECT * INTO forum FROM forum_sessions WHERE id = p_session_id FOR UPDATE;
        IF NOT FOUND THEN
            outcome := 'session_unknown';
        ELSIF forum.status = 'cancelled' THEN
            outcome := 'session_cancelled';
        ELSIF p_now >= coalesce(forum.registration_deadline, forum.starts_at) THEN
            outcome := 'registration_closed';
        ELSIF (forum.starts_at, forum.ends_at) IS DISTINCT FROM (p_starts_at, p_ends_at) THEN
            outcome := 'session_changed';
        END IF;
    END IF;
    IF outcome IS NULL THEN
        IF (SELECT count(*) FROM bookings b
            WHERE b.forum_session_id = forum.id AND b.status = 'confirmed') < forum.seats THEN
            status := 'confirmed';
        ELSE
            status := 'waitlisted';
        END IF;
        BEGIN
            INSERT INTO bookings (code, phone, name, created_at, kind, station_id,
                                  forum_session_id, starts_at, ends_at, status)
                VALUES (p_booking_code, p_phone, p_name, p_now, 'forum', forum.station_id,
                        forum.id, forum.starts_at, forum.ends_at, status)
                ON CONFLICT (code) DO NOTHING RETURNING id INTO booking_id;
            IF booking_id IS NULL THEN
                outcome := 'code_taken';
            END IF;
        EXCEPTION WHEN unique_violation THEN
            GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
            IF violated <> 'bookings_forum_one_per_phone' THEN
                RAISE;
            END IF;
            -- One active booking per phone and session.
            outcome := 'already_booked';
        END;
    END IF;
    IF outcome IS NOT NULL THEN
        -- Rule 4: a key is only ever stored with the booking it made.
        DELETE FROM idempotency_keys WHERE key = p_key;
        status := NULL;
        RETURN;
    END IF;
    -- Judged right under the code's row lock and the phone's lock just above: still usable.
    IF NOT yz_use_otp(p_phone, p_code_hash, p_now) THEN
        RAISE EXCEPTION 'one-time code judged right but not usable';
    END IF;
    UPDATE idempotency_keys SET booking_id = yz_book_seat.booking_id WHERE key = p_key;
    IF status = 'confirmed' THEN
        INSERT INTO sms_outbox (phone, text, purpose, created_at, next_attempt_at, attempts)
            VALUES (p_phone, p_sms_text, 'confirmed', p_now, p_now, 0);
    END IF;
    station_id := forum.station_id;
    outcome := 'booked';
END $$
"""

SIGNATURE = (
    "yz_book_seat(text, text, timestamptz, text, text, text, integer, bigint, timestamptz,"
    " timestamptz, text, text, text, interval, integer, integer, integer)"
)


def upgrade() -> None:
    op.execute(BOOK_SEAT)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
