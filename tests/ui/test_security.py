"""ui/security.py: one decorator checks every handler's caller; errors carry ids; throttle."""

import logging
from types import SimpleNamespace

import gradio as gr
import pytest

from sentiment.config import get_settings
from sentiment.errors import InvalidInputError
from ui import security


@pytest.fixture
def secured_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SENTIMENT_ADMIN_PASSWORD", "admin-secret-1")
    monkeypatch.setenv("SENTIMENT_VIEWERS", "ann:viewer-pw")
    return get_settings()


def caller(name: str | None) -> SimpleNamespace:
    return SimpleNamespace(username=name, session_hash="s", headers={})


def test_roles_are_checked_on_every_call(secured_settings) -> None:
    @security.guarded("admin", lambda: secured_settings)
    def wipe(what: str) -> str:
        return f"wiped {what}"

    @security.guarded("viewer", lambda: secured_settings)
    def look(what: str, request: gr.Request = None) -> str:
        return f"{request.username} looked at {what}"

    assert wipe("logs", caller("admin")) == "wiped logs"
    assert look("logs", caller("ann")) == "ann looked at logs"
    with pytest.raises(gr.Error, match="Admin only: ann"):
        wipe("logs", caller("ann"))
    with pytest.raises(gr.Error, match="Admin only: an anonymous caller"):
        wipe("logs", None)
    with pytest.raises(gr.Error, match="Sign in first"):
        look("logs", caller("mallory"))
    # Gradio finds the injected request parameter by its annotation, like any handler's.
    assert gr.utils.get_type_hints(wipe)["request"] is gr.Request


def test_an_api_token_stands_for_its_role_in_any_handler(secured_settings) -> None:
    """An MCP tool call reaches the handlers with the agent's bearer token and no
    sign-in: a viewer token is a viewer, an admin token the admin; others are refused."""
    from sentiment.monitoring.store import get_store
    from sentiment.serving import access

    store = get_store(secured_settings)
    viewer = access.create(store, "agent", "viewer")["secret"]
    boss = access.create(store, "ops", "admin")["secret"]

    @security.guarded("admin", lambda: secured_settings)
    def wipe() -> str:
        return "wiped"

    @security.guarded("viewer", lambda: secured_settings)
    def look(request: gr.Request = None) -> str:
        return security.check_role("viewer", request, secured_settings)

    def bearer(secret: str) -> SimpleNamespace:
        return SimpleNamespace(username=None, session_hash="s",
                               headers={"authorization": f"Bearer {secret}"})

    assert look(bearer(viewer)) == "token:agent"
    assert wipe(bearer(boss)) == "wiped"
    with pytest.raises(gr.Error, match="'agent' is a viewer token"):
        wipe(bearer(viewer))
    with pytest.raises(gr.Error, match="Unknown API token"):
        look(bearer("snt_forged"))
    access.revoke(store, "agent")
    with pytest.raises(gr.Error, match="revoked"):
        look(bearer(viewer))


def test_internal_errors_become_an_error_id(secured_settings, caplog) -> None:
    @security.guarded("viewer", lambda: secured_settings)
    def broken() -> None:
        raise RuntimeError("no such column: secret in SELECT * FROM /srv/home/monitoring.db")

    @security.guarded("viewer", lambda: secured_settings)
    def refused() -> None:
        raise InvalidInputError("The file is empty.")

    with caplog.at_level(logging.ERROR, logger="security"), pytest.raises(gr.Error) as info:
        broken(caller("ann"))
    message = str(info.value)
    assert "error id" in message and "SELECT" not in message and "/srv" not in message
    error_id = message.split("error id ")[1].split(")")[0]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and "SELECT * FROM /srv/home" in str(logged[0].exc_info[1])
    with pytest.raises(gr.Error, match="The file is empty"):
        refused(caller("ann"))  # messages meant for people pass as they are


def test_every_app_handler_is_guarded() -> None:
    import app

    names = {}
    for block_fn in app.demo.fns.values():
        if block_fn.fn is None or block_fn.name == "load_example":
            continue  # Gradio's own example loader copies an example into the textbox
        fn = block_fn.fn
        if block_fn.renderable is not None:  # gr.render: Gradio's "apply" runs our function
            fn = block_fn.renderable.fn
        names[fn.__name__] = getattr(fn, "role", None)
    assert None not in names.values(), names
    for admin_only in ("upload_training", "train", "cancel_training", "validate", "promote",
                       "rollback", "export_log", "export_corrections", "monitor_views",
                       "review_queue", "review_view", "label", "label_positive",
                       "label_negative", "review_to_dataset", "triage_list", "handled",
                       "pick_triage", "pick_buzz", "token_create", "token_list",
                       "token_revoke"):
        assert names[admin_only] == "admin", admin_only
    assert names["predict"] == names["feedback"] == names["monitoring"] == "viewer"


def test_forged_monitor_selections_reach_no_file(secured_settings, tmp_path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The Monitor tab's click handlers take a table from the caller: a viewer who forges
    one (paths where ids belong) is refused; the admin's forged ids are refused as ids,
    with a message, and nothing is read or written outside the store."""
    import pandas as pd

    from ui import common, monitor

    for module in (common, monitor):  # the tab's settings, as if it started with a password
        monkeypatch.setattr(module, "SETTINGS", secured_settings)
    target = tmp_path / "secret.txt"
    target.write_text("not for you")
    forged = pd.DataFrame({"id": [str(target)], "prediction_id": ["../../etc/passwd"],
                           "text": ["x"]})
    click = SimpleNamespace(index=[0, 0])
    for handler in (monitor.pick_buzz, monitor.pick_triage):
        with pytest.raises(gr.Error, match="Admin only: ann"):
            handler(forged, click, caller("ann"))
    with pytest.raises(gr.Error, match="alert id is a number"):
        monitor.pick_buzz(forged, click, caller("admin"))
    with pytest.raises(gr.Error, match="prediction_id must be a number"):
        monitor.pick_triage(forged, click, caller("admin"))
    with pytest.raises(gr.Error, match="No bad-buzz alert with id 7"):
        monitor.pick_buzz(pd.DataFrame({"id": [7]}), click, caller("admin"))
    assert target.read_text() == "not for you"


def test_throttle_backs_off_then_locks() -> None:
    throttle = security.Throttle(free=3, base=2.0, lock_s=60.0)
    for now in range(3):
        assert throttle.wait_s("client:a", now=now) == 0.0
        throttle.failed("client:a", now=now)
    assert throttle.wait_s("client:a", now=2.0) == pytest.approx(2.0)
    throttle.failed("client:a", now=4.0)
    assert throttle.wait_s("client:a", now=4.0) == pytest.approx(4.0)  # doubles
    for _ in range(10):
        throttle.failed("client:a", now=10.0)
    assert throttle.wait_s("client:a", now=10.0) == pytest.approx(60.0)  # the lock
    assert throttle.wait_s("client:b", now=10.0) == 0.0  # others are not affected
    throttle.succeeded("client:a")
    assert throttle.wait_s("client:a", now=10.0) == 0.0


def test_a_locked_name_keeps_out_guessers_but_not_the_admin_from_a_clean_address(
        secured_settings, caplog) -> None:
    """Issue 21.9: failures sprayed from throwaway addresses locked the real admin out."""
    throttle = security.Throttle(free=2, base=30.0)
    for i in range(2):  # a spray from several addresses locks the name
        security._client.set(f"10.0.0.{i}")
        assert not security.check_login("admin", "nope", secured_settings, throttle)
    assert throttle.wait_s("user:admin") > 0
    security._client.set("10.0.0.0")  # a sprayer's address: refused, even the right one
    with caplog.at_level(logging.WARNING, logger="security"):
        assert not security.check_login("admin", "admin-secret-1", secured_settings, throttle)
    assert "throttled" in caplog.text
    security._client.set("10.0.0.8")  # a clean address gets one try at the locked name...
    assert not security.check_login("admin", "guess", secured_settings, throttle)
    assert not security.check_login("admin", "admin-secret-1", secured_settings, throttle)
    security._client.set("192.0.2.7")  # ...and the admin, from a clean address, gets in
    assert security.check_login("admin", "admin-secret-1", secured_settings, throttle)
    assert security.check_login("ann", "viewer-pw", secured_settings, throttle)


def test_eviction_never_frees_a_locked_entry_first() -> None:
    """Issue 21.9: 50k sprayed failures evicted the locked admin's entry (wait 899 s -> 0)."""
    throttle = security.Throttle(free=2, base=100.0, lock_s=900.0, max_keys=1000)
    for _ in range(12):
        throttle.failed("user:admin", now=0.0)
    for i in range(5000):
        throttle.failed(f"client:198.51.{i // 250}.{i % 250}", now=1.0)
    assert throttle.wait_s("user:admin", now=2.0) == pytest.approx(898.0)
    assert len(throttle._failures) <= 1001


def test_sign_in_sessions_expire() -> None:
    sessions = security.Sessions(ttl_s=0.2, initial={"t1": "admin"})
    sessions["t2"] = "ann"
    assert sessions.get("t1") == "admin" and "t2" in sessions and len(sessions) == 2
    import time

    time.sleep(0.3)
    assert sessions.get("t1") is None and "t2" not in sessions and len(sessions) == 0


@pytest.mark.parametrize(("origin", "host", "allowed", "expected"), [
    ("https://app.example.com", "app.example.com", (), True),
    ("http://app.example.com:8080", "app.example.com:8080", (), True),
    ("https://app.example.com:443", "app.example.com", (), True),
    ("https://evil.example", "app.example.com", (), False),
    ("https://app.example.com.evil.example", "app.example.com", (), False),
    ("null", "app.example.com", (), False),
    ("http://app.example.com:8081", "app.example.com:8080", (), False),
    ("https://crm.example.org", "app.example.com", ("https://crm.example.org",), True),
])
def test_origins_are_the_apps_own_or_listed(origin, host, allowed, expected) -> None:
    assert security.origin_allowed(origin, host, allowed) is expected


def test_origins_and_proxies_settings_fail_loudly(monkeypatch) -> None:
    from sentiment.config import SettingsError

    for name, value in (("SENTIMENT_ALLOWED_ORIGINS", "*"),
                        ("SENTIMENT_ALLOWED_ORIGINS", "https://a.example/path"),
                        ("SENTIMENT_TRUSTED_PROXIES", "*"),
                        ("SENTIMENT_TRUSTED_PROXIES", "not-an-ip"),
                        ("SENTIMENT_COOKIE_SAMESITE", "sometimes"),
                        ("SENTIMENT_SESSION_SECRET", "short")):
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError):
            get_settings()
        monkeypatch.delenv(name)
    monkeypatch.setenv("SENTIMENT_ALLOWED_ORIGINS", "https://CRM.example.org/, http://x.test:81")
    monkeypatch.setenv("SENTIMENT_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    settings = get_settings()
    assert settings.allowed_origins == ("https://crm.example.org", "http://x.test:81")
    assert settings.trusted_proxies == "127.0.0.1,10.0.0.0/8"


def test_only_files_the_app_made_are_handed_out(tmp_path) -> None:
    from sentiment.infra import results

    made = results.root() / "x" / "made.csv"
    made.parent.mkdir(parents=True, exist_ok=True)
    made.write_text("a")
    assert security.own_files(str(made)) == str(made)
    assert security.own_files([(str(made), "caption")])
    for forged in (str(tmp_path / "mlflow.db"), str(results.root() / ".." / "tmp" / "x"),
                   "/etc/passwd"):
        with pytest.raises(gr.Error):
            security.own_files([(forged, "c")])


def test_disk_full_is_said_as_such() -> None:
    import errno
    import sqlite3

    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        message = str(security.internal_error("train", exc))
    assert "disk is full" in message and "error id" in message
    wrapped = RuntimeError("commit failed")
    wrapped.__cause__ = sqlite3.OperationalError("database or disk is full")
    assert security.disk_full(wrapped)
    assert "disk is full" not in str(security.internal_error("x", RuntimeError("boom")))


def test_uploads_of_dead_processes_are_swept(tmp_path, monkeypatch) -> None:
    import os
    import subprocess
    import sys
    import time

    from sentiment.infra import results

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    uploads = results.private_root() / "uploads"
    for pid, age in ((dead, 0), (str(os.getpid()), 0), (str(os.getpid()), 7200)):
        path = uploads / pid / f"h{age}" / "file.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (time.time() - age, time.time() - age))
    assert security.sweep_uploads(ttl_s=3600) == 2
    assert not (uploads / dead).exists()
    assert (uploads / str(os.getpid()) / "h0" / "file.csv").exists()
    assert not (uploads / str(os.getpid()) / "h7200" / "file.csv").exists()


def test_sessions_in_a_store_are_hashed_shared_and_ignore_a_missing_cookie(tmp_path) -> None:
    from sentiment.monitoring.store import SQLStore

    store = SQLStore(f"sqlite:///{tmp_path / 'm.db'}")
    one = security.Sessions(ttl_s=60, store=store)
    other = security.Sessions(ttl_s=60, store=store)  # another replica, same store
    one["secret-token"] = "ann"
    assert other.get("secret-token") == "ann"
    assert other.get(None) is None and None not in other  # Gradio asks this without a cookie
    raw = (tmp_path / "m.db").read_bytes()
    assert b"secret-token" not in raw  # only its hash is kept
