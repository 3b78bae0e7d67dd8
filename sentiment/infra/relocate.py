"""A SENTIMENT_HOME that can be moved: copied, restored from a backup, mounted elsewhere.

MLflow's SQLite store records absolute ``file://`` artifact locations (experiments,
runs, logged models, model versions). At the first registry use in a process, when the
registry is the default one inside SENTIMENT_HOME and its recorded artifact root is not
this home's, every location under the old root is rewritten to the same place under the
new root, in one transaction, and the move is logged. Locations outside the old root
(artifacts an operator put elsewhere on purpose) are left as they are.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sentiment.config import Settings

log = logging.getLogger(__name__)
# Every column of MLflow's store that holds an artifact location.
LOCATIONS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
             ("logged_models", "artifact_location"), ("model_versions", "storage_location"),
             ("model_versions", "source"))


def _database(settings: Settings) -> Path | None:
    """The registry file when it is the default SQLite file inside the home."""
    default = (settings.db_dir or settings.home) / "mlflow.db"
    if settings.tracking_uri != f"sqlite:///{default}" or not default.is_file():
        return None
    return default


def _recorded_root(db: sqlite3.Connection) -> str | None:
    """The artifact root this store was written with (from the ``datasets`` experiment,
    or any experiment's location minus its last part)."""
    try:
        rows = db.execute("SELECT name, artifact_location FROM experiments"
                          " WHERE artifact_location LIKE 'file:%'").fetchall()
    except sqlite3.OperationalError:  # a brand-new file: MLflow creates the tables
        return None
    for name, location in rows:
        if location.endswith(f"/{name}") and name in ("datasets", "training", "validation"):
            return location[: -len(name) - 1]
    return None


def rebase(settings: Settings) -> int:
    """Rewrite artifact locations recorded under an old home; return how many changed."""
    path = _database(settings)
    if path is None:
        return 0
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        old, new = _recorded_root(db), settings.artifact_root
        if old is None or old == new:
            return 0
        changed = 0
        db.execute("BEGIN IMMEDIATE")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table, column in LOCATIONS:
            if table in tables:
                changed += db.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?)"  # noqa: S608
                    f" WHERE substr({column}, 1, ?) = ?",
                    (new, len(old) + 1, len(old), old)).rowcount
        db.execute("COMMIT")
    finally:
        db.close()
    log.warning("SENTIMENT_HOME moved: %d artifact locations rewritten from %s to %s",
                changed, old, new)
    return changed
