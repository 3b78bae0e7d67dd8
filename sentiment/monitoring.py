"""The monitoring store: every prediction served, every feedback, every alert.

SQLite in WAL mode under ``SENTIMENT_HOME`` (one connection per thread, a busy timeout,
short transactions), behind the small :class:`MonitoringStore` interface so that a server
database can replace it. The alert check-and-record is one ``BEGIN IMMEDIATE``
transaction, so concurrent feedback can never raise the same alert twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from sentiment.errors import SentimentError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, text TEXT NOT NULL, text_length INTEGER NOT NULL,
    label TEXT NOT NULL, proba_positive REAL NOT NULL, model_version TEXT NOT NULL,
    latency_ms REAL NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, prediction_id INTEGER, text TEXT NOT NULL,
    predicted_label TEXT NOT NULL, is_correct INTEGER NOT NULL, corrected_label TEXT,
    comment TEXT, model_version TEXT, verified INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS feedback_ts ON feedback (ts);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, n_wrong INTEGER NOT NULL, window_s INTEGER NOT NULL,
    model_versions TEXT NOT NULL, texts TEXT NOT NULL, status TEXT NOT NULL, detail TEXT);
"""
PredictionRow = tuple[str, str, float, str, float, str]  # text, label, proba, version, ms, src


class MonitoringStore(Protocol):
    """What the service needs from a monitoring database."""

    def log_predictions(self, rows: Sequence[PredictionRow]) -> list[int]: ...

    def add_feedback(self, prediction_id: int | None, text: str, predicted_label: str,
                     is_correct: bool, corrected_label: str | None = None,
                     comment: str | None = None) -> int: ...

    def claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
                    now: float | None = None) -> dict[str, Any] | None: ...

    def set_alert_status(self, alert_id: int, status: str, detail: str) -> None: ...

    def feedback_verified(self, feedback_id: int) -> bool: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...


class MonitoringUnavailable(SentimentError):
    """The monitoring store cannot be read or written now (predictions still work)."""


# Errors after which the file is unusable as it is: moved aside and recreated.
_CORRUPT = ("file is not a database", "malformed", "no such table")


class SQLiteStore:
    """:class:`MonitoringStore` on one SQLite file (WAL, safe for concurrent writers).

    It heals itself: a file deleted or replaced while running is noticed before the
    next write (its inode changed) and reopened; a corrupt file is moved aside as
    ``monitoring.db.corrupt-<time>`` and recreated; an unwritable one leaves the store
    ``degraded``. :attr:`health` says which, with how many predictions went unlogged.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generation = 0
        self._inode: int | None = None
        self.health: dict[str, Any] = {"status": "ok", "unlogged": 0}
        try:
            self._open()
        except sqlite3.Error as exc:
            self.recover(exc)

    def _open(self) -> None:
        """(Re)create the schema and remember which file this is."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._db()
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(feedback)")}
        if "verified" not in columns:  # stores from before verified feedback
            db.execute("ALTER TABLE feedback ADD COLUMN verified INTEGER NOT NULL DEFAULT 1")
        self._inode = self.path.stat().st_ino

    def _db(self) -> sqlite3.Connection:
        generation, db = getattr(self._local, "db", (None, None))
        if db is None or generation != self._generation:
            if db is not None:
                db.close()
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = (self._generation, db)
        return db

    def _same_file(self) -> bool:
        if self._inode is None:  # never opened: nothing to compare with
            return True
        try:
            return self.path.stat().st_ino == self._inode
        except FileNotFoundError:
            return False

    def _reopen(self, why: str) -> None:
        with self._lock:
            self._generation += 1  # every thread reconnects before its next statement
            self._open()
        log.warning("monitoring store %s: %s; reopened", self.path, why)

    def recover(self, exc: BaseException) -> bool:
        """Heal after ``exc`` if possible (reopen, or move a corrupt file aside and
        recreate it); return whether the store works again. Otherwise mark it degraded."""
        message = str(exc)
        try:
            if not self._same_file():
                self._reopen("the file was deleted or replaced")
            elif any(m in message for m in _CORRUPT):
                aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
                for suffix in ("", "-wal", "-shm"):
                    extra = Path(f"{self.path}{suffix}")
                    if extra.exists():
                        extra.rename(Path(f"{aside}{suffix}"))
                self._reopen(f"the file was unreadable ({message}); moved aside to {aside}")
                self.health["moved_aside"] = str(aside)
            else:
                raise exc
        except (OSError, sqlite3.Error) as failure:
            self.health.update(status="degraded", reason=f"{failure}", since=time.time())
            log.error("monitoring store %s degraded: %s", self.path, failure)
            return False
        self.health.update(status="ok", reason=None)
        return True

    def write(self, action: Any, *args: Any) -> Any:
        """Run one write, healing and retrying once; raise MonitoringUnavailable if the
        store stays unusable."""
        for attempt in (1, 2):
            if self._inode is not None and not self._same_file():
                self.recover(FileNotFoundError(self.path))
            try:
                result = action(*args)
                if self.health["status"] != "ok":
                    self.health.update(status="ok", reason=None)
                return result
            except sqlite3.Error as exc:
                if attempt == 2 or not self.recover(exc):
                    self.health.update(status="degraded", reason=str(exc), since=time.time())
                    raise MonitoringUnavailable(f"The monitoring store is unavailable ({exc})."
                                                ) from exc
        raise AssertionError("unreachable")

    @contextmanager
    def _tx(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _log_predictions(self, rows: Sequence[PredictionRow]) -> list[int]:
        """Append predictions; return their ids (in order)."""
        now = time.time()
        values = [(now, text, len(text), label, float(proba), version, float(latency), source)
                  for text, label, proba, version, latency, source in rows]
        with self._tx(immediate=True) as db:
            before = db.execute("SELECT COALESCE(MAX(id), 0) FROM predictions").fetchone()[0]
            db.executemany(
                "INSERT INTO predictions (ts, text, text_length, label, proba_positive,"
                " model_version, latency_ms, source) VALUES (?,?,?,?,?,?,?,?)", values)
        # Consecutive ids: the IMMEDIATE transaction makes this the only writer meanwhile.
        return list(range(before + 1, before + 1 + len(values)))

    def _add_feedback(self, prediction_id: int | None, text: str, predicted_label: str,
                     is_correct: bool, corrected_label: str | None = None,
                     comment: str | None = None) -> int:
        """Record that a prediction was right or wrong (with the corrected label if wrong)."""
        with self._tx(immediate=True) as db:
            if prediction_id is not None:
                row = db.execute("SELECT id, model_version, label, text FROM predictions"
                                 " WHERE id = ?", (prediction_id,)).fetchone()
            else:  # API feedback names the text: link it to that text's latest prediction
                row = db.execute("SELECT id, model_version, label, text FROM predictions"
                                 " WHERE text = ? ORDER BY id DESC LIMIT 1", (text,)).fetchone()
            verified = row is not None and row[2] == predicted_label and row[3] == text
            if verified:  # one verified report per prediction: repeats cannot stack up
                verified = db.execute("SELECT COUNT(*) FROM feedback WHERE prediction_id = ?"
                                      " AND verified = 1", (row[0],)).fetchone()[0] == 0
            prediction_id, version = (row[0], row[1]) if row else (prediction_id, None)
            cursor = db.execute(
                "INSERT INTO feedback (ts, prediction_id, text, predicted_label, is_correct,"
                " corrected_label, comment, model_version, verified)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (time.time(), prediction_id, text, predicted_label, int(bool(is_correct)),
                 corrected_label, comment, version, int(verified)))
            return int(cursor.lastrowid)

    def _claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
                    now: float | None = None) -> dict[str, Any] | None:
        """Record a new alert if the rule fires now; return it, or None (atomic)."""
        now = time.time() if now is None else now
        with self._tx(immediate=True) as db:
            last = db.execute("SELECT MAX(ts) FROM alerts").fetchone()[0]
            if last is not None and now - last < cooldown_s:
                return None
            # Reports inside the window that no earlier alert has already covered.
            wrong = db.execute(
                "SELECT text, predicted_label, model_version FROM feedback"
                " WHERE is_correct = 0 AND verified = 1 AND ts >= ? AND ts > ? ORDER BY ts",
                (now - window_s, last if last is not None else -1.0)).fetchall()
            if len(wrong) < threshold:
                return None
            versions = sorted({str(v) for _, _, v in wrong if v is not None}) or ["unknown"]
            texts = [t for t, _, _ in wrong]
            cursor = db.execute(
                "INSERT INTO alerts (ts, n_wrong, window_s, model_versions, texts, status)"
                " VALUES (?,?,?,?,?,?)",
                (now, len(wrong), window_s, ",".join(versions), json.dumps(texts), "pending"))
            return {"id": int(cursor.lastrowid), "ts": now, "n_wrong": len(wrong),
                    "window_s": window_s, "model_versions": versions, "texts": texts}

    def _set_alert_status(self, alert_id: int, status: str, detail: str) -> None:
        """Record how the delivery of an alert went."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET status = ?, detail = ? WHERE id = ?",
                       (status, detail[:2000], alert_id))

    def log_predictions(self, rows: Sequence[PredictionRow]) -> list[int]:
        return self.write(self._log_predictions, rows)

    def add_feedback(self, prediction_id: int | None, text: str, predicted_label: str,
                     is_correct: bool, corrected_label: str | None = None,
                     comment: str | None = None) -> int:
        return self.write(self._add_feedback, prediction_id, text, predicted_label,
                          is_correct, corrected_label, comment)

    def feedback_verified(self, feedback_id: int) -> bool:
        """Whether a recorded feedback refers to a prediction this service served."""
        frame = self.query("SELECT verified FROM feedback WHERE id = ?", (feedback_id,))
        return bool(len(frame)) and bool(frame["verified"].iloc[0])

    def claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
                    now: float | None = None) -> dict[str, Any] | None:
        return self.write(self._claim_alert, threshold, window_s, cooldown_s, now)

    def set_alert_status(self, alert_id: int, status: str, detail: str) -> None:
        self.write(self._set_alert_status, alert_id, status, detail)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read-only query (our own SQL, user values only as parameters)."""
        try:
            return pd.read_sql_query(sql, self._db(), params=tuple(params))
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            self.recover(exc)
            raise MonitoringUnavailable("The monitoring store cannot be read now; predictions "
                                        "are served but not logged (see the server log)."
                                        ) from exc


_stores: dict[Path, SQLiteStore] = {}
_stores_lock = threading.Lock()


def get_store(home: Path) -> SQLiteStore:
    """The store of one SENTIMENT_HOME (one instance per process)."""
    path = Path(home) / "monitoring.db"
    with _stores_lock:
        if path not in _stores:
            _stores[path] = SQLiteStore(path)
        return _stores[path]
