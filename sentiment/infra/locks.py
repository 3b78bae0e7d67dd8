"""Lifecycle locks that hold across processes and, with PostgreSQL, across machines.

Bootstrap, promotion, rollback and the first-start challenger each take a named lock so
that two replicas (or two users of one replica, or the app and ``python -m admin``) never
interleave their registry writes. Where ``SENTIMENT_DATABASE_URL`` is PostgreSQL the lock
is a session-level advisory lock on that database, held on its own connection for the
duration of the block (a replica that dies releases it with its connection). Otherwise
it is an ``flock`` on a file in SENTIMENT_HOME, which holds between the processes and
threads of one machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sentiment.config import Settings, is_postgres
from sentiment.errors import SentimentError

POLL_S = 0.1


class LockBusy(SentimentError):
    """The lock is held by someone else and the caller would not (or no longer) wait."""


def key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name``."""
    digest = hashlib.sha256(f"sentiment:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def conninfo(url: str) -> str:
    """The libpq URI for psycopg from our SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def hold(settings: Settings, name: str, wait_s: float = 600.0) -> Iterator[None]:
    """Hold the lock ``name`` for the block; wait up to ``wait_s`` for it (0: do not
    wait) and raise :class:`LockBusy` when it stays taken."""
    holder = _advisory if is_postgres(settings.database_url) else _file
    with holder(settings, name, wait_s):
        yield


def is_held(settings: Settings, name: str) -> bool:
    """Whether someone holds ``name`` now (taken and released at once when free)."""
    try:
        with hold(settings, name, wait_s=0):
            return False
    except LockBusy:
        return True


def _busy(name: str, wait_s: float) -> LockBusy:
    return LockBusy(f"Another {name} is in progress (waited {wait_s:g} s); try again when it "
                    "has finished.")


@contextmanager
def _file(settings: Settings, name: str, wait_s: float) -> Iterator[None]:
    with open(settings.home / f".{name}.lock", "a") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(name, wait_s) from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _connect(settings: Settings) -> Any:
    import psycopg

    try:
        return psycopg.connect(conninfo(settings.database_url), autocommit=True,
                               connect_timeout=10)
    except psycopg.Error as exc:
        raise SentimentError("The lock database (SENTIMENT_DATABASE_URL) is unreachable, so "
                             f"no lifecycle change can be made safely now ({exc}).") from exc


@contextmanager
def _advisory(settings: Settings, name: str, wait_s: float) -> Iterator[None]:
    lock_key = key(name)
    with _connect(settings) as connection:
        deadline = time.monotonic() + wait_s
        while not connection.execute("SELECT pg_try_advisory_lock(%s)",
                                     (lock_key,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise _busy(name, wait_s)
            time.sleep(POLL_S)
        try:
            yield
        finally:
            if not connection.closed:
                connection.execute("SELECT pg_advisory_unlock(%s)", (lock_key,))
