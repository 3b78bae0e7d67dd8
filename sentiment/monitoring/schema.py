"""The monitoring tables, in SQLAlchemy Core, and the migrations between their versions.

One definition serves SQLite and PostgreSQL. The store's schema version is a row in
``schema_version``; :func:`migrate` brings any older store (including the unversioned
SQLite files of earlier releases) to :data:`LATEST`, under a lock so that replicas
starting together migrate once. A store newer than this code is refused rather than
written with the wrong shape.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)

metadata = MetaData()

predictions = Table(
    "predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False), Column("text", Text, nullable=False),
    Column("text_length", Integer, nullable=False), Column("label", String(16), nullable=False),
    Column("proba_positive", Float, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("latency_ms", Float, nullable=False), Column("source", String(32), nullable=False),
    Index("predictions_ts", "ts"),
)
feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False), Column("prediction_id", Integer),
    Column("text", Text, nullable=False), Column("predicted_label", String(16), nullable=False),
    Column("is_correct", Integer, nullable=False), Column("corrected_label", String(16)),
    Column("comment", Text), Column("model_version", String(64)),
    Column("verified", Integer, nullable=False, server_default=text("1")),
    Index("feedback_ts", "ts"), Index("feedback_prediction", "prediction_id"),
)
alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False), Column("n_wrong", Integer, nullable=False),
    Column("window_s", Integer, nullable=False), Column("model_versions", Text, nullable=False),
    Column("texts", Text, nullable=False), Column("status", String(32), nullable=False),
    Column("detail", Text),
    # wrong_prediction_burst (the model erred) or bad_buzz (the customers are angry)
    Column("kind", String(32), nullable=False, server_default=text("'wrong_prediction_burst'")),
    Column("payload", Text),  # a bad buzz's finding, as JSON (the webhook's body)
    Index("alerts_kind_ts", "kind", "ts"),
)
review_labels = Table(
    "review_labels", metadata,
    Column("prediction_id", Integer, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False), Column("label", String(16), nullable=False),
    Column("reviewer", String(128)), Column("dataset_id", String(64)),
)
sign_in_sessions = Table(
    "sign_in_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(128), nullable=False), Column("ts", Float, nullable=False),
)
handled = Table(
    "handled", metadata,
    Column("prediction_id", Integer, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False), Column("handled_by", String(128)),
)
api_tokens = Table(
    "api_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the secret, never it
    Column("name", String(64), nullable=False), Column("role", String(16), nullable=False),
    Column("created", Float, nullable=False), Column("created_by", String(128)),
    Column("expires", Float), Column("last_used", Float), Column("revoked", Float),
    Index("api_tokens_name", "name"),
)
installation = Table(
    "installation", metadata,
    Column("key", String(64), primary_key=True), Column("value", Text, nullable=False),
)
schema_version = Table("schema_version", metadata,
                       Column("version", Integer, nullable=False))


def _tables(conn: Connection) -> None:
    """1: the three tables (created where missing; older files already have them)."""
    metadata.create_all(conn, checkfirst=True)


def _verified(conn: Connection) -> None:
    """2: ``feedback.verified`` (stores from before verified feedback lack it)."""
    columns = {c["name"] for c in inspect(conn).get_columns("feedback")}
    if "verified" not in columns:
        conn.execute(text("ALTER TABLE feedback ADD COLUMN verified INTEGER NOT NULL "
                          "DEFAULT 1"))


def _prediction_index(conn: Connection) -> None:
    """3: an index on ``feedback.prediction_id`` (feedback finds its prediction by id)."""
    names = {i["name"] for i in inspect(conn).get_indexes("feedback")}
    if "feedback_prediction" not in names:
        conn.execute(text("CREATE INDEX feedback_prediction ON feedback (prediction_id)"))


def _review_labels(conn: Connection) -> None:
    """4: ``review_labels``, the labels the review queue gives to served predictions (and
    the dataset each one went into, once turned into training data)."""
    review_labels.create(conn, checkfirst=True)


def _sessions(conn: Connection) -> None:
    """5: ``sign_in_sessions`` (hashed sign-in tokens, shared by every replica) and
    ``installation`` (one secret of the installation: the session cookie's name)."""
    sign_in_sessions.create(conn, checkfirst=True)
    installation.create(conn, checkfirst=True)


def _early_warning(conn: Connection) -> None:
    """6: ``alerts.kind`` and ``alerts.payload`` (bad-buzz alerts beside the error bursts)
    and ``handled`` (the triage list's answered texts)."""
    columns = {c["name"] for c in inspect(conn).get_columns("alerts")}
    if "kind" not in columns:
        conn.execute(text("ALTER TABLE alerts ADD COLUMN kind VARCHAR(32) NOT NULL "
                          "DEFAULT 'wrong_prediction_burst'"))
    if "payload" not in columns:
        conn.execute(text("ALTER TABLE alerts ADD COLUMN payload TEXT"))
    if "alerts_kind_ts" not in {i["name"] for i in inspect(conn).get_indexes("alerts")}:
        conn.execute(text("CREATE INDEX alerts_kind_ts ON alerts (kind, ts)"))
    handled.create(conn, checkfirst=True)


def _api_tokens(conn: Connection) -> None:
    """7: ``api_tokens``, the named tokens programs call the REST API and MCP with (their
    hashes, role, expiry, last use, revocation), shared by every replica."""
    api_tokens.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _tables), (2, _verified), (3, _prediction_index), (4, _review_labels),
    (5, _sessions), (6, _early_warning), (7, _api_tokens)]
LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    """The store was written by a newer release of this service."""


def current_version(conn: Connection) -> int:
    """The store's schema version (0 when it has never been versioned)."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)


def migrate(conn: Connection) -> list[int]:
    """Apply the migrations this store lacks, in order, in the caller's transaction;
    return the versions applied."""
    found = current_version(conn)
    if found > LATEST:
        raise SchemaTooNew(f"the monitoring store has schema version {found}; this release "
                           f"knows up to {LATEST}: upgrade the service")
    applied = []
    for number, step in MIGRATIONS:
        if number > found:
            step(conn)
            applied.append(number)
    if applied:
        schema_version.create(conn, checkfirst=True)
        conn.execute(schema_version.delete())
        conn.execute(insert(schema_version).values(version=LATEST))
    return applied
