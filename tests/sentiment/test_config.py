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
    ("SENTIMENT_SERVING_BACKEND", "tensorrt"),
    ("SENTIMENT_BUZZ_BASELINE_SECONDS", "1000"), ("SENTIMENT_BUZZ_CHECK_SECONDS", "300"),
    ("SENTIMENT_BUZZ_ALPHA", "0.5"), ("SENTIMENT_BUZZ_MIN_TEXTS", "-1"),
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


def test_database_url_defaults_to_the_home_and_accepts_postgres(home: Path,
                                                               monkeypatch) -> None:
    assert get_settings().database_url == f"sqlite:///{home.resolve() / 'monitoring.db'}"
    monkeypatch.setenv("SENTIMENT_DATABASE_URL", "postgresql://u:p@db:5432/sentiment")
    assert get_settings().database_url == "postgresql+psycopg://u:p@db:5432/sentiment"
    for bad in ("mysql://u:p@db/x", "sqlite:///", "postgresql://", "monitoring.db"):
        monkeypatch.setenv("SENTIMENT_DATABASE_URL", bad)
        with pytest.raises(SettingsError, match="SENTIMENT_DATABASE_URL"):
            get_settings()


def test_file_locks_exclude_other_holders_and_free_on_exit(home: Path) -> None:
    import threading

    from sentiment.infra import locks

    settings = get_settings()
    assert not locks.is_held(settings, "promotion")
    with locks.hold(settings, "promotion"):
        seen: list[bool] = []
        other = threading.Thread(target=lambda: seen.append(locks.is_held(settings,
                                                                          "promotion")))
        other.start()
        other.join()
        assert seen == [True]  # another holder (thread or process) is kept out
        with pytest.raises(locks.LockBusy, match="Another promotion"), \
                locks.hold(settings, "promotion", wait_s=0.2):
            pass
    assert not locks.is_held(settings, "promotion")
