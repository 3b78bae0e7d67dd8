"""Training: one run in experiment ``training`` that ends with a registered version.

The dataset is split (stratified, fixed seed) into a fit part and a held-out part used
for early stopping and the run's metrics. Nothing is registered unless everything
succeeded: a failure or a cancel ends the run FAILED/KILLED with no new version.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError, RefusedError
from sentiment.metrics import compute_metrics
from sentiment.models import ProgressFn, StopFn, check_stop, coerce_params, get_model_type
from sentiment.models.pyfunc import write_meta
from sentiment.pipeline.reports import confusion_figure
from sentiment.vocabulary import TO_VALIDATE, TRAINING

HOLDOUT = 0.1
SEED = 42
log = logging.getLogger(__name__)


def _no_progress(fraction: float, message: str, metrics: dict | None = None) -> None:
    """Default progress callback: ignore."""


def _never() -> bool:
    return False


def split(frame: Any, holdout: float = HOLDOUT) -> tuple[Any, Any]:
    """Stratified split of a dataset into fit and held-out parts (fixed seed)."""
    from sklearn.model_selection import train_test_split

    counts = frame["label"].value_counts()
    if len(frame) < 20 or counts.min() < 2:
        raise InvalidInputError(f"Need at least 20 rows with 2 of each class to train; the "
                                f"dataset has {len(frame)} rows ({counts.to_dict()}).")
    return train_test_split(frame, test_size=holdout, random_state=SEED, stratify=frame["label"])


def _base_predictor(model_type: Any, base_version: str, settings: Settings,
                    tmp: Path) -> tuple[Any, dict[str, Any]]:
    """The base version's predictor (same type only) and its registry info."""
    info = registry.get_version(base_version, settings)
    base_type = info["tags"].get("model_type")
    if base_type != model_type.name:
        raise RefusedError(f"Base version {base_version} is a {base_type!r} model; it cannot "
                           f"warm-start a {model_type.name!r} model.")
    # Training continues from the Keras weights, whatever serves the base version.
    directory = registry.model_dir(info["version"], settings, tmp)
    return model_type.load(directory, backend="keras"), info


def train(model_type: str, dataset_id: str, base_version: str | int | None = None,
          params: Mapping[str, Any] | None = None, progress: ProgressFn | None = None,
          should_stop: StopFn | None = None, settings: Settings | None = None,
          extra_tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Train ``model_type`` on a training dataset and register it as ``à valider``.

    ``extra_tags`` go on the run and on the version (the bootstrap marks its own).
    """
    settings = settings or get_settings()
    progress, should_stop = progress or _no_progress, should_stop or _never
    kind = get_model_type(model_type)
    hyper = coerce_params(kind, params)
    frame, dataset = registry.load_dataset(dataset_id, settings)
    if dataset["dataset_type"] != TRAINING:
        raise InvalidInputError(f"Dataset {dataset_id} is a {dataset['dataset_type']!r} dataset;"
                                f" training needs a {TRAINING!r} dataset.")
    fit_part, held_out = split(frame)
    base = str(base_version).strip() if base_version not in (None, "") else None
    with tempfile.TemporaryDirectory() as tmp:
        predictor = None
        tags = {"model_type": kind.name, "training_dataset": dataset["dataset_id"],
                **(extra_tags or {})}
        if base:
            predictor, base_info = _base_predictor(kind, base, settings, Path(tmp))
            tags.update({"base_version": base, "mlflow.parentRunId": base_info["run_id"] or ""})
        progress(0.0, "starting")
        return _train_run(kind, hyper, fit_part, held_out, predictor, tags, dataset, progress,
                          should_stop, settings, Path(tmp))


def export_serving(kind: Any, predictor: Any, model_dir: Path, held_out: Any, run_id: str,
                   settings: Settings) -> dict[str, str]:
    """Export the serving variants of a type that has them (ONNX, see
    :mod:`sentiment.models.onnx_serving`); return the version tags that record them.

    Each variant's accuracy and balanced accuracy on the held-out split are logged on the
    run. A failed export costs speed only: the version is logged without it, served by
    Keras, and the tag ``serving_export_error`` says why.
    """
    export = getattr(kind, "export_serving", None)
    if export is None:
        return {}
    try:
        record = export(predictor, model_dir, held_out["text"].tolist(),
                        held_out["label"].to_numpy())
    except Exception as exc:  # noqa: BLE001 - an exporter bug must not lose the training
        log.exception("ONNX export of the %s model failed; it will be served by Keras",
                      kind.name)
        for name in model_dir.glob("*.onnx"):
            name.unlink()
        return {"serving": "keras", "serving_export_error": repr(exc)[:250]}
    scores = record["variants"]
    registry.log_metrics(run_id, {f"onnx_{variant}_{metric}": value
                                  for variant, values in scores.items()
                                  for metric, value in values.items()}, settings)
    tags = {"serving": f"onnx-{record['chosen']}", "serving_reason": record["reason"]}
    for metric in ("accuracy", "balanced_accuracy") if "int8" in scores else ():
        tags[f"int8_{metric}"] = f"{scores['int8'][metric]:.6f}"
        tags[f"int8_{metric}_loss"] = f"{scores['float'][metric] - scores['int8'][metric]:.6f}"
    return tags


def _train_run(kind: Any, hyper: dict[str, Any], fit_part: Any, held_out: Any, base: Any,
               tags: dict[str, str], dataset: dict[str, Any], progress: ProgressFn,
               should_stop: StopFn, settings: Settings, tmp: Path) -> dict[str, Any]:
    run_tags = {k: v for k, v in tags.items() if v}
    with registry.run(settings, "training", f"{kind.name} on {dataset['source']}"[:250],
                      run_tags) as run_id:
        registry.log_params(run_id, {"model_type": kind.name, **hyper,
                                     "training_dataset": dataset["dataset_id"],
                                     "rows_fit": len(fit_part), "rows_holdout": len(held_out),
                                     "base_version": tags.get("base_version", "")}, settings)

        def epoch_progress(fraction: float, message: str, metrics: dict | None = None
                           ) -> None:
            check_stop(should_stop)
            if metrics is None:
                progress(fraction * 0.9, message)
            else:  # one finished epoch, for live curves
                progress(fraction * 0.9, message, metrics)

        started = time.perf_counter()
        result = kind.fit(fit_part["text"].tolist(), fit_part["label"].to_numpy(),
                          held_out["text"].tolist(), held_out["label"].to_numpy(), hyper, base,
                          epoch_progress, should_stop)
        seconds = time.perf_counter() - started
        for step, epoch in enumerate(result.history):
            registry.log_metrics(run_id, epoch, settings, step=step)
        progress(0.92, "evaluating")
        proba = np.asarray(result.predictor.predict_proba(held_out["text"].tolist()))
        metrics = compute_metrics(held_out["label"].to_numpy(), proba)
        registry.log_metrics(run_id, {**{f"val_{k}": v for k, v in metrics.items()},
                                      "training_time_s": seconds}, settings)
        registry.log_figure(run_id, confusion_figure(metrics, f"{kind.name} held-out"),
                            "confusion_matrix.png", settings)
        check_stop(should_stop)
        progress(0.95, "logging the model")
        model_dir = tmp / "model_dir"
        model_dir.mkdir()
        result.predictor.save(model_dir)
        write_meta(model_dir, kind.name)
        serving = export_serving(kind, result.predictor, model_dir, held_out, run_id, settings)
        uri = registry.log_model(model_dir, kind.name, list(kind.pip_requirements))
    version = registry.register(uri, {**{k: v for k, v in tags.items()
                                         if not k.startswith("mlflow.")},
                                      **serving, "status": TO_VALIDATE}, settings)
    progress(1.0, f"registered version {version}")
    return {"version": version, "run_id": run_id, "model_type": kind.name,
            "training_dataset": dataset["dataset_id"], "base_version": tags.get("base_version"),
            "metrics": metrics, "training_time_s": round(seconds, 2), "params": hyper,
            "history": result.history, "status": TO_VALIDATE}
