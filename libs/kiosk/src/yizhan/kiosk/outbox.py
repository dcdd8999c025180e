"""A kiosk's outbox on disk (SQLite, in the standard library): every reading is written
before it is sent and removed only when the broker acknowledged it, so a kiosk keeps its
readings through network or broker outages of hours, and through its own restarts. The
per-device `seq` is kept in the same file, so it never goes back after a reboot."""

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY,
    channel  TEXT NOT NULL,
    local_ms INTEGER NOT NULL,
    body     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER);
INSERT OR IGNORE INTO counter VALUES (1, -1);
"""


@dataclass(frozen=True)
class Pending:
    """A reading not yet acknowledged: its seq, channel, local clock time and fields."""

    seq: int
    channel: str
    local_ms: int
    body: dict[str, Any]


class Outbox:
    """Readings waiting to be sent, oldest first; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # A committed reading survives a power cut (FULL: fsync at every commit).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def add(self, channel: str, local_ms: int, body: dict[str, Any]) -> int:
        """Keep a reading with the next seq (committed before this returns); its seq."""
        (seq,) = self.add_many([(channel, local_ms, body)])
        return seq

    def add_many(self, readings: Iterable[tuple[str, int, dict[str, Any]]]) -> list[int]:
        """Keep readings (channel, local clock ms, fields) with the next seqs, in one
        transaction (one fsync for a whole log read back from equipment); their seqs."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (last,) = self._db.execute("SELECT last_seq FROM counter").fetchone()
                seqs = []
                for channel, local_ms, body in readings:
                    last = int(last) + 1
                    seqs.append(last)
                    self._db.execute(
                        "INSERT INTO outbox VALUES (?, ?, ?, ?)",
                        (last, channel, local_ms, json.dumps(body, ensure_ascii=False)),
                    )
                self._db.execute("UPDATE counter SET last_seq = ?", (last,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return seqs

    def oldest(self, limit: int, after: int = -1) -> list[Pending]:
        """Up to `limit` readings with seq above `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, channel, local_ms, body FROM outbox WHERE seq > ?"
                " ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Pending(seq, channel, ms, json.loads(body)) for seq, channel, ms, body in rows]

    def remove(self, seq: int) -> None:
        """Forget a reading the broker acknowledged."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
