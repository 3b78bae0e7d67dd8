"""The validation gate: balanced accuracy by default, several datasets, figures, settings."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment import lifecycle, registry
from sentiment.config import SettingsError, get_settings
from sentiment.errors import InvalidInputError
from sentiment.metrics import compute_metrics
from sentiment.pipeline.evaluate import dataset_ids

FIGURES = {"confusion_matrix.png", "roc_curve.png", "precision_recall_curve.png"}


def skewed_csv(corpus: pd.DataFrame, path: Path, negatives: int, positives: int,
               seed: int) -> Path:
    """A real-tweet CSV with the given class counts."""
    parts = [corpus[corpus["label"] == 0].sample(n=negatives, random_state=seed),
             corpus[corpus["label"] == 1].sample(n=positives, random_state=seed)]
    pd.concat(parts).sample(frac=1.0, random_state=seed).to_csv(path, index=False)
    return path


def test_compute_metrics_per_class_and_rates() -> None:
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    proba = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.2, 0.3])
    m = compute_metrics(labels, proba)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (4, 2, 2, 2)
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["recall_negative"] == pytest.approx(4 / 6)
    assert m["recall_positive"] == pytest.approx(0.5)
    assert m["balanced_accuracy"] == pytest.approx((4 / 6 + 0.5) / 2)
    assert m["macro_f1"] == pytest.approx((2 * 4 / (8 + 4) + 2 * 2 / (4 + 4)) / 2)
    assert m["predicted_positive_rate"] == pytest.approx(0.4)
    assert m["actual_positive_rate"] == pytest.approx(0.4)


def test_majority_class_model_is_rejected_though_its_accuracy_passes(
        corpus: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Trained unbalanced on 95% negative tweets with heavy regularisation and no lexicon,
    # the model answers "negative" to everything; the validation set is 85% negative.
    train = skewed_csv(corpus, tmp_path / "train.csv", 950, 50, seed=11)
    val = skewed_csv(corpus.sample(frac=1.0, random_state=5).iloc[-8000:],
                     tmp_path / "val.csv", 425, 75, seed=12)
    train_id = lifecycle.ingest(str(train), "training")["dataset_id"]
    val_id = lifecycle.ingest(str(val), "validation")["dataset_id"]
    version = lifecycle.train("tfidf_logreg", train_id, params={
        "class_weight": "none", "lexicon": "none", "C": 0.001})["version"]
    result = lifecycle.validate(version, val_id, min_accuracy=0.75, auto_promote=True)
    metrics = result["metrics"]
    assert metrics["accuracy"] >= 0.8  # plain accuracy would pass the 0.75 bar...
    assert metrics["predicted_positive_rate"] < 0.02 and metrics["recall_positive"] < 0.05
    assert metrics["actual_positive_rate"] == pytest.approx(0.15)
    assert metrics["balanced_accuracy"] < 0.55
    assert not result["passed"] and not result["promoted"]  # ...balanced accuracy does not
    assert result["gate_metric"] == "balanced_accuracy"
    assert "balanced_accuracy" in result["reasons"][0] and "< threshold" in result["reasons"][0]
    tags = registry.get_version(version, get_settings())["tags"]
    assert (tags["validation_status"], tags["status"]) == ("failed", "rejeté")
    assert tags["validation_metric"] == "balanced_accuracy"
    assert registry.production_version(get_settings()) is None

    # The same model under the old plain-accuracy gate would have gone to production.
    monkeypatch.setenv("SENTIMENT_GATE_METRIC", "accuracy")
    assert lifecycle.validate(version, val_id, min_accuracy=0.75)["passed"]


def test_balanced_baseline_beats_the_unbalanced_one_on_the_minority_class(
        corpus: pd.DataFrame, tmp_path: Path) -> None:
    train = skewed_csv(corpus, tmp_path / "train.csv", 1500, 300, seed=21)
    val = skewed_csv(corpus.sample(frac=1.0, random_state=6).iloc[-8000:],
                     tmp_path / "val.csv", 300, 300, seed=22)
    train_id = lifecycle.ingest(str(train), "training")["dataset_id"]
    val_id = lifecycle.ingest(str(val), "validation")["dataset_id"]
    plain = lifecycle.train("tfidf_logreg", train_id, params={"class_weight": "none",
                                                              "lexicon": "none"})
    balanced = lifecycle.train("tfidf_logreg", train_id, params={"lexicon": "none"})
    assert balanced["params"]["class_weight"] == "balanced"  # the default
    got = {name: lifecycle.validate(v["version"], val_id, min_accuracy=0.0)["metrics"]
           for name, v in (("plain", plain), ("balanced", balanced))}
    assert got["balanced"]["recall_positive"] > got["plain"]["recall_positive"] + 0.05
    assert got["balanced"]["balanced_accuracy"] > got["plain"]["balanced_accuracy"]


@pytest.mark.slow
def test_several_validation_datasets_gate_holds_on_each(
        corpus: pd.DataFrame, tmp_path: Path, trained: dict[str, str]) -> None:
    # A second validation set, mostly positive (the first one is balanced).
    hard = skewed_csv(corpus.sample(frac=1.0, random_state=8).iloc[-6000:],
                      tmp_path / "hard.csv", 40, 160, seed=31)
    hard_id = lifecycle.ingest(str(hard), "validation")["dataset_id"]
    candidate = lifecycle.train("tfidf_logreg", trained["training"],
                                params={"C": 0.5})["version"]
    ids = f"{trained['validation']}, {hard_id}"  # the API's comma-separated form
    both = lifecycle.validate(candidate, ids, min_accuracy=0.5)
    assert [c["dataset_id"] for c in both["datasets"]] == [trained["validation"], hard_id]
    assert both["passed"] and all(c["passed"] for c in both["datasets"])
    assert all(c["production_metrics"] is not None for c in both["datasets"])
    client = registry.client(get_settings())
    for check in both["datasets"]:
        run = client.get_run(check["validation_run_id"])
        assert run.data.tags["validation_dataset"] == check["dataset_id"]
        assert "production_balanced_accuracy" in run.data.metrics
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= FIGURES
    tags = registry.get_version(candidate, get_settings())["tags"]
    assert tags["validation_dataset"] == f"{trained['validation']},{hard_id}"
    worst = min(c["metrics"]["balanced_accuracy"] for c in both["datasets"])
    assert float(tags["validation_score"]) == pytest.approx(worst, abs=1e-4)
    images = lifecycle.validation_images(both)
    assert len(images) == 6 and all(Path(p).stat().st_size > 1000 for p, _ in images)


@pytest.mark.slow
def test_gate_fails_on_any_dataset_that_fails(trained: dict[str, str], corpus: pd.DataFrame,
                                              tmp_path: Path) -> None:
    version = lifecycle.train("tfidf_logreg", trained["training"])["version"]
    # A bar between the two datasets' scores: the better set passes, the call fails.
    other = skewed_csv(corpus.sample(frac=1.0, random_state=9).iloc[-6000:],
                       tmp_path / "other.csv", 250, 50, seed=41)
    other_id = lifecycle.ingest(str(other), "validation")["dataset_id"]
    first = lifecycle.validate(version, [trained["validation"], other_id], min_accuracy=0.0)
    scores = [c["metrics"]["balanced_accuracy"] for c in first["datasets"]]
    assert first["passed"] and len(scores) == 2 and scores[0] != scores[1]
    bar = (scores[0] + scores[1]) / 2
    second = lifecycle.validate(version, [trained["validation"], other_id], min_accuracy=bar)
    assert [c["passed"] for c in second["datasets"]] == [s >= bar for s in scores]
    assert not second["passed"] and not second["promoted"]


def test_dataset_ids_and_bad_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert dataset_ids("a, b  c,a") == ["a", "b", "c"]
    assert dataset_ids(["x", " y "]) == ["x", "y"]
    with pytest.raises(InvalidInputError):
        dataset_ids(" , ")
    monkeypatch.setenv("SENTIMENT_GATE_METRIC", "f2")
    with pytest.raises(SettingsError, match="SENTIMENT_GATE_METRIC"):
        get_settings()
    monkeypatch.setenv("SENTIMENT_GATE_METRIC", "macro_f1")
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER", "gpt")
    with pytest.raises(SettingsError, match="SENTIMENT_BOOTSTRAP_CHALLENGER"):
        get_settings()
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER", "none")
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER_PARAMS", "[1]")
    with pytest.raises(SettingsError, match="JSON object"):
        get_settings()
    monkeypatch.setenv("SENTIMENT_BOOTSTRAP_CHALLENGER_PARAMS", '{"epochs": 1}')
    settings = get_settings()
    assert settings.gate_metric == "macro_f1"
    assert settings.bootstrap_challenger_params == {"epochs": 1}


def test_unknown_dataset_in_the_list_records_nothing(trained: dict[str, str]) -> None:
    from sentiment.errors import NotFoundError

    before = registry.get_version(trained["version"], get_settings())["tags"]
    with pytest.raises(NotFoundError):
        lifecycle.validate(trained["version"], [trained["validation"], "nope"])
    assert registry.get_version(trained["version"], get_settings())["tags"] == before
