"""The admin command line, run as a real subprocess like an operator would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def admin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "admin", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=dict(os.environ))


@pytest.mark.slow
def test_ingest_train_validate_promote_predict(train_csv: Path, val_csv: Path) -> None:
    out = admin("ingest", str(train_csv), "--role", "training")
    assert out.returncode == 0, out.stderr
    assert "1200 kept" in out.stdout and "jdd entrainement" in out.stdout
    train_id = out.stdout.split()[1]
    val = json.loads(admin("--json", "ingest", str(val_csv), "--role", "validation").stdout)
    trained = json.loads(admin("--json", "train", "--model-type", "tfidf_logreg", "--dataset",
                               train_id, "--param", "C=2").stdout)
    assert trained["version"] == "1" and trained["params"]["C"] == 2.0
    refused = admin("promote", "1")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: Version 1 has not passed validation")
    assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1
    checked = admin("validate", "1", "--dataset", val["dataset_id"], "--min-accuracy", "0.6",
                    "--auto-promote")
    assert checked.returncode == 0 and "PASSED" in checked.stdout
    models = admin("models")
    assert "production" in models.stdout
    predicted = admin("predict", "I love this airline", "worst flight ever")
    lines = predicted.stdout.strip().splitlines()
    assert lines[0].startswith("positive") and lines[1].startswith("negative")


def test_bad_file_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    out = admin("ingest", str(bad), "--role", "training")
    assert out.returncode == 1
    assert out.stderr.startswith("error: Could not find a text column")
    assert "Traceback" not in out.stderr
    assert admin("--json", "datasets").stdout.strip() == "[]"


def _start_training(dataset_id: str) -> subprocess.Popen:
    """A BiLSTM training that lasts (at least 11 epochs: early stopping waits 10), so it
    is still running whatever the second terminal's calls cost."""
    return subprocess.Popen([sys.executable, "-m", "admin", "train", "--model-type", "bilstm",
                             "--dataset", dataset_id, "--param", "epochs=50",
                             "--param", "patience=10"],
                            cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _running_job(process: subprocess.Popen, timeout: float = 180) -> dict:
    """The job that ``admin --json jobs --running`` (a second terminal) lists, once it
    trains. Polled in this process (a CLI start costs seconds of CPU), then asked of the
    CLI once."""
    import time

    from sentiment.config import get_settings
    from sentiment.pipeline import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        running = jobs.list_jobs(get_settings(), running_only=True)
        if running and running[0]["fraction"] > 0:
            break
        time.sleep(0.5)
    else:
        raise TimeoutError("no running job appeared")
    listed = json.loads(admin("--json", "jobs", "--running").stdout)
    assert [job["job"] for job in listed] == [running[0]["job"]]
    return listed[0]


@pytest.mark.slow
def test_a_second_terminal_lists_and_stops_a_training_and_ctrl_c_stops_cleanly(
        datasets: dict[str, str]) -> None:
    """Issue 22: jobs are shared by the UI and the CLI; Ctrl-C left a run RUNNING."""
    import signal

    from sentiment import registry
    from sentiment.config import get_settings

    training = _start_training(datasets["training"])
    job = _running_job(training)
    assert job["model_type"] == "bilstm" and job["owner"] == "cli"
    table = admin("jobs")
    assert job["job"] in table.stdout and "running" in table.stdout
    stopped = admin("stop", job["job"])
    assert stopped.returncode == 0 and "Stopping job" in stopped.stdout
    out, err = training.communicate(timeout=180)
    assert training.returncode == 130 and "nothing was registered" in out, (out, err[-2000:])
    assert admin("stop", "nosuchjob").returncode == 1

    training = _start_training(datasets["training"])
    _running_job(training)
    training.send_signal(signal.SIGINT)  # Ctrl-C in the training's own terminal
    out, err = training.communicate(timeout=180)
    assert training.returncode == 130 and "nothing was registered" in out, (out, err[-2000:])
    assert "Traceback" not in err

    settings = get_settings()
    runs = registry.client(settings).search_runs(
        [registry.experiment_id(settings, "training")])
    assert [r.info.status for r in runs] == ["KILLED", "KILLED"]
    assert registry.list_versions(settings) == []
    states = [r["state"] for r in json.loads(admin("--json", "jobs").stdout)]
    assert states == ["stopped", "stopped"]


@pytest.mark.slow
def test_the_cli_prints_the_tables_the_ui_shows(trained: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22: `admin datasets|models` printed raw rows while the tabs showed others."""
    from sentiment.config import get_settings
    from sentiment.serving.service import SentimentService
    from ui import data, models

    settings = get_settings()  # ui read its settings at import, maybe for another home
    monkeypatch.setattr(data, "SETTINGS", settings)
    monkeypatch.setattr(models, "SETTINGS", settings)
    service = SentimentService(settings)
    monkeypatch.setattr(models, "service", lambda: service)
    for command, (frame, _) in (("datasets", data.refresh_datasets()),
                                ("models", models.refresh_models())):
        out = admin(command)
        assert out.returncode == 0, out.stderr
        header, *lines = out.stdout.strip().splitlines()
        assert header.split() == list(frame.columns), command
        assert len(lines) == len(frame)
        for line, row in zip(lines, frame.to_dict("records")):
            assert line.split()[0] == str(row[frame.columns[0]]).split()[0], command
    assert "★ production" in admin("models").stdout  # starred, as in the Models tab


def test_api_tokens_are_made_listed_and_revoked_from_the_terminal() -> None:
    from sentiment.config import get_settings
    from sentiment.monitoring.store import get_store
    from sentiment.serving import access

    made = admin("token", "create", "crm-hook", "--role", "viewer", "--expires", "30")
    assert made.returncode == 0, made.stderr
    secret = next(w for w in made.stdout.split() if w.startswith("snt_"))
    assert "shown once" in made.stdout
    store = get_store(get_settings())
    assert access.authenticate(store, secret).name == "crm-hook"
    listed = admin("token", "list")
    assert "crm-hook" in listed.stdout and "viewer" in listed.stdout and "live" in listed.stdout
    assert secret not in listed.stdout and access.digest(secret) not in listed.stdout
    assert admin("token", "revoke", "crm-hook").returncode == 0
    access._forget()  # this process's 5 s cache: another process revoked it
    with pytest.raises(access.TokenRefused, match="revoked"):
        access.authenticate(store, secret)
    assert access.tokens(store)[0]["state"] == "revoked"
