"""API tokens: named keys that programs (a CRM hook, a notebook, an agent) call with.

An admin makes a token with a role (``viewer``: predict, explain, feedback, the models
table; ``admin``: everything an admin may do) and an optional expiry; its secret
(``snt_`` and 43 random characters) is shown once and only its SHA-256 is stored, in the
monitoring store, so every replica of one store knows every token. A request carries
``Authorization: Bearer <secret>``; :func:`authenticate` finds the token by hash and
refuses an unknown, revoked or expired one with the reason. Lookups are cached for
:data:`CACHE_S` seconds per process (a revocation made elsewhere holds everywhere within
that), and the last use is written at most every :data:`TOUCH_EVERY_S` seconds.

:class:`RateLimiter` is the per-caller limit (``SENTIMENT_API_RATE_PER_MINUTE``): a token
bucket per caller and replica, as large as one minute's requests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sentiment.errors import InvalidInputError, NotFoundError, SentimentError
from sentiment.monitoring.store import MonitoringStore

ROLES = ("viewer", "admin")
PREFIX = "snt_"
CACHE_S = 5.0
TOUCH_EVERY_S = 30.0
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}  # hash -> (read at, row)
_touched: dict[str, float] = {}
_lock = threading.Lock()


class TokenRefused(SentimentError):
    """The bearer token is unknown, revoked or expired (the message says which)."""


@dataclass(frozen=True)
class Caller:
    """Who a valid token stands for: its name and role."""

    name: str
    role: str

    @property
    def user(self) -> str:
        """The name handlers and logs know the caller by."""
        return f"token:{self.name}"


def digest(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _forget() -> None:
    with _lock:
        _cache.clear()


def create(store: MonitoringStore, name: str, role: str, expires_days: float | None = None,
           by: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Make a token; the answer holds its ``secret``, which is never shown again."""
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise InvalidInputError("A token name is 1 to 64 letters, digits, '.', '_' or '-', "
                                "starting with a letter or digit.")
    if role not in ROLES:
        raise InvalidInputError(f"The role must be one of {list(ROLES)}, got {role!r}.")
    if expires_days is not None and not 0 < float(expires_days) <= 3650:
        raise InvalidInputError("The expiry is a number of days between 0 and 3650.")
    now = time.time() if now is None else now
    expires = None if expires_days is None else now + float(expires_days) * 86_400
    secret = PREFIX + secrets.token_urlsafe(32)
    if not store.token_add(digest(secret), name, role, now, expires, by):
        raise InvalidInputError(f"A token named {name!r} exists already: revoke it first, "
                                "or choose another name.")
    return {"name": name, "role": role, "secret": secret, "created": now, "expires": expires}


def revoke(store: MonitoringStore, name: str, now: float | None = None) -> None:
    """Revoke the live token called ``name`` (it is refused from now on, everywhere
    within :data:`CACHE_S`)."""
    if not store.token_revoke((name or "").strip(), time.time() if now is None else now):
        raise NotFoundError(f"No live token is named {name!r}.")
    _forget()


def tokens(store: MonitoringStore, now: float | None = None) -> list[dict[str, Any]]:
    """Every token, newest first, with its state (live, expired, revoked) and last use;
    never a secret nor a hash."""
    now = time.time() if now is None else now
    rows = store.token_rows()
    for row in rows:
        row["state"] = "revoked" if row["revoked"] is not None else \
            "expired" if row["expires"] is not None and row["expires"] <= now else "live"
    return rows


def authenticate(store: MonitoringStore, secret: str, now: float | None = None) -> Caller:
    """The caller a bearer secret stands for, or :class:`TokenRefused` with the reason."""
    now = time.time() if now is None else now
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise TokenRefused("Unknown API token.")
    key = digest(secret)
    with _lock:
        cached = _cache.get(key)
    if cached is None or time.monotonic() - cached[0] > CACHE_S:
        row = store.token_get(key)
        with _lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[key] = (time.monotonic(), row)
    else:
        row = cached[1]
    if row is None:
        raise TokenRefused("Unknown API token.")
    if row["revoked"] is not None:
        raise TokenRefused(f"The API token {row['name']!r} was revoked.")
    if row["expires"] is not None and row["expires"] <= now:
        raise TokenRefused(f"The API token {row['name']!r} has expired.")
    _touch(store, key, now)
    return Caller(str(row["name"]), str(row["role"]))


def _touch(store: MonitoringStore, key: str, now: float) -> None:
    """Write the last use now and then (not on every request)."""
    with _lock:
        if now - _touched.get(key, 0.0) < TOUCH_EVERY_S:
            return
        if len(_touched) > 10_000:
            _touched.clear()
        _touched[key] = now
    try:
        store.token_touch(key, now)
    except SentimentError:  # the last-use column is a courtesy; the call goes on
        return


class RateLimiter:
    """At most ``per_minute`` requests per caller (a token bucket holding one minute's
    requests, refilled continuously); 0 is no limit. Per replica: N replicas allow N
    times the rate in all."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, caller: str, now: float | None = None) -> float:
        """0 when the request may go on, else the seconds to wait before the next one."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            level, at = self._buckets.get(caller, (float(self.per_minute), now))
            level = min(float(self.per_minute), level + (now - at) * rate)
            if level < 1.0:
                self._buckets[caller] = (level, now)
                return (1.0 - level) / rate
            self._buckets[caller] = (level - 1.0, now)
            if len(self._buckets) > 100_000:
                self._buckets = {caller: self._buckets[caller]}
            return 0.0
