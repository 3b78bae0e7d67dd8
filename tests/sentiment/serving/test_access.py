"""sentiment/serving/access.py: API tokens (hashed, shared, revocable, expiring) and the
per-caller rate limit, on a real monitoring store."""

from __future__ import annotations

import time

import pytest

from sentiment.config import get_settings
from sentiment.errors import InvalidInputError, NotFoundError
from sentiment.monitoring.store import SQLStore, get_store
from sentiment.serving import access


@pytest.fixture
def store() -> SQLStore:
    return get_store(get_settings())


def test_a_token_is_shown_once_and_stored_as_its_hash_only(store: SQLStore) -> None:
    made = access.create(store, "crm-hook", "viewer", by="admin")
    secret = made["secret"]
    assert secret.startswith("snt_") and len(secret) > 40
    assert access.authenticate(store, secret) == access.Caller("crm-hook", "viewer")
    stored = store.query("SELECT * FROM api_tokens")
    assert len(stored) == 1 and stored["token_hash"][0] == access.digest(secret)
    assert not any(secret in str(value) for value in stored.iloc[0].tolist())
    listed = access.tokens(store)
    assert [(r["name"], r["role"], r["state"], r["created_by"]) for r in listed] == [
        ("crm-hook", "viewer", "live", "admin")]
    assert "secret" not in listed[0] and "token_hash" not in listed[0]
    # Another process of the same store (a replica) knows the token too.
    replica = SQLStore(store.url)
    assert access.authenticate(replica, secret).role == "viewer"


def test_unknown_revoked_and_expired_tokens_are_refused_with_the_reason(
        store: SQLStore) -> None:
    with pytest.raises(access.TokenRefused, match="Unknown"):
        access.authenticate(store, "snt_" + "x" * 43)
    with pytest.raises(access.TokenRefused, match="Unknown"):
        access.authenticate(store, "admin-password")
    soon = access.create(store, "notebook", "admin", expires_days=1)
    assert access.authenticate(store, soon["secret"]).role == "admin"
    with pytest.raises(access.TokenRefused, match="'notebook' has expired"):
        access.authenticate(store, soon["secret"], now=time.time() + 86_401)
    assert access.tokens(store, now=time.time() + 86_401)[0]["state"] == "expired"
    revoked = access.create(store, "old-hook", "viewer")
    access.authenticate(store, revoked["secret"])  # cached now: revoking must still hold
    access.revoke(store, "old-hook")
    with pytest.raises(access.TokenRefused, match="'old-hook' was revoked"):
        access.authenticate(store, revoked["secret"])
    with pytest.raises(NotFoundError):
        access.revoke(store, "old-hook")
    # A revoked name may be given again; the new secret works, the old one stays refused.
    again = access.create(store, "old-hook", "viewer")
    assert access.authenticate(store, again["secret"]).name == "old-hook"
    with pytest.raises(access.TokenRefused):
        access.authenticate(store, revoked["secret"])


def test_bad_names_roles_and_expiries_change_nothing(store: SQLStore) -> None:
    access.create(store, "bot", "viewer")
    for name, role, days in (("bot", "viewer", None), ("", "viewer", None),
                             ("../etc", "viewer", None), ("x" * 65, "viewer", None),
                             ("ok", "root", None), ("ok", "viewer", -1),
                             ("ok", "viewer", 99_999)):
        with pytest.raises(InvalidInputError):
            access.create(store, name, role, days)
    assert [r["name"] for r in access.tokens(store)] == ["bot"]


def test_the_last_use_is_recorded_now_and_then(store: SQLStore) -> None:
    made = access.create(store, "stream", "viewer")
    assert access.tokens(store)[0]["last_used"] is None
    now = time.time()
    access.authenticate(store, made["secret"], now=now)
    assert access.tokens(store)[0]["last_used"] == pytest.approx(now)
    access.authenticate(store, made["secret"], now=now + 1)  # within TOUCH_EVERY_S
    assert access.tokens(store)[0]["last_used"] == pytest.approx(now)
    access.authenticate(store, made["secret"], now=now + access.TOUCH_EVERY_S + 1)
    assert access.tokens(store)[0]["last_used"] == pytest.approx(
        now + access.TOUCH_EVERY_S + 1)


def test_the_rate_limit_allows_a_minute_of_requests_then_refills() -> None:
    limiter = access.RateLimiter(per_minute=60)
    assert all(limiter.allow("token:a", now=100.0) == 0 for _ in range(60))
    wait = limiter.allow("token:a", now=100.0)
    assert wait == pytest.approx(1.0)  # one request a second refills
    assert limiter.allow("token:b", now=100.0) == 0  # callers are apart
    assert limiter.allow("token:a", now=101.01) == 0
    assert limiter.allow("token:a", now=101.02) > 0
    assert access.RateLimiter(0).allow("token:a") == 0  # 0: no limit
