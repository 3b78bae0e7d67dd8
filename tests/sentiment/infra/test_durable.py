"""A Space's home on a storage bucket: SQLite on local disk, durable copies in the home."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import AppServer


@pytest.fixture
def split(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The databases in a local folder apart from the home (as on a bucket mount)."""
    local = tmp_path / "local-disk"
    monkeypatch.setenv("SENTIMENT_DB_DIR", str(local))
    return local


def test_default_keeps_sqlite_off_a_data_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentiment.config import _default_db_dir

    assert _default_db_dir(Path("/data/sentiment")) == Path(".sentiment-db").resolve()
    assert _default_db_dir(Path("/srv/home")) == Path("/srv/home")


def test_save_and_restore_are_consistent_copies(split: Path, trained: dict[str, str]) -> None:
    from sentiment.config import get_settings
    from sentiment.infra import durable
    from sentiment.serving.service import SentimentService

    settings = get_settings()
    assert settings.tracking_uri == f"sqlite:///{split / 'mlflow.db'}"
    SentimentService().predict("the monitoring store exists once something is served")
    assert sorted(durable.save(settings)) == ["mlflow.db", "monitoring.db"]
    copy = settings.home / durable.BACKUP_DIR / "mlflow.db"
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        versions = db.execute("SELECT COUNT(*) FROM model_versions").fetchone()[0]
    assert versions >= 1
    # A copy is only put back where the local file is missing (a wiped disk).
    assert durable.restore(settings) == []
    target = Path(str(split) + "-restored")
    moved = settings.__class__(**{**settings.__dict__, "db_dir": target,
                                  "tracking_uri": f"sqlite:///{target / 'mlflow.db'}",
                                  "database_url": f"sqlite:///{target / 'monitoring.db'}"})
    target.mkdir()
    assert sorted(durable.restore(moved)) == ["mlflow.db", "monitoring.db"]
    with sqlite3.connect(target / "mlflow.db") as db:
        assert db.execute("SELECT COUNT(*) FROM model_versions").fetchone()[0] == versions


def test_syncer_saves_only_what_changed(split: Path, trained: dict[str, str]) -> None:
    from sentiment.config import get_settings
    from sentiment.infra import durable
    from sentiment.serving.service import SentimentService

    settings = get_settings()
    syncer = durable.Syncer(settings)
    assert sorted(syncer.sync_once()) == []  # nothing changed since it started
    SentimentService().predict("a new prediction to keep")
    assert syncer.sync_once() == ["monitoring.db"]
    assert syncer.sync_once() == []


@pytest.mark.slow
def test_wiped_local_disk_restart_loses_nothing(tmp_path: Path) -> None:
    """Kill the app (no goodbye), wipe its local disk, keep the home: all is still there."""
    from gradio_client import Client, handle_file

    home, local = tmp_path / "data" / "sentiment", tmp_path / "container-disk"
    home.parent.mkdir(parents=True)
    env = {"SENTIMENT_DB_DIR": str(local), "SENTIMENT_DURABLE_SYNC_SECONDS": "0.5"}
    first = AppServer(home, env)
    try:
        first.wait_ready()
        client = Client(first.url, verbose=False)
        csv = tmp_path / "kept.csv"
        csv.write_text("text,label\nlove it,positive\nhate it,negative\n")
        uploaded = client.predict(file=handle_file(str(csv)), name="kept dataset",
                                  api_name="/upload_validation")
        served = client.predict(text="not sure about this one", api_name="/predict")[1]
        client.predict(prediction_id=served["prediction_id"], label="negative",
                       api_name="/label")
        models = client.predict(api_name="/models")["data"]
        time.sleep(3)  # the syncer copies within 0.5 s (2 s for the registry)
    finally:
        first.process.kill()
        first.process.wait()
        first.log.close()
    shutil.rmtree(local)

    second = AppServer(home, env)
    try:
        second.wait_ready()
        assert "restored" in second.log_path.read_text()
        client = Client(second.url, verbose=False)
        assert client.predict(api_name="/models")["data"] == models  # no new bootstrap
        names = {row[0]: row for row in client.predict(api_name="/datasets")["data"]}
        assert uploaded["dataset_id"] in names
        summary = client.predict(api_name="/monitoring")
        assert summary["predictions"] >= 1
        queue = client.predict(api_name="/review_queue")
        ids = [row[queue["headers"].index("prediction_id")] for row in queue["data"]]
        assert served["prediction_id"] not in ids  # its label survived too
        label, details = client.predict(text="great crew", api_name="/predict")
        assert details["version"] == "1"
    finally:
        second.stop()
