"""Train, validate (pass, fail, non-regression), promote, force, rollback on a real registry."""

import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.errors import InvalidInputError, NotFoundError, RefusedError


def production_rows() -> list[dict]:
    return [r for r in lifecycle.models_table() if r["status"] == "production"]


def assert_one_production(version: str) -> None:
    """The invariant: the alias and exactly one 'production' status, on the same version."""
    assert registry.production_version(get_settings()) == version
    rows = production_rows()
    assert [r["version"] for r in rows] == [version]
    assert [r["version"] for r in lifecycle.models_table() if r["production"]] == [version]


def test_train_registers_a_version_to_validate(datasets: dict[str, str]) -> None:
    result = lifecycle.train("tfidf_logreg", datasets["training"], params={"C": "2"})
    assert result["version"] == "1" and result["status"] == "à valider"
    assert result["metrics"]["accuracy"] > 0.7
    info = registry.get_version("1", get_settings())
    assert info["tags"]["status"] == "à valider"
    assert info["tags"]["model_type"] == "tfidf_logreg"
    assert info["tags"]["training_dataset"] == datasets["training"]
    run = registry.client(get_settings()).get_run(info["run_id"])
    assert run.data.params["C"] == "2.0"
    for key in ("val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc",
                "training_time_s"):
        assert key in run.data.metrics
    artifacts = [a.path for a in registry.client(get_settings()).list_artifacts(info["run_id"])]
    assert "confusion_matrix.png" in artifacts


def test_bad_training_requests_register_nothing(datasets: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError, match="Unknown model type"):
        lifecycle.train("nope", datasets["training"])
    with pytest.raises(InvalidInputError, match="jdd entrainement"):
        lifecycle.train("tfidf_logreg", datasets["validation"])
    with pytest.raises(NotFoundError):
        lifecycle.train("tfidf_logreg", "not-a-dataset")
    with pytest.raises(InvalidInputError, match="outside"):
        lifecycle.train("tfidf_logreg", datasets["training"], params={"C": "-1"})
    with pytest.raises(InvalidInputError, match="Unknown hyperparameters"):
        lifecycle.train("tfidf_logreg", datasets["training"], params={"epochs": "3"})
    for value in (float("nan"), "NaN", float("inf"), "-inf"):  # issue 9.10
        with pytest.raises(InvalidInputError, match="finite"):
            lifecycle.train("tfidf_logreg", datasets["training"], params={"C": value})
        with pytest.raises(InvalidInputError, match="not a valid value"):
            lifecycle.train("tfidf_logreg", datasets["training"], params={"min_df": value})
    with pytest.raises(NotFoundError):
        lifecycle.train("tfidf_logreg", datasets["training"], base_version="9")
    assert lifecycle.models_table() == []


@pytest.mark.slow
def test_validation_pass_then_auto_promote(datasets: dict[str, str]) -> None:
    version = lifecycle.train("tfidf_logreg", datasets["training"])["version"]
    result = lifecycle.validate(version, datasets["validation"], min_accuracy=0.6,
                                auto_promote=True)
    assert result["passed"] and result["promoted"]
    tags = registry.get_version(version, get_settings())["tags"]
    assert tags["validation_status"] == "passed"
    assert tags["validation_dataset"] == datasets["validation"]
    assert float(tags["validation_accuracy"]) == pytest.approx(result["metrics"]["accuracy"],
                                                               abs=1e-4)
    assert_one_production(version)


def test_validation_fail_below_threshold(datasets: dict[str, str]) -> None:
    version = lifecycle.train("tfidf_logreg", datasets["training"])["version"]
    result = lifecycle.validate(version, datasets["validation"], min_accuracy=0.99,
                                auto_promote=True)
    assert not result["passed"] and not result["promoted"]
    assert "< threshold" in result["reasons"][0]
    tags = registry.get_version(version, get_settings())["tags"]
    assert (tags["validation_status"], tags["status"]) == ("failed", "rejeté")
    assert registry.production_version(get_settings()) is None


@pytest.mark.slow
def test_non_regression_against_production(trained: dict[str, str]) -> None:
    # A much weaker model (tiny C) passes a low threshold but regresses against production.
    weak = lifecycle.train("tfidf_logreg", trained["training"],
                           params={"C": "0.001", "min_df": "5"})["version"]
    result = lifecycle.validate(weak, trained["validation"], min_accuracy=0.1)
    assert result["production_version"] == trained["version"]
    prod_acc = result["production_metrics"]["accuracy"]
    assert result["metrics"]["accuracy"] < prod_acc - 0.01
    assert not result["passed"]
    assert "production" in result["reasons"][1]


@pytest.mark.slow
def test_promotion_refused_unless_validated_then_forced(trained: dict[str, str]) -> None:
    version = lifecycle.train("tfidf_logreg", trained["training"])["version"]
    with pytest.raises(RefusedError, match="not passed validation"):
        lifecycle.promote(version)
    assert_one_production(trained["version"])
    result = lifecycle.promote(version, force=True, actor="alice")
    assert result["forced"] and result["production_version"] == version
    tags = registry.get_version(version, get_settings())["tags"]
    assert tags["forced_promotion"] == "true" and tags["forced_by"] == "alice"
    assert registry.get_version(trained["version"], get_settings())["tags"]["status"] == "archivé"
    assert_one_production(version)


@pytest.mark.slow
def test_rollback_walks_back_the_production_history(trained: dict[str, str]) -> None:
    v1 = trained["version"]
    v2 = lifecycle.train("tfidf_logreg", trained["training"], params={"C": "3"})["version"]
    lifecycle.validate(v2, trained["validation"], min_accuracy=0.6, auto_promote=True)
    v3 = lifecycle.train("tfidf_logreg", trained["training"], params={"C": "0.5"})["version"]
    lifecycle.promote(v3, force=True)
    assert_one_production(v3)
    assert lifecycle.rollback()["production_version"] == v2
    assert_one_production(v2)
    assert lifecycle.rollback()["production_version"] == v1
    assert_one_production(v1)
    with pytest.raises(RefusedError, match="nothing to roll back"):
        lifecycle.rollback()
    assert_one_production(v1)


def test_rollback_without_production_refused() -> None:
    with pytest.raises(RefusedError, match="no production"):
        lifecycle.rollback()


def test_validate_needs_a_validation_dataset(trained: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError, match="jdd validation"):
        lifecycle.validate(trained["version"], trained["training"])
    with pytest.raises(NotFoundError):
        lifecycle.validate("42", trained["validation"])


def test_warm_start_records_lineage(trained: dict[str, str]) -> None:
    result = lifecycle.train("tfidf_logreg", trained["training"], base_version=trained["version"])
    info = registry.get_version(result["version"], get_settings())
    assert info["tags"]["base_version"] == trained["version"]
    run = registry.client(get_settings()).get_run(info["run_id"])
    parent = registry.get_version(trained["version"], get_settings())["run_id"]
    assert run.data.tags["mlflow.parentRunId"] == parent
