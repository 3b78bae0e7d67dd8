"""Issue 21.7, 21.8, 21.12: the registry after a kill, a full disk or a move made outside
the app, and the prediction log's retention."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.errors import NoProductionError
from tests.conftest import ROOT


def statuses(settings) -> dict[str, str]:
    return {r["version"]: r["tags"].get("status", "")
            for r in registry.list_versions(settings, with_metrics=False)}


def second_version(trained: dict[str, str]) -> str:
    version = lifecycle.train("tfidf_logreg", trained["training"], None, {"C": 0.5})["version"]
    lifecycle.validate(version, trained["validation"], min_accuracy=0.5)
    return version


def one_production(settings) -> str:
    """The invariant: exactly one version reads production, the alias target, and the
    history ends with it."""
    target = registry.production_version(settings)
    tagged = [v for v, s in statuses(settings).items() if s == "production"]
    assert tagged == [target], (tagged, target)
    assert registry.production_history(settings)[-1] == target
    return target


@pytest.mark.slow
def test_a_switch_cut_after_the_alias_moved_is_repaired(trained: dict[str, str]) -> None:
    """The moment a kill hurts most: the alias moved, tags and history not yet."""
    settings = get_settings()
    version = second_version(trained)
    registry.set_production_alias(version, settings)  # _switch's first step, then the kill
    assert statuses(settings)[trained["version"]] == "production"
    state = lifecycle.reconcile(settings)
    assert state["production_version"] == version and state["moved_outside"]
    assert one_production(settings) == version
    assert statuses(settings)[trained["version"]] == "archivé"
    assert lifecycle.reconcile(settings)["retagged"] == []  # idempotent


@pytest.mark.slow
def test_random_kills_during_promotions_leave_one_production(trained: dict[str, str]) -> None:
    """21.8: in 24 of 30 random kill -9 during a promotion, two versions stayed tagged
    production; the next CLI command now finds exactly one, the alias target."""
    settings = get_settings()
    versions = [trained["version"], second_version(trained)]
    rng = random.Random(21)
    env = dict(os.environ)
    for attempt in range(4):
        target = versions[(attempt + 1) % 2]
        process = subprocess.Popen([sys.executable, "-m", "admin", "promote", target],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 5.0))  # imports take ~2 s, the switch itself < 1 s
        process.send_signal(signal.SIGKILL)
        process.wait()
        listed = subprocess.run([sys.executable, "-m", "admin", "--json", "models"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr
        one_production(settings)


@pytest.mark.slow
def test_an_alias_moved_outside_the_app_is_followed_and_said(trained: dict[str, str]) -> None:
    """21.12: moving production in the MLflow UI served an unvalidated version while the
    old one still read production and the history was unchanged."""
    settings = get_settings()
    version = lifecycle.train("tfidf_logreg", trained["training"], None, {"C": 0.5})["version"]
    registry.client(settings).set_registered_model_alias(settings.model_name, "production",
                                                         version)  # what the MLflow UI does
    state = lifecycle.reconcile(settings)
    assert state["moved_outside"] and one_production(settings) == version
    row = next(r for r in lifecycle.models_table(settings) if r["version"] == version)
    assert row["moved_outside_app"]
    lifecycle.promote(trained["version"], settings=settings)  # the app's own move clears it
    row = next(r for r in lifecycle.models_table(settings) if r["version"] == trained["version"])
    assert row["moved_outside_app"] == "" and one_production(settings) == trained["version"]


def test_a_deleted_alias_is_reported_not_rebootstrapped(trained: dict[str, str]) -> None:
    """21.12: deleting the alias made the next start train a new baseline without a word."""
    settings = get_settings()
    registry.client(settings).delete_registered_model_alias(settings.model_name, "production")
    before = len(registry.list_versions(settings, with_metrics=False))
    with pytest.raises(NoProductionError, match="no 'production' alias"):
        lifecycle.bootstrap_baseline(settings, log=lambda m: None)
    assert len(registry.list_versions(settings, with_metrics=False)) == before


def test_the_prediction_log_is_pruned_by_age_and_size() -> None:
    """21.6: the monitoring store was never pruned."""
    from sentiment.monitoring.store import get_store

    store = get_store(get_settings())
    ids = store.log_predictions([(f"text {i}", "positive", 0.9, "1", 1.0, "ui")
                                 for i in range(50)])
    store.label_prediction(ids[0], "negative", "admin")
    old = time.time() - 40 * 86_400
    with store.engine.begin() as conn:  # ten of them logged 40 days ago
        conn.execute(text("UPDATE predictions SET ts = :old WHERE id <= :last"),
                     {"old": old, "last": ids[9]})
    assert store.prune(max_age_days=30, max_rows=0) == 10
    assert store.prune(max_age_days=30, max_rows=25) == 15
    left = store.query("SELECT id FROM predictions ORDER BY id")["id"].tolist()
    assert left == ids[25:]
    assert store.query("SELECT COUNT(*) AS n FROM review_labels")["n"].iloc[0] == 0
    assert store.prune(max_age_days=0, max_rows=0) == 0


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_training_that_fills_the_disk_leaves_it_free(trained: dict[str, str],
                                                       tmp_path: Path) -> None:
    """21.7: a training that filled the disk left its run RUNNING and the disk at 100%, so
    the next emergency rollback failed with 'database or disk is full'."""
    settings = get_settings()
    version = second_version(trained)
    lifecycle.promote(version, settings=settings)
    artifacts = Path(settings.artifact_root.removeprefix("file://"))
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        moved = mount / "mlartifacts"
        subprocess.run(["cp", "-a", str(artifacts), str(moved)], check=True)
        subprocess.run(["rm", "-rf", str(artifacts)], check=True)
        artifacts.symlink_to(moved)  # artifacts on a small disk; the databases stay
        filler = mount / "filler"
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 2 * 1024 * 1024))  # 2 MB left
        with pytest.raises(Exception) as info:  # noqa: PT011 - whatever the layer says
            lifecycle.train("bilstm", trained["training"], None, {"epochs": 1})
        assert "No space" in repr(info.value) or getattr(info.value, "errno", None) == \
            errno.ENOSPC or "disk" in str(info.value).lower()
        mlc = registry.client(settings)
        running = mlc.search_runs([registry.experiment_id(settings, "training")],
                                  filter_string="attributes.status = 'RUNNING'")
        assert running == []
        assert os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize >= 2 * 1024 * 1024 - \
            256 * 1024  # the partial model is gone
        rolled = lifecycle.rollback(settings)
        assert rolled["production_version"] == trained["version"]
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
