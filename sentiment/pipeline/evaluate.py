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
from sentiment.metrics import compute_metrics
from sentiment.pipeline.reports import validation_figures
from sentiment.vocabulary import PRODUCTION, REJECTED, VALIDATED, VALIDATION


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
    if dataset["dataset_type"] != VALIDATION:
        raise InvalidInputError(f"Dataset {dataset_id} is a {dataset['dataset_type']!r} dataset;"
                                f" validation needs a {VALIDATION!r} dataset.")
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
                     min_accuracy: float | None = None, settings: Settings | None = None,
                     must_beat: bool = False) -> dict[str, Any]:
    """Check ``version`` on one or several validation datasets and tag the verdict.
    ``must_beat``: production must be strictly beaten. Promoting is the pipeline's
    (:func:`sentiment.pipeline.promotion.validate_and_promote`), not the gate's."""
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
    status = current if current == PRODUCTION else (VALIDATED if passed else REJECTED)
    registry.set_version_tags(version, {**tags, "status": status}, settings)
    result = {"version": version, "passed": passed, "reasons": reasons, "gate_metric": metric,
              "metrics": first["metrics"], "production_version": production,
              "production_metrics": first["production_metrics"], "min_accuracy": threshold,
              "validation_run_id": first["validation_run_id"], "datasets": checks,
              "promoted": False}
    return result
