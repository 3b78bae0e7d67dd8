"""Metrics and the validation gate: a version is checked on validation datasets.

The gate metric is ``settings.gate_metric`` (balanced accuracy by default, since plain
accuracy lets a model that answers the majority class pass on a skewed split). A version
passes on one dataset when its gate metric reaches the threshold and is not more than
``max_regression`` below production's on the same data (or, for a challenger, strictly
above it). With several datasets the gate must hold on each. Each dataset check is one
run in experiment ``validation`` with its metrics and its confusion-matrix, ROC and
precision-recall figures; the verdict is written as version tags.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError
from sentiment.reports import validation_figures


def compute_metrics(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every metric the gate and the reports use, at the 0.5 threshold.

    ``recall_negative`` / ``recall_positive`` are the per-class recalls (their mean is the
    balanced accuracy); ``predicted_positive_rate`` beside ``actual_positive_rate`` shows
    a model that leans to one class.
    """
    from sklearn.metrics import confusion_matrix, roc_auc_score

    labels = np.asarray(labels).astype(int)
    proba = np.asarray(proba, dtype=float).reshape(-1)
    predicted = (proba >= 0.5).astype(int)
    tn, fp, fn, tp = (int(x) for x in confusion_matrix(labels, predicted, labels=[0, 1]).ravel())
    total = max(len(labels), 1)
    recall_pos = tp / (tp + fn) if tp + fn else float("nan")
    recall_neg = tn / (tn + fp) if tn + fp else float("nan")
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1_pos = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    f1_neg = 2 * tn / (2 * tn + fn + fp) if tn else 0.0
    present = [r for r in (recall_neg, recall_pos) if r == r]
    both = bool(tp + fn) and bool(tn + fp)
    return {
        "accuracy": (tp + tn) / total,
        "balanced_accuracy": float(np.mean(present)) if present else float("nan"),
        "precision": precision,
        "recall": 0.0 if recall_pos != recall_pos else recall_pos,
        "f1": f1_pos,
        "macro_f1": (f1_pos + f1_neg) / 2 if both else (f1_pos or f1_neg),
        "roc_auc": float(roc_auc_score(labels, proba)) if both else float("nan"),
        "recall_negative": recall_neg, "recall_positive": recall_pos,
        "predicted_positive_rate": (tp + fp) / total, "actual_positive_rate": (tp + fn) / total,
        "rows": len(labels), "tn": tn, "fp": fp, "fn": fn, "tp": tp,
    }


def score_version(version: str, texts: list[str], settings: Settings) -> np.ndarray:
    """Probability of the positive class from one registered version for each text."""
    model = registry.load_model(version, settings)
    return model.predict_proba(texts)


def dataset_ids(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """One or several dataset ids: a list, or a string separated by commas or spaces."""
    items = value if isinstance(value, list | tuple) else str(value or "").replace(",", " ").split()
    ids = list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
    if not ids:
        raise InvalidInputError("Choose at least one validation dataset.")
    return ids


def verdict(metrics: dict[str, float], production: dict[str, float] | None, threshold: float,
            max_regression: float, metric: str = "balanced_accuracy",
            must_beat: bool = False) -> tuple[bool, list[str]]:
    """Pass/fail on one dataset and the reasons, in words a person reads."""
    value = metrics[metric]
    ok_threshold = value >= threshold
    reasons = [f"{metric} {value:.4f} {'>=' if ok_threshold else '<'} threshold "
               f"{threshold:.4f}"]
    ok_production = True
    if production is None:
        reasons.append("no production version to compare with")
    elif must_beat:
        ok_production = value > production[metric]
        reasons.append(f"{metric} {value:.4f} {'>' if ok_production else '<='} production "
                       f"{production[metric]:.4f} (a challenger must beat production)")
    else:
        floor = production[metric] - max_regression
        ok_production = value >= floor
        reasons.append(f"{metric} {value:.4f} {'>=' if ok_production else '<'} production "
                       f"{production[metric]:.4f} - {max_regression:.4f} allowed regression")
    return ok_threshold and ok_production, reasons


def _check_dataset(version: str, production: str | None, dataset_id: str, threshold: float,
                   must_beat: bool, settings: Settings) -> dict[str, Any]:
    """Score candidate and production on one validation dataset; log one validation run."""
    frame, dataset = registry.load_dataset(dataset_id, settings)
    if dataset["dataset_type"] != "jdd validation":
        raise InvalidInputError(f"Dataset {dataset_id} is a {dataset['dataset_type']!r} dataset;"
                                " validation needs a 'jdd validation' dataset.")
    texts, labels = frame["text"].tolist(), frame["label"].to_numpy()
    proba = score_version(version, texts, settings)
    metrics = compute_metrics(labels, proba)
    prod_proba = prod_metrics = None
    if production is not None and production != version:
        prod_proba = score_version(production, texts, settings)
        prod_metrics = compute_metrics(labels, prod_proba)
    passed, reasons = verdict(metrics, prod_metrics, threshold, settings.max_regression,
                              settings.gate_metric, must_beat)
    tags = {"model_version": version, "validation_dataset": dataset["dataset_id"],
            "validation_status": "passed" if passed else "failed",
            "gate_metric": settings.gate_metric}
    with registry.run(settings, "validation", f"validate v{version} on {dataset['source']}"[:250],
                      tags) as run_id:
        registry.log_params(run_id, {"version": version, "dataset_id": dataset["dataset_id"],
                                     "gate_metric": settings.gate_metric, "threshold": threshold,
                                     "max_regression": settings.max_regression,
                                     "must_beat_production": must_beat,
                                     "production_version": production or ""}, settings)
        registry.log_metrics(run_id, metrics, settings)
        if prod_metrics:
            registry.log_metrics(run_id, {f"production_{k}": v for k, v in prod_metrics.items()},
                                 settings)
        figures = validation_figures(labels, proba, prod_proba, metrics, prod_metrics, version,
                                     production if prod_metrics else None, dataset["source"])
        for name, figure in figures.items():
            registry.log_figure(run_id, figure, name, settings)
    return {"dataset_id": dataset["dataset_id"], "dataset": dataset["source"], "passed": passed,
            "reasons": reasons, "metrics": metrics, "production_metrics": prod_metrics,
            "validation_run_id": run_id, "figures": sorted(figures)}


def validate_version(version: str | int, dataset_id: str | list[str],
                     min_accuracy: float | None = None, auto_promote: bool = False,
                     settings: Settings | None = None, must_beat: bool = False
                     ) -> dict[str, Any]:
    """Check ``version`` on one or several validation datasets; tag the verdict; promote if
    asked and passed on every dataset. ``must_beat``: production must be strictly beaten."""
    settings = settings or get_settings()
    info = registry.get_version(version, settings)
    version = info["version"]
    threshold = settings.min_accuracy if min_accuracy in (None, "") else float(min_accuracy)
    if not 0.0 <= threshold <= 1.0 or threshold != threshold:
        raise InvalidInputError(f"min_accuracy={threshold} must be between 0 and 1.")
    ids = dataset_ids(dataset_id)
    for one in ids:  # refuse a bad id before anything is logged
        registry.get_dataset(one, settings)
    production = registry.production_version(settings)
    checks = [_check_dataset(version, production, one, threshold, must_beat, settings)
              for one in ids]
    passed = all(c["passed"] for c in checks)
    metric = settings.gate_metric
    first = checks[0]
    reasons = [r if len(checks) == 1 else f"{c['dataset']}: {r}"
               for c in checks for r in c["reasons"]]
    worst = min(c["metrics"][metric] for c in checks)
    tags = {"validation_status": "passed" if passed else "failed",
            "validation_accuracy": f"{first['metrics']['accuracy']:.4f}",
            "validation_metric": metric, "validation_score": f"{worst:.4f}",
            "validation_dataset": ",".join(c["dataset_id"] for c in checks)}
    current = info["tags"].get("status")
    status = current if current == "production" else ("validé" if passed else "rejeté")
    registry.set_version_tags(version, {**tags, "status": status}, settings)
    result = {"version": version, "passed": passed, "reasons": reasons, "gate_metric": metric,
              "metrics": first["metrics"], "production_version": production,
              "production_metrics": first["production_metrics"], "min_accuracy": threshold,
              "validation_run_id": first["validation_run_id"], "datasets": checks,
              "promoted": False}
    if passed and auto_promote and production != version:
        from sentiment.promotion import promote

        result["promoted"] = True
        result["production_version"] = promote(version, settings=settings)["production_version"]
    return result
