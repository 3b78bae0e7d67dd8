"""Several replicas, one registry: real PostgreSQL, a real ``mlflow server`` on it, and two
``python app.py`` replicas sharing both (started with ``deploy/native.sh``, as README says).

The tests run in file order on one cluster: concurrent first starts, then concurrent
promotions from both replicas, shared monitoring with one alert e-mail, and a registry
outage while serving.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client

from tests.conftest import ROOT, TELEMETRY_OFF, AppServer, Inbox, free_port, write_sample

pytestmark = pytest.mark.slow
NATIVE = ROOT / "deploy" / "native.sh"
if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
    pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)",
                allow_module_level=True)


class Cluster:
    """PostgreSQL + MLflow server from deploy/native.sh, in a folder of their own."""

    def __init__(self, folder: Path) -> None:
        self.pg_port, self.mlflow_port = free_port(), free_port()
        self.pgdata = Path(f"/tmp/sentiment-test-pg-{self.pg_port}")
        self.env = {**os.environ, "DEPLOY_DIR": str(folder), "PG_PORT": str(self.pg_port),
                    "MLFLOW_PORT": str(self.mlflow_port), "PGDATA": str(self.pgdata),
                    "PYTHON": sys.executable}
        self.replicas: list[AppServer] = []

    def native(self, *args: str) -> str:
        done = subprocess.run([str(NATIVE), *args], env=self.env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    @property
    def urls(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.native("env").split())

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()
        subprocess.run([str(NATIVE), "down"], env=self.env, timeout=120, check=False)
        shutil.rmtree(self.pgdata, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    cluster = Cluster(tmp_path_factory.mktemp("deploy"))
    try:
        cluster.native("postgres")
        cluster.native("mlflow")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def mailbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


def _shared_env(cluster: Cluster, home: Path) -> dict[str, str]:
    return {**os.environ, **TELEMETRY_OFF, **cluster.urls, "SENTIMENT_HOME": str(home)}


def _settings(cluster: Cluster, monkeypatch: pytest.MonkeyPatch):
    from sentiment.config import get_settings

    for key, value in cluster.urls.items():
        monkeypatch.setenv(key, value)
    return get_settings()


def test_concurrent_first_starts_make_one_version(cluster, tmp_path, monkeypatch) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "admin", "--json", "bootstrap"], cwd=ROOT,
                              env=_shared_env(cluster, tmp_path / f"home{i}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    changed = sorted(json.loads(o[0])["changed"] for o in outputs)
    assert changed == [False, True]  # one trained the baseline, the other found it

    from sentiment import registry

    settings = _settings(cluster, monkeypatch)
    versions = registry.list_versions(settings, with_metrics=False)
    assert [v["version"] for v in versions] == ["1"]
    assert versions[0]["tags"]["status"] == "production"
    assert registry.production_version(settings) == "1"
    assert registry.production_history(settings) == ["1"]
    assert len(registry.list_datasets(settings)) == 2  # one training, one validation split


@pytest.fixture(scope="module")
def replicas(cluster, mailbox, tmp_path_factory):
    folder = tmp_path_factory.mktemp("replicas")
    env = {**cluster.urls, "SENTIMENT_SMTP_HOST": "127.0.0.1",
           "SENTIMENT_SMTP_PORT": str(mailbox.port), "SENTIMENT_ALERT_TO": "ops@example.com"}
    cluster.replicas = [AppServer(folder / f"replica{i}", env) for i in (1, 2)]
    for replica in cluster.replicas:
        replica.wait_ready()
    return [Client(r.url, verbose=False) for r in cluster.replicas]


def _state(settings) -> tuple[str | None, list[str], list[str]]:
    from sentiment import registry

    production = [v["version"] for v in registry.list_versions(settings, with_metrics=False)
                  if v["tags"].get("status") == "production"]
    return (registry.production_version(settings), production,
            registry.production_history(settings))


def test_concurrent_promotions_keep_one_production_version(cluster, replicas, corpus,
                                                          tmp_path, monkeypatch) -> None:
    from sentiment import lifecycle

    settings = _settings(cluster, monkeypatch)
    dataset = lifecycle.ingest(str(write_sample(corpus, tmp_path / "t.csv", 600, seed=3)),
                               "training", settings)["dataset_id"]
    for c in (1, 2):  # versions 2 and 3 (not validated: the promotions below force them)
        lifecycle.train("tfidf_logreg", dataset, params={"C": c}, settings=settings)
    pairs = [("2", "3"), ("3", "2"), ("1", "2"), ("2", "1"), ("3", "1"), ("1", "3"),
             ("2", "3"), ("3", "1"), ("1", "2"), ("2", "3")]
    for left, right in pairs:
        before = _state(settings)[0]
        with ThreadPoolExecutor(2) as pool:  # both replicas at the same moment
            answers = list(pool.map(lambda i, v: replicas[i].predict(
                version=v, force=True, api_name="/promote"), (0, 1), (left, right)))
        assert all(a["production_version"] in (left, right) for a in answers)
        alias, production, history = _state(settings)
        assert alias in (left, right)
        assert production == [alias], (left, right, production)
        assert history[-1] == alias and len(history) == len(set(history))
        # Only versions that were in production, in the order they were: the other
        # promotion ran first (or found its version already there).
        other = right if alias == left else left
        assert other == before or history[-2] == other, (before, left, right, history)
    served = _state(settings)[2]
    rolled = replicas[1].predict(api_name="/rollback")
    assert rolled["production_version"] == served[-2]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        versions = {c.predict(text="great flight", api_name="/predict")[1]["version"]
                    for c in replicas}
        if versions == {served[-2]}:
            break
        time.sleep(0.3)
    assert versions == {served[-2]}, "both replicas serve the rolled-back version"


def test_monitoring_is_shared_and_alerts_once(replicas, mailbox) -> None:
    texts = ["the crew was lovely", "what a great seat", "best flight of my life"]
    labels = [replicas[0].predict(text=t, api_name="/predict")[0]["label"] for t in texts]
    with ThreadPoolExecutor(3) as pool:  # reported on both replicas at once
        acks = list(pool.map(lambda i: replicas[i % 2].predict(
            text=texts[i], predicted_label=labels[i], is_correct=False,
            api_name="/feedback"), range(3)))
    assert not any("unverified" in ack for ack in acks), acks  # found across replicas
    assert sum("Alert #" in ack for ack in acks) == 1
    mailbox.wait_for(1)
    time.sleep(2)
    assert len(mailbox.messages) == 1
    views = [c.predict(api_name="/monitoring") for c in replicas]
    for view in views:
        assert view["alerts"] == 1 and view["wrong"] == 3
    assert views[0]["predictions"] == views[1]["predictions"] >= 3


def test_a_registry_outage_never_slows_prediction(cluster, replicas) -> None:
    cluster.native("stop", "mlflow")
    for client in replicas:  # predictions keep coming while the watcher notices the outage
        deadline, details = time.monotonic() + 30, {}
        while "registry" not in details and time.monotonic() < deadline:
            started = time.perf_counter()
            label, details = client.predict(text="I love this airline", api_name="/predict")
            assert time.perf_counter() - started < 1.0
            assert label["label"] == "positive"
            time.sleep(0.2)
        assert "unreachable" in details.get("registry", ""), details
        with pytest.raises(Exception, match="unreachable"):
            client.predict(api_name="/models")
    cluster.native("mlflow")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        details = [c.predict(text="fine", api_name="/predict")[1] for c in replicas]
        if not any("registry" in d for d in details):
            break
        time.sleep(0.5)
    assert not any("registry" in d for d in details), details
    assert all(len(c.predict(api_name="/models")["data"]) == 3 for c in replicas)
    # Recovered for real: an alias moved on one replica is followed by the other.
    current = replicas[1].predict(text="fine", api_name="/predict")[1]["version"]
    target = next(v for v in ("1", "2", "3") if v != current)
    replicas[0].predict(version=target, force=True, api_name="/promote")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if replicas[1].predict(text="fine", api_name="/predict")[1]["version"] == target:
            break
        time.sleep(0.3)
    assert replicas[1].predict(text="fine", api_name="/predict")[1]["version"] == target
