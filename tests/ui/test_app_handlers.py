"""The tabs' handlers called in-process: the Stop button, a home that cannot be written,
result files that expire."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from sentiment import registry
from sentiment.config import get_settings
from sentiment.infra import results
from tests.conftest import ROOT, TELEMETRY_OFF


@pytest.mark.slow
def test_stop_ends_the_run_killed_and_says_stopped(datasets: dict[str, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9.3: it ended FAILED and the Stop button showed 'Invalid JSON string'."""
    from ui import train as app

    # ui read its settings when first imported, maybe by another test of this worker
    # with another home: this test's registry is the one in the environment now.
    monkeypatch.setattr(app, "SETTINGS", get_settings())

    request = SimpleNamespace(username=None, session_hash="user-1", headers={})
    answer: dict = {}
    worker = threading.Thread(target=lambda: answer.update(app.train(
        "bilstm", datasets["training"], "", '{"epochs": 20}', request)))
    worker.start()
    settings = get_settings()
    mlc = registry.client(settings)
    deadline = time.monotonic() + 120
    while not mlc.search_runs([registry.experiment_id(settings, "training")],
                              filter_string="attributes.status = 'RUNNING'"):
        assert time.monotonic() < deadline and worker.is_alive(), answer
        time.sleep(0.2)
    note = app.cancel_training(request)
    assert note.startswith("Stopping")  # plain text for a Markdown, not a JSON box
    worker.join(timeout=120)
    assert answer["status"] == "stopped" and answer["version"] is None
    assert app.train_view(answer, request)[0].startswith("**Stopped.**")
    runs = mlc.search_runs([registry.experiment_id(settings, "training")])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert registry.list_versions(settings) == []


@pytest.mark.parametrize("where", ["under-a-file", "in-proc"])
def test_a_home_that_cannot_be_written_fails_at_start_in_one_line(tmp_path: Path,
                                                                  where: str) -> None:
    """Issue 9.6: the page started and every prediction failed. (Tests run as root, for
    whom permission bits do not apply, so the home is a path no one can create.)"""
    (tmp_path / "file").write_text("x")
    home = tmp_path / "file" / "home" if where == "under-a-file" else Path("/proc/sentiment")
    env = {**os.environ, **TELEMETRY_OFF, "SENTIMENT_HOME": str(home)}
    out = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: SENTIMENT_HOME={home} cannot be created"), out.stderr
    assert "Traceback" not in out.stderr


def test_check_writable_refuses_a_folder_that_exists_but_cannot_be_written(
        tmp_path: Path) -> None:
    from sentiment.config import SettingsError, check_writable

    check_writable(tmp_path)  # a writable one passes and leaves nothing behind
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SettingsError, match="is not writable"):
        check_writable(Path("/proc/self"))  # exists; read-only even for root


def test_result_files_expire_and_are_bounded_per_user(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """Issue 9.5: 20 batch calls and 10 exports left 73 MB under $TMPDIR."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    monkeypatch.setenv("SENTIMENT_RESULT_QUOTA_MB", "1")
    monkeypatch.setenv("SENTIMENT_RESULT_TTL_SECONDS", "60")
    settings = get_settings()
    ann = [results.new_path(settings, "ann", f"batch-{i}.csv") for i in range(5)]
    for i, path in enumerate(ann):
        path.write_bytes(b"x" * 400_000)
        os.utime(path, (time.time() - 50 + i, time.time() - 50 + i))
    bob = results.new_path(settings, "bob", "export.csv")
    bob.write_bytes(b"y" * 400_000)
    results.new_path(settings, "ann", "one-more.csv")  # ann is over 1 MB: her oldest go
    assert [p.exists() for p in ann] == [False, False, False, True, True]
    assert bob.exists()  # one user's files never push out another's
    old = time.time() - 120
    os.utime(bob, (old, old))
    results.sweep(settings)
    assert not bob.exists() and not bob.parent.exists()  # expired, folder removed too
    assert all(p.is_relative_to(tmp_path / f"sentiment-{os.getuid()}" / "results") for p in ann)
