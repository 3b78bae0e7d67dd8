"""Metrics and validation: a version is checked on a validation dataset against the bar.

A version passes when its accuracy reaches ``min_accuracy`` and is not more than
``max_regression`` below the production version on the same validation data. Each check
is one run in experiment ``validation``; the verdict is written as version tags.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def compute_metrics(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1, ROC AUC and the confusion counts."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    labels = np.asarray(labels).astype(int)
    predicted = (np.asarray(proba) >= 0.5).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    both = len(set(labels.tolist())) == 2
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, proba)) if both else float("nan"),
        "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
    }


def confusion_figure(metrics: dict[str, float], title: str) -> Any:
    """A small confusion-matrix image (matplotlib figure, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array([[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]])
    fig, ax = plt.subplots(figsize=(3.6, 3.2), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{int(value)}", ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks([0, 1], ["negative", "positive"])
    ax.set_yticks([0, 1], ["negative", "positive"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def score_version(version: str, texts: list[str], settings: Settings) -> np.ndarray:
    """Probability of the positive class from one registered version for each text."""
    model = registry.load_model(version, settings)
    return model.predict_proba(texts)


def validate_version(version: str | int, dataset_id: str, min_accuracy: float | None = None,
                     auto_promote: bool = False, settings: Settings | None = None
                     ) -> dict[str, Any]:
    """Check ``version`` on a validation dataset; tag the verdict; promote if asked and passed."""
    settings = settings or get_settings()
    info = registry.get_version(version, settings)
    version = info["version"]
    threshold = settings.min_accuracy if min_accuracy in (None, "") else float(min_accuracy)
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInputError(f"min_accuracy={threshold} must be between 0 and 1.")
    frame, dataset = registry.load_dataset(dataset_id, settings)
    if dataset["dataset_type"] != "jdd validation":
        raise InvalidInputError(f"Dataset {dataset_id} is a {dataset['dataset_type']!r} dataset;"
                                " validation needs a 'jdd validation' dataset.")
    texts, labels = frame["text"].tolist(), frame["label"].to_numpy()
    metrics = compute_metrics(labels, score_version(version, texts, settings))
    production = registry.production_version(settings)
    prod_metrics = None
    if production is not None and production != version:
        prod_metrics = compute_metrics(labels, score_version(production, texts, settings))
    passed, reasons = verdict(metrics, prod_metrics, threshold, settings.max_regression)
    tags = {"validation_status": "passed" if passed else "failed",
            "validation_accuracy": f"{metrics['accuracy']:.4f}",
            "validation_dataset": dataset["dataset_id"]}
    with registry.run(settings, "validation", f"validate v{version}",
                      {"model_version": version, "validation_dataset": dataset["dataset_id"],
                       "validation_status": tags["validation_status"]}) as run_id:
        registry.log_params(run_id, {"version": version, "dataset_id": dataset["dataset_id"],
                                     "min_accuracy": threshold,
                                     "max_regression": settings.max_regression,
                                     "production_version": production or ""}, settings)
        registry.log_metrics(run_id, metrics, settings)
        if prod_metrics:
            registry.log_metrics(run_id, {f"production_{k}": v for k, v in prod_metrics.items()},
                                 settings)
        registry.log_figure(run_id, confusion_figure(metrics, f"v{version} validation"),
                            "confusion_matrix.png", settings)
    current = info["tags"].get("status")
    status = current if current == "production" else ("validé" if passed else "rejeté")
    registry.set_version_tags(version, {**tags, "status": status}, settings)
    result = {"version": version, "passed": passed, "reasons": reasons, "metrics": metrics,
              "production_version": production, "production_metrics": prod_metrics,
              "min_accuracy": threshold, "validation_run_id": run_id, "promoted": False}
    if passed and auto_promote and production != version:
        from sentiment.promotion import promote

        result["promoted"] = True
        result["production_version"] = promote(version, settings=settings)["production_version"]
    return result


def verdict(metrics: dict[str, float], production: dict[str, float] | None, threshold: float,
            max_regression: float) -> tuple[bool, list[str]]:
    """Pass/fail and the reasons, in words a person reads."""
    reasons = []
    accuracy = metrics["accuracy"]
    ok_threshold = accuracy >= threshold
    reasons.append(f"accuracy {accuracy:.4f} {'>=' if ok_threshold else '<'} threshold "
                   f"{threshold:.4f}")
    ok_regression = True
    if production is not None:
        floor = production["accuracy"] - max_regression
        ok_regression = accuracy >= floor
        reasons.append(f"accuracy {accuracy:.4f} {'>=' if ok_regression else '<'} production "
                       f"{production['accuracy']:.4f} - {max_regression:.4f} allowed regression")
    else:
        reasons.append("no production version to compare with")
    return ok_threshold and ok_regression, reasons
