"""Registry housekeeping: runs left RUNNING by a process killed with -9 are ended at start."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from sentiment import registry
from sentiment.config import get_settings
from tests.conftest import ROOT

# A real ingest-like run: it opens a run, writes an artifact, then hangs until killed.
HANGING_RUN = """
import sys, time
from pathlib import Path
from sentiment import registry
from sentiment.config import get_settings
settings = get_settings()
with registry.run(settings, sys.argv[1], "killed mid-way") as run_id:
    part = Path(sys.argv[2]) / "part.csv"
    part.write_text("text,label\\nhalf,1\\n")
    registry.client(settings).log_artifact(run_id, str(part))
    print(run_id, flush=True)
    time.sleep(600)
"""


def _kill_mid_run(experiment: str, tmp_path: Path) -> str:
    process = subprocess.Popen([sys.executable, "-c", HANGING_RUN, experiment, str(tmp_path)],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        run_id = process.stdout.readline().strip()
        assert run_id, "the run never started"
    finally:
        process.kill()  # SIGKILL: the process cannot end its run
        process.wait(timeout=30)
    return run_id


def test_runs_of_killed_processes_end_killed_with_a_reason(tmp_path: Path) -> None:
    settings = get_settings()
    mlc = registry.client(settings)
    dead = {name: _kill_mid_run(name, tmp_path) for name in ("datasets", "training")}
    for run_id in dead.values():
        assert mlc.get_run(run_id).info.status == "RUNNING"  # left behind by the kill
    folders = {r: Path(unquote(urlparse(mlc.get_run(r).info.artifact_uri).path))
               for r in dead.values()}
    assert all((f / "part.csv").is_file() for f in folders.values())
    with registry.run(settings, "training", "alive") as alive:  # this process is alive
        ended = registry.reconcile_runs(settings)
        assert mlc.get_run(alive).info.status == "RUNNING"
    assert sorted(e["run_id"] for e in ended) == sorted(dead.values())
    for run_id in dead.values():
        run = mlc.get_run(run_id)
        assert run.info.status == "KILLED"
        assert run.data.tags["end_reason"].startswith("interrupted: its process")
        assert not folders[run_id].exists()  # the partial artifacts are gone
    assert mlc.get_run(alive).info.status == "FINISHED"
    assert registry.reconcile_runs(settings) == []  # idempotent


def test_every_start_reconciles(trained: dict[str, str], tmp_path: Path) -> None:
    """The app and `python -m admin bootstrap` run stage 1 at every start; with a
    production model it changes nothing else, but a dead process's run is ended."""
    from sentiment import lifecycle

    run_id = _kill_mid_run("validation", tmp_path)
    messages: list[str] = []
    outcome = lifecycle.bootstrap_baseline(log=messages.append)
    assert outcome["changed"] is False
    assert registry.client(get_settings()).get_run(run_id).info.status == "KILLED"
    assert any(run_id in m for m in messages)


@pytest.mark.slow
def test_a_home_copied_elsewhere_keeps_working(trained: dict[str, str], home: Path,
                                               tmp_path: Path, monkeypatch) -> None:
    """Issue 9.7: the registry kept absolute artifact paths, so a moved home broke."""
    import shutil

    from sentiment import lifecycle
    from sentiment.serving.server import ModelServer

    moved = tmp_path / "restored" / "home"
    shutil.copytree(home, moved)
    shutil.rmtree(home)  # nothing may still point at the old place
    monkeypatch.setenv("SENTIMENT_HOME", str(moved))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # MLflow exports the old one
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    settings = get_settings()
    assert settings.tracking_uri == f"sqlite:///{moved / 'mlflow.db'}"
    answer = ModelServer(settings).predict_one("I love this airline")
    assert answer.label == "positive" and answer.version == trained["version"]
    frame, _ = registry.load_dataset(trained["training"], settings)
    assert len(frame) > 1000
    warm = lifecycle.train("tfidf_logreg", trained["training"], base_version=trained["version"],
                           settings=settings)
    checked = lifecycle.validate(warm["version"], trained["validation"], 0.6, False, settings)
    assert checked["datasets"][0]["metrics"]["accuracy"] > 0.6
    uri = registry.client(settings).get_run(warm["run_id"]).info.artifact_uri
    assert uri.startswith((moved / "mlartifacts").as_uri())
    assert not home.exists()
