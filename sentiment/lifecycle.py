"""The facade of the lifecycle: each step (ingest, train, validate, promote, rollback,
jobs, first start) as a function. ``ui``, ``admin`` and ``app.py`` make these steps only
here (they never import the registry or the pipeline); read-side APIs (predictions,
dashboard, review queue) they call in their stage directly.

Each function takes plain values, reads the settings, and returns plain data (dicts and
lists) that the edges render. Expected failures raise :class:`SentimentError`.
"""

from __future__ import annotations

from typing import Any

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.models import ProgressFn, StopFn
from sentiment.pipeline import jobs
from sentiment.serving.server import ModelServer
from sentiment.vocabulary import VERSION_METRICS

MLFLOW_UI_PREFIX = registry.UI_PREFIX


def bootstrap(settings: Settings | None = None, log: Any = print) -> dict[str, Any]:
    """First start, both stages: the baseline in production, then the challenger."""
    from sentiment.pipeline.bootstrap import bootstrap as run_bootstrap

    return run_bootstrap(settings or get_settings(), log)


def bootstrap_baseline(settings: Settings | None = None, log: Any = print) -> dict[str, Any]:
    """First start, stage 1: ensure a production model exists (the balanced baseline)."""
    from sentiment.pipeline.bootstrap import bootstrap_baseline as run_stage

    return run_stage(settings or get_settings(), log)


def bootstrap_challenger(settings: Settings | None = None, log: Any = print) -> dict[str, Any]:
    """First start, stage 2: the challenger, promoted only if it beats production."""
    from sentiment.pipeline.bootstrap import bootstrap_challenger as run_stage

    return run_stage(settings or get_settings(), log)


def challenger_status(settings: Settings | None = None) -> dict[str, Any] | None:
    """Stage 2's progress or outcome, or None when it never ran on this home."""
    from sentiment.pipeline import challenger

    return challenger.status(settings or get_settings())


def ingest(path: str, role: str, settings: Settings | None = None,
           name: str | None = None) -> dict[str, Any]:
    """Ingest one CSV as a training or validation dataset, named ``name`` (default: the
    file name without ``.csv``)."""
    from sentiment.data.ingest import ingest_file

    return ingest_file(path, role, settings or get_settings(), name)


def rename_dataset(dataset_id: str, name: str, settings: Settings | None = None
                   ) -> dict[str, Any]:
    """Give an ingested dataset another display name (its id and rows do not change)."""
    from sentiment.data.ingest import dataset_name
    from sentiment.errors import InvalidInputError

    settings = settings or get_settings()
    if not str(name or "").strip():
        raise InvalidInputError("A dataset name cannot be empty.")
    registry.set_dataset_tag(dataset_id, "name", dataset_name(name, ""), settings)
    return registry.get_dataset(dataset_id, settings)


def datasets_table(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Ingested datasets, newest first, one flat row each."""
    rows = registry.list_datasets(settings or get_settings())
    return [{k: v for k, v in row.items() if k != "tags"} for row in rows]


def train(model_type: str, dataset_id: str, base_version: str | None = None,
          params: dict[str, Any] | None = None, progress: ProgressFn | None = None,
          should_stop: StopFn | None = None, settings: Settings | None = None
          ) -> dict[str, Any]:
    """Train a new version (status ``à valider``)."""
    from sentiment.pipeline.train import train as run_train

    return run_train(model_type, dataset_id, base_version, params, progress, should_stop,
                     settings or get_settings())


def train_job(model_type: str, dataset_id: str, base_version: str | None = None,
              params: dict[str, Any] | None = None, owner: str = "cli",
              progress: ProgressFn | None = None, on_start: Any = None,
              settings: Settings | None = None) -> dict[str, Any]:
    """Train as a job that others can follow and stop (``python -m admin jobs|stop``)."""
    return jobs.run(settings or get_settings(), model_type, dataset_id, base_version, params,
                    owner, progress, on_start)


def list_jobs(running_only: bool = False, settings: Settings | None = None
              ) -> list[dict[str, Any]]:
    """The training jobs on this home, newest first."""
    return jobs.list_jobs(settings or get_settings(), running_only)


def running_job(owner: str) -> dict[str, Any] | None:
    """The running training of ``owner`` (a UI session) in this process, if any."""
    return jobs.running_for(owner)


def stop_job(job_id: str, settings: Settings | None = None) -> dict[str, Any]:
    """Ask a training job to stop, from any process on the home."""
    return jobs.stop(settings or get_settings(), job_id)


def stop_jobs_of(owner: str) -> int:
    """The Stop button: ask this session's trainings (in this process) to stop."""
    return jobs.stop_owner(owner)


def validate(version: str, dataset_id: str, min_accuracy: float | None = None,
             auto_promote: bool = False, settings: Settings | None = None) -> dict[str, Any]:
    """Validate a version on a validation dataset."""
    from sentiment.pipeline.promotion import validate_and_promote

    return validate_and_promote(version, dataset_id, min_accuracy, auto_promote,
                            settings or get_settings())


def validation_images(result: dict[str, Any], settings: Settings | None = None
                      ) -> list[tuple[str, str]]:
    """The figures each validation run of ``result`` logged, as (local path, caption)."""
    from sentiment.infra import results

    settings = settings or get_settings()
    images = []
    for check in result.get("datasets", []):
        run_id = check["validation_run_id"]
        folder = results.stable_dir(settings, "reports", run_id)  # downloaded once
        for name in check.get("figures", []):
            path = registry.download_artifact(run_id, name, folder, settings)
            images.append((str(path), f"{check['dataset']}: {name.removesuffix('.png')}"))
    return images


def promote(version: str, force: bool = False, actor: str = "",
            settings: Settings | None = None) -> dict[str, Any]:
    """Promote a version to production."""
    from sentiment.pipeline.promotion import promote as run_promote

    return run_promote(version, force, actor, settings or get_settings())


def reconcile(settings: Settings | None = None) -> dict[str, Any]:
    """Status tags and production history made to agree with the alias (see
    :func:`sentiment.pipeline.promotion.reconcile`)."""
    from sentiment.pipeline.promotion import reconcile as run_reconcile

    return run_reconcile(settings or get_settings())


def rollback(settings: Settings | None = None) -> dict[str, Any]:
    """Move production back to the previous production version."""
    from sentiment.pipeline.promotion import rollback as run_rollback

    return run_rollback(settings or get_settings())


def _pending_row(settings: Settings) -> list[dict[str, Any]]:
    """The first-start challenger while it trains: a row above the registered versions."""
    state = challenger_status(settings)
    if not state or state.get("status") not in ("training", "validating", "interrupted"):
        return []
    return [{"version": state.get("version", ""), "production": False,
             "model_type": state.get("model_type", ""),
             "status": f"challenger: {state['status']}",
             "progress": f"{float(state.get('progress') or 0):.0%} {state.get('message', '')}"}]


def models_table(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Model versions with type, status, key metrics, datasets and the production flag.

    While the first-start challenger trains, its progress is the first row.
    """
    settings = settings or get_settings()
    production = registry.production_version(settings)
    pending = _pending_row(settings)
    rows = [] if pending and pending[0]["version"] else pending
    for info in registry.list_versions(settings):
        tags, metrics = info["tags"], info["metrics"]
        mine = pending and pending[0]["version"] == info["version"]
        rows.append({
            "version": info["version"], "production": info["version"] == production,
            "model_type": tags.get("model_type", ""), "status": tags.get("status", ""),
            "serving": tags.get("serving", ""),
            "progress": pending[0]["progress"] if mine else "",
            "validation_metric": tags.get("validation_metric", ""),
            "validation_score": tags.get("validation_score", ""),
            "validation_accuracy": tags.get("validation_accuracy", ""),
            **{k: round(metrics[k], 4) if k in metrics else None for k in VERSION_METRICS},
            "training_dataset": tags.get("training_dataset", ""),
            "validation_dataset": tags.get("validation_dataset", ""),
            "base_version": tags.get("base_version", ""), "created": info["created"],
            "moved_outside_app": tags.get("moved_outside_app", ""),
        })
    return rows


def score(input_path: str, output_path: str, engine: str = "local", master: str | None = None,
          column: str | None = None, version: str | None = None,
          settings: Settings | None = None) -> dict[str, Any]:
    """Score a CSV or Parquet file with the production version (in-process or Spark)."""
    from sentiment.serving.scoring import score as run_score

    return run_score(input_path, output_path, engine, master, column, version,
                     settings or get_settings())


def predict_texts(texts: list[str], server: ModelServer | None = None) -> list[dict[str, Any]]:
    """Predict texts with the production model."""
    server = server or ModelServer()
    return [{"text": p.text, "label": p.label, "proba_positive": round(p.proba_positive, 4),
             "confidence": round(p.confidence, 4), "version": p.version,
             "model_type": p.model_type} for p in server.predict(list(texts))]


def mlflow_link(settings: Settings | None = None) -> str:
    """Where the admin opens the MLflow UI of this registry."""
    return registry.ui_link(settings or get_settings())


def mlflow_ui_app(settings: Settings | None = None) -> Any:
    """The MLflow UI app to mount beside the Gradio app (local registry)."""
    return registry.ui_app(settings or get_settings())
