"""The monitoring store: every prediction served, every feedback, every alert.

SQLite in WAL mode under ``SENTIMENT_HOME`` (one connection per thread, a busy timeout,
short transactions), behind the small :class:`MonitoringStore` interface so that a server
database can replace it. The alert check-and-record is one ``BEGIN IMMEDIATE``
transaction, so concurrent feedback can never raise the same alert twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, text TEXT NOT NULL, text_length INTEGER NOT NULL,
    label TEXT NOT NULL, proba_positive REAL NOT NULL, model_version TEXT NOT NULL,
    latency_ms REAL NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, prediction_id INTEGER, text TEXT NOT NULL,
    predicted_label TEXT NOT NULL, is_correct INTEGER NOT NULL, corrected_label TEXT,
    comment TEXT, model_version TEXT);
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

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...


class SQLiteStore:
    """:class:`MonitoringStore` on one SQLite file (WAL, safe for concurrent writers)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

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

    def log_predictions(self, rows: Sequence[PredictionRow]) -> list[int]:
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

    def add_feedback(self, prediction_id: int | None, text: str, predicted_label: str,
                     is_correct: bool, corrected_label: str | None = None,
                     comment: str | None = None) -> int:
        """Record that a prediction was right or wrong (with the corrected label if wrong)."""
        with self._tx(immediate=True) as db:
            if prediction_id is not None:
                row = db.execute("SELECT id, model_version FROM predictions WHERE id = ?",
                                 (prediction_id,)).fetchone()
            else:  # API feedback names the text: link it to that text's latest prediction
                row = db.execute("SELECT id, model_version FROM predictions WHERE text = ?"
                                 " ORDER BY id DESC LIMIT 1", (text,)).fetchone()
            prediction_id, version = (row[0], row[1]) if row else (prediction_id, None)
            cursor = db.execute(
                "INSERT INTO feedback (ts, prediction_id, text, predicted_label, is_correct,"
                " corrected_label, comment, model_version) VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), prediction_id, text, predicted_label, int(bool(is_correct)),
                 corrected_label, comment, version))
            return int(cursor.lastrowid)

    def claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
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
                " WHERE is_correct = 0 AND ts >= ? AND ts > ? ORDER BY ts",
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

    def set_alert_status(self, alert_id: int, status: str, detail: str) -> None:
        """Record how the delivery of an alert went."""
        with self._tx() as db:
            db.execute("UPDATE alerts SET status = ?, detail = ? WHERE id = ?",
                       (status, detail[:2000], alert_id))

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read-only query (our own SQL, user values only as parameters)."""
        return pd.read_sql_query(sql, self._db(), params=tuple(params))


_stores: dict[Path, SQLiteStore] = {}
_stores_lock = threading.Lock()


def get_store(home: Path) -> SQLiteStore:
    """The store of one SENTIMENT_HOME (one instance per process)."""
    path = Path(home) / "monitoring.db"
    with _stores_lock:
        if path not in _stores:
            _stores[path] = SQLiteStore(path)
        return _stores[path]
