"""The monitoring store: every prediction served, every feedback, every alert.

One :class:`SQLStore` on ``SENTIMENT_DATABASE_URL`` through SQLAlchemy Core: SQLite in
WAL mode under ``SENTIMENT_HOME`` by default, or PostgreSQL shared by every replica. The
tables and their migrations are in :mod:`sentiment.monitoring.schema`; all SQL is
portable. Writes that must not interleave (feedback linking, the alert check-and-record)
are serialised by the database itself: ``BEGIN IMMEDIATE`` on SQLite, a transaction
advisory lock on PostgreSQL, so three wrong reports spread over two replicas claim one
alert, and feedback given on one replica finds the prediction served by another.

The store never takes prediction down: the SQLite file heals itself (see
:meth:`SQLStore.recover`), and a database that cannot be reached leaves the store
``degraded`` (writes are refused at once for a few seconds, then tried again).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from sentiment.config import Settings, is_postgres
from sentiment.errors import SentimentError
from sentiment.infra import locks
from sentiment.monitoring.schema import (
    SchemaTooNew,
    alerts,
    api_tokens,
    feedback,
    handled,
    installation,
    migrate,
    predictions,
    review_labels,
    sign_in_sessions,
)

log = logging.getLogger(__name__)


class LoggedPrediction(NamedTuple):
    """One served prediction as the log keeps it (plain tuples in this order work too)."""

    text: str
    label: str
    proba_positive: float
    version: str
    latency_ms: float
    source: str  # ui, api or batch

BURST, BUZZ = "wrong_prediction_burst", "bad_buzz"  # the kinds of alert (webhook "event")
RETRY_AFTER_S = 15.0  # a degraded server database is not retried more often than this
MIGRATION_LOCK = "monitoring-schema"
_XACT_KEY = 0x53454E54  # "SENT": serialises feedback linking and alert claims


class MonitoringStore(Protocol):
    """What the service needs from a monitoring database."""

    def log_predictions(self, rows: Sequence[LoggedPrediction],
                        ts: float | Sequence[float] | None = None) -> list[int]: ...

    def add_feedback(self, prediction_id: int | None, text: str, predicted_label: str,
                     is_correct: bool, corrected_label: str | None = None,
                     comment: str | None = None) -> int: ...

    def claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
                    now: float | None = None) -> dict[str, Any] | None: ...

    def claim_buzz(self, finding: dict[str, Any], cooldown_s: int,
                   now: float | None = None) -> dict[str, Any] | None: ...

    def mark_handled(self, prediction_id: int, user: str | None = None,
                     now: float | None = None) -> tuple[bool, str | None, float]: ...

    def set_alert_status(self, alert_id: int, status: str, detail: str) -> None: ...

    def feedback_verified(self, feedback_id: int) -> bool: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame: ...


class MonitoringUnavailable(SentimentError):
    """The monitoring store cannot be read or written now (predictions still work)."""


# What a store that cannot be used raises: the database, the file system, a schema
# from a newer release, the migration lock's database (a SentimentError).
_FAILURES = (SQLAlchemyError, OSError, SchemaTooNew, SentimentError)
# Errors after which the SQLite file is unusable as it is: moved aside and recreated.
_CORRUPT = ("file is not a database", "malformed", "no such table")


def _sqlite_engine(url: str) -> Engine:
    """SQLite with WAL, a busy timeout, and ``BEGIN IMMEDIATE`` for every transaction
    (the writer lock is taken up front, so check-then-insert cannot interleave)."""
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # the driver leaves transactions to the BEGIN below
        for pragma in ("busy_timeout=30000", "journal_mode=WAL", "synchronous=NORMAL"):
            dbapi.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SQLStore:
    """:class:`MonitoringStore` on SQLite or PostgreSQL.

    A SQLite file deleted or replaced while running is noticed before the next write (its
    inode changed) and reopened; a corrupt one is moved aside as
    ``monitoring.db.corrupt-<time>`` and recreated; an unwritable one, or an unreachable
    server, leaves the store ``degraded``. :attr:`health` says which, with how many
    predictions went unlogged.
    """

    def __init__(self, url: str, lock: Any = None) -> None:
        self.url = url
        self.postgres = is_postgres(url)
        self.path = None if self.postgres else Path(url.removeprefix("sqlite:///"))
        self._lock = threading.RLock()  # one healer at a time; held while reopening
        self._schema_lock = lock  # a cross-replica lock for migrations (PostgreSQL)
        self._engine: Engine | None = None
        self._inode: int | None = None
        self._migrated = False
        self.generation = 0  # bumped on every (re)open: a failure on an older one is stale
        self.health: dict[str, Any] = {"status": "ok", "unlogged": 0}
        try:
            self._open()
        except _FAILURES as exc:
            self.recover(exc)

    # ---- connection, schema and healing ----------------------------------------------

    def _open(self) -> None:
        """(Re)connect, migrate the schema, and remember which file this is.

        The old engine is dropped first (its connections may hold a deleted file, where
        a write would succeed and be lost), and the new one is only handed to writers
        once its schema exists: a writer that reached a fresh file before its tables
        would read it as corrupt. Meanwhile writers get MonitoringUnavailable and wait
        for this healer.
        """
        with self._lock:
            old, self._engine = self._engine, None
            if old is not None:
                old.dispose()
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                engine = _sqlite_engine(self.url)
            else:
                engine = create_engine(self.url, pool_pre_ping=True, pool_size=4,
                                       connect_args={"connect_timeout": 2})
            with self._schema_lock() if self._schema_lock else nullcontext(), \
                    engine.begin() as conn:
                applied = migrate(conn)
            if applied:
                log.info("monitoring store migrated to schema %s", applied[-1])
            self._engine = engine
            self._migrated = True
            if self.path is not None:
                self._inode = self.path.stat().st_ino
            self.generation += 1

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise MonitoringUnavailable("The monitoring store could not be opened.")
        return self._engine

    def _same_file(self) -> bool:
        if self.path is None or self._inode is None:
            return True
        try:
            return self.path.stat().st_ino == self._inode
        except FileNotFoundError:
            return False

    def _reopen(self, why: str) -> None:
        self._open()
        log.warning("monitoring store %s: %s; reopened", self.path or "database", why)

    def recover(self, exc: BaseException, generation: int | None = None) -> bool:
        """Heal after ``exc`` if possible (reopen; move a corrupt SQLite file aside and
        recreate it); return whether the store works again. Otherwise mark it degraded.

        One thread heals at a time. ``generation`` is the store's generation when the
        failing call started: if another thread has reopened the store since, the failure
        is stale and the caller just retries. (Without this, threads that all saw a
        deleted file took turns reopening it, and one moved the new file aside as
        corrupt, with rows already logged in it.)
        """
        with self._lock:
            if generation is not None and generation != self.generation:
                return True
            return self._heal(exc)

    def _heal(self, exc: BaseException) -> bool:
        message = str(exc)
        try:
            if self.path is None:
                if self._migrated:  # the pool reconnects by itself once the server is back
                    raise exc
                self._reopen(f"not set up yet ({message.splitlines()[0][:200]})")
            elif not self._same_file():
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
        except _FAILURES as failure:
            self._degrade(failure)
            return False
        self.health.update(status="ok", reason=None)
        return True

    def _degrade(self, failure: BaseException) -> None:
        reason = str(failure).splitlines()[0][:300] if str(failure) else type(failure).__name__
        self.health.update(status="degraded", reason=reason, since=time.time())
        log.error("monitoring store degraded: %s", reason)

    def _resting(self) -> bool:
        """A degraded server database is left alone for a few seconds (so that every
        prediction does not wait on a connect timeout); SQLite is retried at once."""
        return (self.postgres and self.health["status"] == "degraded"
                and time.time() - self.health.get("since", 0) < RETRY_AFTER_S)

    def write(self, action: Any, *args: Any) -> Any:
        """Run one write, healing and retrying once; raise MonitoringUnavailable if the
        store stays unusable."""
        if self._resting():
            raise MonitoringUnavailable(f"The monitoring store is unavailable "
                                        f"({self.health.get('reason')}).")
        for attempt in (1, 2):
            generation = self.generation
            if self._inode is not None and not self._same_file():
                self.recover(FileNotFoundError(self.path), generation)
                generation = self.generation
            try:
                result = action(*args)
                if self.health["status"] != "ok":
                    self.health.update(status="ok", reason=None)
                return result
            except _FAILURES as exc:
                if attempt == 2 or not self.recover(exc, generation):
                    self._degrade(exc)
                    raise MonitoringUnavailable(f"The monitoring store is unavailable "
                                                f"({self.health['reason']}).") from exc
        raise AssertionError("unreachable")

    @contextmanager
    def _tx(self, serialise: bool = False) -> Iterator[Connection]:
        """A transaction; ``serialise`` makes it the only such one at a time (SQLite's
        BEGIN IMMEDIATE already is; PostgreSQL takes a transaction advisory lock)."""
        with self.engine.begin() as conn:
            if serialise and self.postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _XACT_KEY})
            yield conn

    # ---- writes -------------------------------------------------------------------------

    def _log_predictions(self, rows: Sequence[LoggedPrediction],
                         ts: float | Sequence[float] | None = None) -> list[int]:
        """Append predictions (served at ``ts``: now by default, or one time per row);
        return their ids."""
        now = time.time() if ts is None else ts
        times = [now] * len(rows) if isinstance(now, int | float) else list(now)
        values = [{"ts": float(when), "text": text_, "text_length": len(text_),
                   "label": label, "proba_positive": float(proba), "model_version": version,
                   "latency_ms": float(latency), "source": source}
                  for (text_, label, proba, version, latency, source), when
                  in zip(rows, times, strict=True)]
        if not self.postgres:  # the hot path of every prediction: the driver's executemany
            with self._tx() as conn:  # BEGIN IMMEDIATE: the only writer, so the new ids
                conn.exec_driver_sql(_INSERT_SQLITE, [tuple(v.values()) for v in values])
                last = int(conn.exec_driver_sql("SELECT last_insert_rowid()").scalar())
            return list(range(last - len(values) + 1, last + 1))  # follow one another
        with self._tx() as conn:
            result = conn.execute(insert(predictions).returning(
                predictions.c.id, sort_by_parameter_order=True), values)
            return [int(row[0]) for row in result]

    def _add_feedback(self, prediction_id: int | None, text_: str, predicted_label: str,
                      is_correct: bool, corrected_label: str | None = None,
                      comment: str | None = None) -> int:
        """Record that a prediction was right or wrong (with the corrected label if wrong)."""
        p = predictions.c
        with self._tx(serialise=True) as conn:
            query = select(p.id, p.model_version, p.label, p.text)
            if prediction_id is not None:
                query = query.where(p.id == int(prediction_id))
            else:  # API feedback names the text: link it to that text's latest prediction
                query = query.where(p.text == text_).order_by(p.id.desc()).limit(1)
            row = conn.execute(query).first()
            verified = row is not None and row[2] == predicted_label and row[3] == text_
            if verified:  # one verified report per prediction: repeats cannot stack up
                verified = conn.execute(select(feedback.c.id).where(
                    feedback.c.prediction_id == row[0], feedback.c.verified == 1
                ).limit(1)).first() is None
            prediction_id, version = (row[0], row[1]) if row else (prediction_id, None)
            return int(conn.execute(insert(feedback).returning(feedback.c.id), {
                "ts": time.time(), "prediction_id": prediction_id, "text": text_,
                "predicted_label": predicted_label, "is_correct": int(bool(is_correct)),
                "corrected_label": corrected_label, "comment": comment,
                "model_version": version, "verified": int(verified)}).scalar_one())

    def _claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
                     now: float | None = None) -> dict[str, Any] | None:
        """Record a new alert if the rule fires now; return it, or None (atomic)."""
        now = time.time() if now is None else now
        f = feedback.c
        with self._tx(serialise=True) as conn:
            last = conn.execute(select(alerts.c.ts).where(alerts.c.kind == BURST)
                                .order_by(alerts.c.ts.desc()).limit(1)).scalar()
            if last is not None and now - last < cooldown_s:
                return None
            # Reports inside the window that no earlier alert has already covered.
            wrong = conn.execute(select(f.text, f.predicted_label, f.model_version).where(
                f.is_correct == 0, f.verified == 1, f.ts >= now - window_s,
                f.ts > (last if last is not None else -1.0)).order_by(f.ts)).all()
            if len(wrong) < threshold:
                return None
            versions = sorted({str(v) for _, _, v in wrong if v is not None}) or ["unknown"]
            texts = [t for t, _, _ in wrong]
            alert_id = conn.execute(insert(alerts).returning(alerts.c.id), {
                "ts": now, "n_wrong": len(wrong), "window_s": window_s,
                "model_versions": ",".join(versions), "texts": json.dumps(texts),
                "status": "pending"}).scalar_one()
            return {"id": int(alert_id), "ts": now, "n_wrong": len(wrong),
                    "window_s": window_s, "model_versions": versions, "texts": texts}

    def _claim_buzz(self, finding: dict[str, Any], cooldown_s: int,
                    now: float | None = None) -> dict[str, Any] | None:
        """Record a bad-buzz alert unless one was raised within ``cooldown_s``; return it
        with its id, or None. Atomic: replicas that detect the same buzz record it once."""
        now = time.time() if now is None else now
        with self._tx(serialise=True) as conn:
            last = conn.execute(select(alerts.c.ts).where(alerts.c.kind == BUZZ)
                                .order_by(alerts.c.ts.desc()).limit(1)).scalar()
            if last is not None and now - last < cooldown_s:
                return None
            alert_id = conn.execute(insert(alerts).returning(alerts.c.id), {
                "ts": now, "n_wrong": 0, "window_s": int(finding["window_s"]),
                "model_versions": ",".join(finding.get("model_versions") or ["unknown"]),
                "texts": json.dumps(finding["examples"]), "status": "pending",
                "kind": BUZZ, "payload": json.dumps(finding)}).scalar_one()
            return {**finding, "id": int(alert_id), "ts": now, "kind": BUZZ}

    def _mark_handled(self, prediction_id: int, user: str | None,
                      now: float | None = None) -> tuple[bool, str | None, float]:
        """Mark a served prediction handled; return (newly marked, by whom, when)."""
        h = handled.c
        with self._tx(serialise=True) as conn:
            if conn.execute(select(predictions.c.id).where(
                    predictions.c.id == int(prediction_id))).first() is None:
                raise LookupError(f"no prediction with id {prediction_id}")
            old = conn.execute(select(h.handled_by, h.ts).where(
                h.prediction_id == int(prediction_id))).first()
            if old is not None:
                return False, old[0], float(old[1])
            when = time.time() if now is None else now
            conn.execute(insert(handled).values(prediction_id=int(prediction_id), ts=when,
                                                handled_by=user))
            return True, user, when

    def _set_alert_status(self, alert_id: int, status: str, detail: str) -> None:
        """Record how the delivery of an alert went."""
        with self._tx() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                status=status, detail=detail[:2000]))

    def _label_prediction(self, prediction_id: int, label: str, reviewer: str | None) -> str:
        """Give a served prediction its true label; return ``labelled`` or ``relabelled``.
        A label already turned into a dataset is kept (that dataset is a record)."""
        r = review_labels.c
        with self._tx(serialise=True) as conn:
            if conn.execute(select(predictions.c.id).where(
                    predictions.c.id == int(prediction_id))).first() is None:
                raise LookupError(f"no prediction with id {prediction_id}")
            old = conn.execute(select(r.dataset_id).where(
                r.prediction_id == int(prediction_id))).first()
            if old is not None and old[0]:
                raise ValueError(f"prediction {prediction_id} is already in dataset {old[0]}")
            if old is not None:
                conn.execute(review_labels.delete().where(r.prediction_id == int(prediction_id)))
            conn.execute(insert(review_labels).values(
                prediction_id=int(prediction_id), ts=time.time(), label=label,
                reviewer=reviewer))
            return "relabelled" if old is not None else "labelled"

    def _mark_used(self, prediction_ids: Sequence[int], dataset_id: str) -> None:
        with self._tx(serialise=True) as conn:
            conn.execute(update(review_labels).where(
                review_labels.c.prediction_id.in_([int(i) for i in prediction_ids]),
                review_labels.c.dataset_id.is_(None)).values(dataset_id=dataset_id))

    def _prune(self, max_age_days: float, max_rows: int, now: float | None = None) -> int:
        """Delete predictions older than ``max_age_days`` (0: no age limit) and the oldest
        beyond ``max_rows`` (0: no bound), with their unused review labels; feedback rows
        keep their own copy of the text and stay. Returns predictions deleted."""
        now = time.time() if now is None else now
        p = predictions.c
        with self._tx(serialise=True) as conn:
            cutoff_id = None
            if max_rows:
                cutoff_id = conn.execute(select(p.id).order_by(p.id.desc()).offset(max_rows)
                                         .limit(1)).scalar()
            clauses = []
            if max_age_days:
                clauses.append(p.ts < now - max_age_days * 86_400)
            if cutoff_id is not None:
                clauses.append(p.id <= cutoff_id)
            if not clauses:
                return 0
            condition = or_(*clauses)
            doomed = select(p.id).where(condition)
            conn.execute(review_labels.delete().where(
                review_labels.c.prediction_id.in_(doomed), review_labels.c.dataset_id.is_(None)))
            conn.execute(handled.delete().where(handled.c.prediction_id.in_(doomed)))
            return int(conn.execute(predictions.delete().where(condition)).rowcount or 0)

    def prune(self, max_age_days: float, max_rows: int, now: float | None = None) -> int:
        """The retention of the prediction log (``SENTIMENT_PREDICTION_RETENTION_DAYS``,
        ``SENTIMENT_PREDICTION_MAX_ROWS``), applied by the app's housekeeping."""
        return self.write(self._prune, max_age_days, max_rows, now)

    # ---- sign-in sessions, shared by replicas ----------------------------------------

    def _session_put(self, token_hash: str, username: str, ts: float) -> None:
        with self._tx() as conn:
            conn.execute(sign_in_sessions.delete().where(
                sign_in_sessions.c.token_hash == token_hash))
            conn.execute(insert(sign_in_sessions).values(token_hash=token_hash,
                                                         username=username, ts=ts))

    def _session_delete(self, token_hash: str, older_than: float | None = None) -> None:
        with self._tx() as conn:
            conn.execute(sign_in_sessions.delete().where(
                sign_in_sessions.c.token_hash == token_hash))
            if older_than is not None:
                conn.execute(sign_in_sessions.delete().where(
                    sign_in_sessions.c.ts < older_than))

    def session_put(self, token_hash: str, username: str, ts: float) -> None:
        """Record a sign-in (the token's hash: the token itself is never stored)."""
        self.write(self._session_put, token_hash, username, ts)

    def session_delete(self, token_hash: str, older_than: float | None = None) -> None:
        """End a sign-in (and every one started before ``older_than``)."""
        self.write(self._session_delete, token_hash, older_than)

    def session_get(self, token_hash: str) -> tuple[str, float] | None:
        """(user, start time) of a sign-in, or None."""
        frame = self.query("SELECT username, ts FROM sign_in_sessions WHERE token_hash = :h",
                           {"h": token_hash})
        return None if frame.empty else (str(frame["username"].iloc[0]),
                                         float(frame["ts"].iloc[0]))

    def _installation_secret(self, key: str, candidate: str) -> str:
        with self._tx(serialise=True) as conn:
            found = conn.execute(select(installation.c.value).where(
                installation.c.key == key)).scalar()
            if found is None:
                conn.execute(insert(installation).values(key=key, value=candidate))
                return candidate
            return str(found)

    def installation_secret(self, key: str, candidate: str) -> str:
        """The installation's value for ``key``: ``candidate`` when it is the first to ask
        (every replica of one store gets the same)."""
        return self.write(self._installation_secret, key, candidate)

    # ---- API tokens, shared by replicas (sentiment/serving/access.py) ----------------

    def _token_add(self, token_hash: str, name: str, role: str, created: float,
                   expires: float | None, created_by: str | None) -> bool:
        t = api_tokens.c
        with self._tx(serialise=True) as conn:
            live = conn.execute(select(t.token_hash).where(
                t.name == name, t.revoked.is_(None))).first()
            if live is not None:
                return False
            conn.execute(insert(api_tokens).values(
                token_hash=token_hash, name=name, role=role, created=created,
                created_by=created_by, expires=expires))
            return True

    def token_add(self, token_hash: str, name: str, role: str, created: float,
                  expires: float | None = None, created_by: str | None = None) -> bool:
        """Record a token (its hash); False when a live token already has that name."""
        return self.write(self._token_add, token_hash, name, role, created, expires,
                          created_by)

    def _token_revoke(self, name: str, when: float) -> int:
        t = api_tokens.c
        with self._tx() as conn:
            return int(conn.execute(update(api_tokens).where(
                t.name == name, t.revoked.is_(None)).values(revoked=when)).rowcount or 0)

    def token_revoke(self, name: str, when: float) -> int:
        """Revoke the live token of that name; the number revoked (0 or 1)."""
        return self.write(self._token_revoke, name, when)

    def _token_touch(self, token_hash: str, when: float) -> None:
        with self._tx() as conn:
            conn.execute(update(api_tokens).where(
                api_tokens.c.token_hash == token_hash).values(last_used=when))

    def token_touch(self, token_hash: str, when: float) -> None:
        """Record a token's last use."""
        self.write(self._token_touch, token_hash, when)

    def token_get(self, token_hash: str) -> dict[str, Any] | None:
        """A token's row by its hash (name, role, created, expires, last_used, revoked)."""
        frame = self.query("SELECT name, role, created, created_by, expires, last_used, "
                           "revoked FROM api_tokens WHERE token_hash = :h", {"h": token_hash})
        return None if frame.empty else _row(frame)

    def prediction_row(self, prediction_id: int) -> dict[str, Any] | None:
        """One served prediction (text, label, proba_positive, model_version), or None."""
        frame = self.query("SELECT text, label, proba_positive, model_version FROM "
                           "predictions WHERE id = :id", {"id": int(prediction_id)})
        return None if frame.empty else _row(frame)

    def token_rows(self) -> list[dict[str, Any]]:
        """Every token ever made, newest first (hashes left out)."""
        frame = self.query("SELECT name, role, created, created_by, expires, last_used, "
                           "revoked FROM api_tokens ORDER BY created DESC")
        return [_row(frame.iloc[[i]]) for i in range(len(frame))]

    def label_prediction(self, prediction_id: int, label: str,
                         reviewer: str | None = None) -> str:
        return self.write(self._label_prediction, prediction_id, label, reviewer)

    def mark_used(self, prediction_ids: Sequence[int], dataset_id: str) -> None:
        """Record the dataset the labelled predictions went into (they leave the pool)."""
        self.write(self._mark_used, prediction_ids, dataset_id)

    def log_predictions(self, rows: Sequence[LoggedPrediction],
                        ts: float | Sequence[float] | None = None) -> list[int]:
        """Append served predictions (at ``ts``, one time or one per row: a replay's
        clock; now by default)."""
        return self.write(self._log_predictions, rows, ts)

    def claim_buzz(self, finding: dict[str, Any], cooldown_s: int,
                   now: float | None = None) -> dict[str, Any] | None:
        return self.write(self._claim_buzz, finding, cooldown_s, now)

    def mark_handled(self, prediction_id: int, user: str | None = None,
                     now: float | None = None) -> tuple[bool, str | None, float]:
        return self.write(self._mark_handled, prediction_id, user, now)

    def add_feedback(self, prediction_id: int | None, text: str, predicted_label: str,
                     is_correct: bool, corrected_label: str | None = None,
                     comment: str | None = None) -> int:
        return self.write(self._add_feedback, prediction_id, text, predicted_label,
                          is_correct, corrected_label, comment)

    def feedback_verified(self, feedback_id: int) -> bool:
        """Whether a recorded feedback refers to a prediction this service served."""
        frame = self.query("SELECT verified FROM feedback WHERE id = :id", {"id": feedback_id})
        return bool(len(frame)) and bool(frame["verified"].iloc[0])

    def claim_alert(self, threshold: int, window_s: int, cooldown_s: int,
                    now: float | None = None) -> dict[str, Any] | None:
        return self.write(self._claim_alert, threshold, window_s, cooldown_s, now)

    def set_alert_status(self, alert_id: int, status: str, detail: str) -> None:
        self.write(self._set_alert_status, alert_id, status, detail)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a read-only query (our own portable SQL; user values only as ``:name``
        parameters)."""
        generation = self.generation
        try:
            if self._resting():
                raise MonitoringUnavailable(str(self.health.get("reason")))
            with self.engine.connect() as conn:
                return pd.read_sql_query(text(sql), conn, params=dict(params or {}))
        except (SQLAlchemyError, MonitoringUnavailable, pd.errors.DatabaseError) as exc:
            if not isinstance(exc, MonitoringUnavailable):
                self.recover(exc, generation)
            raise MonitoringUnavailable("The monitoring store cannot be read now; predictions "
                                        "are served but not logged (see the server log)."
                                        ) from exc


_INSERT_SQLITE = ("INSERT INTO predictions (ts, text, text_length, label, proba_positive, "
                  "model_version, latency_ms, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _row(frame: pd.DataFrame) -> dict[str, Any]:
    """The first row of a frame as plain Python values (NULL as None)."""
    return {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
            for k, v in frame.iloc[0].items()}


_stores: dict[str, SQLStore] = {}
_stores_lock = threading.Lock()


def get_store(settings: Settings) -> SQLStore:
    """The store of ``SENTIMENT_DATABASE_URL`` (one instance per process)."""
    url = settings.database_url
    with _stores_lock:
        if url not in _stores:
            lock = (lambda: locks.hold(settings, MIGRATION_LOCK, 120)) if is_postgres(url) \
                else None
            _stores[url] = SQLStore(url, lock)
        return _stores[url]
