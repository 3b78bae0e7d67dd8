"""security.py: one decorator checks every handler's caller; errors carry ids; throttle."""

import logging
from types import SimpleNamespace

import gradio as gr
import pytest

import security
from sentiment.config import get_settings
from sentiment.errors import InvalidInputError


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
                       "label_negative", "review_to_dataset"):
        assert names[admin_only] == "admin", admin_only
    assert names["predict"] == names["feedback"] == names["monitoring"] == "viewer"


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


def test_a_user_name_is_locked_whatever_the_client(secured_settings, caplog) -> None:
    throttle = security.Throttle(free=2, base=30.0)
    for i in range(2):  # a spray from several addresses
        security._client.set(f"10.0.0.{i}")
        assert not security.check_login("admin", "nope", secured_settings, throttle)
    security._client.set("10.0.0.9")
    with caplog.at_level(logging.WARNING, logger="security"):
        assert not security.check_login("admin", "admin-secret-1", secured_settings, throttle)
    assert "throttled" in caplog.text
    assert security.check_login("ann", "viewer-pw", secured_settings, throttle)
