"""First start: the default corpus becomes a production model (stage 1), then a challenger
is trained and promoted only when it wins (stage 2), restart-safe."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.pipeline.bootstrap import bootstrap
from sentiment.serving.server import ModelServer
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
# A tiny challenger: a few hundred rows, one epoch, the top block only.
TINY = {"max_rows": 400, "epochs": 1, "trainable_layers": 1, "head_epochs": 10,
        "learning_rate": 1e-4}
# A weak baseline: unbalanced, no lexicon, heavy regularisation (it leans to "negative").
WEAK_BASELINE = {"C": 0.003, "lexicon": "none", "class_weight": "none", "word_ngram_max": 1,
                 "char_ngram_max": 2, "min_df": 100}


def quiet(message: str) -> None:
    """Bootstrap log sink."""


def test_stage_one_then_idempotent() -> None:
    first = lifecycle.bootstrap(log=quiet)  # the challenger is off in tests (conftest)
    assert first["changed"] and first["production_version"] == "1"
    assert first["balanced_accuracy"] >= 0.8
    datasets = lifecycle.datasets_table()
    assert sorted(d["dataset_type"] for d in datasets) == ["jdd entrainement", "jdd validation"]
    train = next(d for d in datasets if d["dataset_type"] == "jdd entrainement")
    val = next(d for d in datasets if d["dataset_type"] == "jdd validation")
    assert train["rows_kept"] + val["rows_kept"] == 22812
    assert abs(val["rows_kept"] / 22812 - 0.2) < 0.001
    tags = registry.get_version("1", get_settings())["tags"]
    assert tags["bootstrap_stage"] == "baseline" and tags["validation_metric"] == \
        "balanced_accuracy"
    server = ModelServer()
    labels = [p.label for p in server.predict(["I love this airline", "worst flight ever"])]
    assert labels == ["positive", "negative"]
    assert "SENTIMENT_BOOTSTRAP_CHALLENGER=none" in first["challenger"]["message"]

    again = lifecycle.bootstrap(log=quiet)
    assert not again["changed"] and again["production_version"] == "1"
    assert len(lifecycle.datasets_table()) == 2
    assert len(registry.list_versions(get_settings())) == 1


def test_challenger_that_wins_goes_to_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER", "minilm")
    monkeypatch.setenv("SENTIMENT_MIN_ACCURACY", "0.52")
    result = bootstrap(get_settings(), quiet, baseline_params=WEAK_BASELINE,
                       challenger_params=TINY)
    outcome = result["challenger"]
    assert outcome["challenger_version"] == "2" and outcome["promoted"], outcome
    assert result["production_version"] == "2"
    settings = get_settings()
    tags = registry.get_version("2", settings)["tags"]
    assert tags["bootstrap_stage"] == "challenger" and tags["model_type"] == "minilm"
    assert tags["status"] == "production"
    assert registry.get_version("1", settings)["tags"]["status"] == "archivé"
    state = lifecycle.challenger_status(settings)
    assert state["status"] == "done" and state["promoted"] and state["version"] == "2"
    rows = lifecycle.models_table(settings)
    assert [r["version"] for r in rows] == ["2", "1"] and rows[0]["production"]
    # Done once: a second bootstrap trains nothing.
    again = bootstrap(settings, quiet)
    assert not again["challenger"]["changed"] and len(registry.list_versions(settings)) == 2


def test_challenger_that_loses_leaves_the_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever its type: a weak TF-IDF challenger (the MiniLM path is the test above)."""
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER", "tfidf_logreg")
    result = bootstrap(get_settings(), quiet, challenger_params=WEAK_BASELINE)
    outcome = result["challenger"]
    assert outcome["challenger_version"] == "2" and not outcome["promoted"], outcome
    assert result["production_version"] == "1"
    settings = get_settings()
    tags = registry.get_version("2", settings)["tags"]
    assert (tags["validation_status"], tags["status"]) == ("failed", "rejeté")
    assert tags["bootstrap_stage"] == "challenger" and tags["model_type"] == "tfidf_logreg"
    assert registry.get_version("1", settings)["tags"]["status"] == "production"
    assert "kept out of production" in lifecycle.challenger_status(settings)["message"]


def test_killed_during_stage_two_restarts_cleanly(home, monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 in the middle of the challenger's training, then start again. A BiLSTM
    challenger (restart safety does not depend on the type; MiniLM's stage 2 is tested
    above): far more epochs than it reaches before the kill."""
    slow = {"epochs": 50, "patience": 10, "vocab_size": 5000}
    env = {**os.environ, "SENTIMENT_HOME": str(home), "SENTIMENT_BOOTSTRAP_CHALLENGER": "bilstm",
           "SENTIMENT_BOOTSTRAP_CHALLENGER_PARAMS": json.dumps(slow)}
    process = subprocess.Popen([sys.executable, "-m", "admin", "bootstrap"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = home / "challenger.json"
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline:
            state = json.loads(state_file.read_text()) if state_file.is_file() else {}
            if state.get("status") == "training" and "epoch" in state.get("message", ""):
                break
            assert process.poll() is None, "the bootstrap ended before it could be killed"
            time.sleep(0.5)
        else:
            pytest.fail("the challenger never reached its epochs")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    settings = get_settings()
    assert lifecycle.challenger_status(settings)["status"] == "interrupted"
    rows = lifecycle.models_table(settings)
    assert rows[0]["status"] == "challenger: interrupted"
    assert [r["version"] for r in rows[1:]] == ["1"]  # nothing half-registered
    client = registry.client(settings)
    running = client.search_runs([registry.experiment_id(settings, "training")],
                                 filter_string="attributes.status = 'RUNNING'")
    assert len(running) == 1  # the killed process could not end its run

    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER", "bilstm")
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER_PARAMS",
                       json.dumps({"epochs": 1, "vocab_size": 5000}))
    settings = get_settings()
    outcome = lifecycle.bootstrap_challenger(settings, log=quiet)
    assert outcome["challenger_version"] == "2", outcome
    killed = client.get_run(running[0].info.run_id)
    assert killed.info.status == "KILLED" and "interrupted" in killed.data.tags["end_reason"]
    left = client.search_runs([registry.experiment_id(settings, "training")],
                              filter_string="attributes.status = 'RUNNING'")
    assert left == []
    assert lifecycle.challenger_status(settings)["status"] == "done"
    assert [v["version"] for v in registry.list_versions(settings)] == ["2", "1"]
