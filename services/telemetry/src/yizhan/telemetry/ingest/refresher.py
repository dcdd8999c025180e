"""Late messages into the continuous aggregates, within seconds (TimescaleDB only).

A continuous aggregate answers from what it materialized up to its watermark and from the raw
events after it. A message that arrives late (store and forward after a kiosk was offline)
lands below the watermark and would count only after the next policy run (every minute). So
after a batch with old usage events commits, this thread refreshes just those quarter hours,
station aggregate first, then the network one built on it. Without TimescaleDB it does
nothing: the rollup tables were updated in the batch's own transaction.
"""

import logging
import threading
from datetime import UTC, datetime, timedelta

import psycopg

from yizhan.telemetry import storage
from yizhan.telemetry.ingest import metrics

log = logging.getLogger(__name__)

# Matches the policy's end_offset (migration 0003): newer buckets are read from raw events.
REAL_TIME_SPAN = timedelta(minutes=15)
BUCKET_SECONDS = 15 * 60
_BUCKET = timedelta(seconds=BUCKET_SECONDS)
_REFRESH = "CALL refresh_continuous_aggregate(%s, %s, %s)"
VIEWS = ("usage_15m", "usage_network_15m")


def quarter_hour(moment: datetime) -> datetime:
    """The start of the quarter hour holding `moment` (UTC-aligned, as time_bucket aligns)."""
    seconds = int(moment.timestamp() // BUCKET_SECONDS) * BUCKET_SECONDS
    return datetime.fromtimestamp(seconds, UTC)


class Refresher:
    """Collects the time ranges of late usage events and refreshes them, debounced."""

    def __init__(self, dsn: str, interval: float) -> None:
        self._dsn = dsn
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: tuple[datetime, datetime] | None = None
        self._wanted: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollup-refresher", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Refresh what is pending, then end."""
        self._stop.set()
        self._thread.join(timeout)

    def note(self, usage_range: tuple[datetime, datetime] | None) -> None:
        """A batch with usage events between these times was committed."""
        if usage_range is None or self._wanted is False:
            return
        oldest, newest = usage_range
        horizon = datetime.now(UTC) - REAL_TIME_SPAN
        if oldest >= horizon:
            return
        self._keep((oldest, min(newest, horizon)))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._refresh_pending()
        self._refresh_pending()

    def _refresh_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return
        # Whole quarter hours, and never past the real-time horizon: refreshing a bucket
        # still filling up would move the watermark over it.
        lo = quarter_hour(pending[0])
        hi = min(
            quarter_hour(pending[1]) + _BUCKET, quarter_hour(datetime.now(UTC) - REAL_TIME_SPAN)
        )
        if hi <= lo:
            return
        try:
            with psycopg.connect(self._dsn, autocommit=True, application_name="yz-refresh") as conn:
                if self._wanted is None:
                    self._wanted = storage.has_views(conn)
                if not self._wanted:
                    return
                for view in VIEWS:
                    conn.execute(_REFRESH, (view, lo, hi))
        except psycopg.Error as exc:
            metrics.WRITE_FAILURES.labels("refresh").inc()
            # Kept for the next round rather than left to the policy (a minute later): a
            # refresh fails while the policy refreshes an overlapping window (TimescaleDB
            # 2.21+ refuses overlapping refreshes) or while the database is out of reach.
            self._keep(pending)
            log.warning("late usage refresh failed; retried", extra={"error": str(exc)})

    def _keep(self, usage_range: tuple[datetime, datetime]) -> None:
        with self._lock:
            lo, hi = usage_range
            if self._pending is not None:
                lo, hi = min(lo, self._pending[0]), max(hi, self._pending[1])
            self._pending = (lo, hi)
