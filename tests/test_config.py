"""Settings: embedded defaults, and unsafe values refused loudly."""

from pathlib import Path

import pytest

from sentiment.config import SettingsError, get_settings


def test_defaults_live_under_home(home: Path) -> None:
    settings = get_settings()
    assert settings.home == home.resolve()
    assert settings.tracking_uri == f"sqlite:///{home.resolve() / 'mlflow.db'}"
    assert settings.model_name == "tweet-sentiment"
    assert settings.min_accuracy == 0.75 and settings.max_regression == 0.01
    assert not settings.auth_enabled


def test_telemetry_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY")
    get_settings()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.parametrize(("name", "value"), [
    ("SENTIMENT_MIN_ACCURACY", "1.5"), ("SENTIMENT_MIN_ACCURACY", "high"),
    ("SENTIMENT_ADMIN_PASSWORD", "short"), ("SENTIMENT_VIEWERS", "nopassword"),
    ("SENTIMENT_MODEL_NAME", "a/b"), ("SENTIMENT_ALERT_WEBHOOK", "ftp://x"),
])
def test_unsafe_values_fail_loudly(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        get_settings()


def test_viewers_and_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_ADMIN_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("SENTIMENT_VIEWERS", "ann:pw1, bob:pw2")
    settings = get_settings()
    assert settings.auth_enabled and settings.admin_user == "admin"
    assert settings.viewers == {"ann": "pw1", "bob": "pw2"}
