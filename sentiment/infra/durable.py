"""A home on a storage bucket: SQLite on local disk, consistent copies kept in the home.

Hugging Face Spaces mount a storage bucket (for example at ``/data``) as their only
durable disk, and SQLite on such a mount locks and corrupts under concurrent writers. So
when the home is on ``/data`` the registry and the monitoring store live on local disk
(``SENTIMENT_DB_DIR``, see :mod:`sentiment.config`) while datasets and model artifacts
are written to the home directly. This module keeps the databases durable:

- :func:`save` copies each local database into ``$SENTIMENT_HOME/sqlite-backup/`` with
  SQLite's online backup (a consistent snapshot even while the app writes), written to a
  temporary name and renamed, so a crash mid-copy leaves the previous copy whole;
- :class:`Syncer` saves a database within ``SENTIMENT_DURABLE_SYNC_SECONDS`` (the
  registry within 2 s) of any change, in a background thread;
- :func:`restore` puts the copies back at start when the local disk was wiped (a new
  container), before anything opens the databases.

When the databases live in the home itself (the default off a bucket) all of this is off.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

from sentiment.config import Settings

log = logging.getLogger(__name__)
BACKUP_DIR = "sqlite-backup"
REGISTRY_SYNC_S = 2.0  # a promotion must not be lost to a restart seconds later


def active(settings: Settings) -> bool:
    """Whether the databases live apart from the home (and need copying there)."""
    return settings.db_dir is not None and settings.db_dir != settings.home


def pairs(settings: Settings) -> list[tuple[Path, Path]]:
    """(local database, durable copy) for each SQLite database this service writes."""
    if not active(settings):
        return []
    found = []
    for url in {settings.tracking_uri, settings.database_url}:
        if url.startswith("sqlite:///"):
            local = Path(url.removeprefix("sqlite:///"))
            if local.parent == settings.db_dir:
                found.append((local, settings.home / BACKUP_DIR / local.name))
    return sorted(found)


def _copy(source: Path, target: Path) -> None:
    """A consistent snapshot of the SQLite database ``source`` at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)


def save(settings: Settings, only: Path | None = None) -> list[str]:
    """Copy the local databases (or ``only`` that one) to the home; return their names."""
    saved = []
    for local, copy in pairs(settings):
        if local.is_file() and only in (None, local):
            _copy(local, copy)
            saved.append(local.name)
    return saved


def restore(settings: Settings) -> list[str]:
    """At start: put back each durable copy whose local database is missing."""
    restored = []
    for local, copy in pairs(settings):
        if not local.exists() and copy.is_file():
            _copy(copy, local)
            restored.append(local.name)
            log.info("restored %s from the durable copy in %s", local.name, copy.parent)
    return restored


def _signature(path: Path) -> tuple[float, int, float, int]:
    """Changes when the database or its write-ahead log changes."""
    out: list[float] = []
    for one in (path, path.with_name(path.name + "-wal")):
        try:
            stat = one.stat()
            out += [stat.st_mtime, stat.st_size]
        except FileNotFoundError:
            out += [0.0, 0]
    return tuple(out)  # type: ignore[return-value]


class Syncer:
    """Background thread: save each database soon after it changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.saved: dict[Path, tuple] = {local: _signature(local)
                                         for local, _ in pairs(settings)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="durable-sync")

    def interval(self, local: Path) -> float:
        every = self.settings.durable_sync_seconds
        return min(every, REGISTRY_SYNC_S) if local.name == "mlflow.db" else every

    def start(self) -> Syncer:
        if self.saved:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def sync_once(self) -> list[str]:
        """Save every database changed since its last save; return their names."""
        return self._sync(list(self.saved))

    def _run(self) -> None:
        due = {local: 0.0 for local in self.saved}
        tick = min(self.interval(local) for local in self.saved)
        while not self._stop.wait(tick):
            for local in due:
                due[local] += tick
            ready = [local for local, waited in due.items() if waited >= self.interval(local)]
            for local in ready:
                due[local] = 0.0
            if ready:
                self._sync(ready)

    def _sync(self, ready: list[Path]) -> list[str]:
        done = []
        for local in ready:
            now = _signature(local)
            if now == self.saved[local] or not local.is_file():
                continue
            try:
                save(self.settings, only=local)
            except (sqlite3.Error, OSError):
                log.exception("could not copy %s to the durable home; retrying", local.name)
                continue
            self.saved[local] = now
            done.append(local.name)
        return done
