"""Every MLflow call of the service lives here: datasets, runs, models, versions, aliases.

Conventions (SPEC "MLflow conventions"): experiments ``datasets``, ``training`` and
``validation``; the registered model ``settings.model_name``; the alias ``production``;
version tags ``status``, ``model_type``, ``training_dataset``, ``base_version``,
``validation_*``. The production history used by rollback is a registered-model tag.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.config import Settings
from sentiment.errors import CancelledError, InvalidInputError, NotFoundError, SentimentError
from sentiment.infra import processes
from sentiment.infra.csvsafe import unescape_series, write_csv
from sentiment.infra.relocate import rebase

PRODUCTION = "production"
HISTORY_TAG = "production_history"
OWNER_TAG = "sentiment.owner"
DATASET_FILE = "dataset.csv"
_lock = threading.RLock()
_load_lock = threading.Lock()
log = logging.getLogger(__name__)
# Noise from MLflow that says nothing about our data (dataset source naming, int columns).
for _message in ("The specified dataset source can be interpreted", "Hint: Inferred schema",
                 "Failed to infer signature from type hint"):
    warnings.filterwarnings("ignore", message=_message)
_clients: dict[str, Any] = {}


def client(settings: Settings) -> Any:
    """The MlflowClient for these settings (created once per tracking URI). It names its
    URIs explicitly, so using it never changes MLflow's process-wide state (the alias
    watcher of another settings object cannot disturb a training, and the reverse)."""
    import mlflow

    with _lock:
        if settings.tracking_uri not in _clients:
            rebase(settings)  # a home copied or mounted elsewhere keeps working
            _clients[settings.tracking_uri] = mlflow.MlflowClient(
                settings.tracking_uri, registry_uri=settings.tracking_uri)
        return _clients[settings.tracking_uri]


def fluent(settings: Settings) -> Any:
    """Point MLflow's fluent API (runs, model logging and loading) at these settings."""
    import mlflow

    mlc = client(settings)
    with _lock:
        mlflow.set_tracking_uri(settings.tracking_uri)
        mlflow.set_registry_uri(settings.tracking_uri)  # else the first one stays cached
    return mlc


def experiment_id(settings: Settings, name: str) -> str:
    """Id of the experiment ``name``; created when missing, tolerating a concurrent
    creator (another replica starting at the same moment)."""
    from mlflow.exceptions import MlflowException

    mlc = client(settings)
    experiment = mlc.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return mlc.create_experiment(name, artifact_location=_artifact_location(settings, name))
    except MlflowException as exc:
        experiment = mlc.get_experiment_by_name(name)  # someone else created it meanwhile
        if experiment is None:
            raise
        log.info("experiment %s was created concurrently (%s)", name, exc.error_code)
        return experiment.experiment_id


def _artifact_location(settings: Settings, name: str) -> str | None:
    """Artifacts under SENTIMENT_HOME when MLflow talks to a database directly (SQLite,
    or a PostgreSQL URI without a server), instead of MLflow's ``./mlruns`` in the current
    directory; a tracking server decides for itself (``--artifacts-destination``)."""
    if settings.tracking_uri.startswith(("http://", "https://", "databricks")):
        return None
    return f"{settings.artifact_root}/{name}"


@contextmanager
def run(settings: Settings, experiment: str, run_name: str,
        tags: dict[str, str] | None = None) -> Iterator[str]:
    """An MLflow run that ends FINISHED, KILLED when the user cancelled (or the process
    was interrupted), FAILED when the body raised. The run carries its owner process
    (tag ``sentiment.owner``) so that a later start can end it if that process died."""
    import mlflow

    fluent(settings)
    tags = {**(tags or {}), OWNER_TAG: owner_id()}
    active = mlflow.start_run(experiment_id=experiment_id(settings, experiment),
                              run_name=run_name, tags=tags)
    try:
        yield active.info.run_id
    except (CancelledError, KeyboardInterrupt):
        _end_unfinished(active, "KILLED", settings)
        raise
    except BaseException:
        _end_unfinished(active, "FAILED", settings)
        raise
    mlflow.end_run("FINISHED")


def _end_unfinished(active: Any, status: str, settings: Settings) -> None:
    """End a run that did not finish: first delete what it had written to a local
    artifact store (the run's folder and its logged models' folders: a partial model can
    fill the disk, and nothing uses it), then end it; when the disk was full, that
    deletion is what lets the end be recorded."""
    import mlflow
    import mlflow.tracking.fluent as fluent_api

    _remove_local_artifacts(active.info.artifact_uri)
    try:
        _fail_pending_models(client(settings), active.info.experiment_id, active.info.run_id)
    except Exception as exc:  # noqa: BLE001 - the body's error is the one to raise
        log.error("the partial models of run %s could not be removed (%s)",
                  active.info.run_id, exc)
    try:
        mlflow.end_run(status)
    except Exception as exc:  # noqa: BLE001 - the body's error is the one to raise
        log.error("run %s could not be ended %s (%s); the next start ends it",
                  active.info.run_id, status, exc)
        fluent_api._active_run_stack.get().clear()  # the next run does not nest in it


def owner_id(pid: int | None = None) -> str:
    """``host:pid:start`` of a process; the start time tells a reused pid apart."""
    import os
    import socket

    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or '' elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def owner_alive(owner: str) -> bool | None:
    """Whether the process that owns a run still runs: None when it is on another host."""
    import socket

    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if not processes.alive(pid):
        return False
    return not start or _process_start(pid) == start


def reconcile_runs(settings: Settings) -> list[dict[str, str]]:
    """End the runs this installation left RUNNING when their process died (``kill -9``,
    a crash, a power cut): KILLED, with the tag ``end_reason``, and their partial
    artifacts removed. Runs of live processes and of other hosts are left alone."""
    mlc = client(settings)
    ended = []
    for name in ("datasets", "training", "validation"):
        experiment = mlc.get_experiment_by_name(name)
        if experiment is None:
            continue
        for stale in mlc.search_runs([experiment.experiment_id],
                                     filter_string="attributes.status = 'RUNNING'",
                                     max_results=1000):
            owner = stale.data.tags.get(OWNER_TAG, "")
            if not owner or owner_alive(owner) is not False:
                continue
            reason = f"interrupted: its process ({owner}) died before the run ended"
            mlc.set_tag(stale.info.run_id, "end_reason", reason)
            mlc.set_terminated(stale.info.run_id, status="KILLED")
            removed = _remove_local_artifacts(stale.info.artifact_uri)
            removed = _fail_pending_models(mlc, experiment.experiment_id,
                                           stale.info.run_id) or removed
            ended.append({"run_id": stale.info.run_id, "experiment": name,
                          "artifacts_removed": str(removed)})
            log.warning("run %s (%s) ended KILLED: %s", stale.info.run_id, name, reason)
    return ended


def _fail_pending_models(mlc: Any, experiment: str, run_id: str) -> bool:
    """Mark FAILED the logged models a dead (or failed) run had started writing, and drop
    the files of every one that did not get ready (MLflow marks some FAILED itself)."""
    from mlflow.entities import LoggedModelStatus

    removed = False
    for model in mlc.search_logged_models([experiment],
                                          filter_string=f"source_run_id = '{run_id}'"):
        if model.status == LoggedModelStatus.PENDING:
            mlc.finalize_logged_model(model.model_id, "FAILED")
        if model.status != LoggedModelStatus.READY:
            removed = _remove_local_artifacts(model.artifact_location) or removed
    return removed


def _remove_local_artifacts(artifact_uri: str | None) -> bool:
    """Delete a dead run's partial artifact folder when it is a local path."""
    import shutil
    from urllib.parse import unquote, urlparse

    if not artifact_uri or not artifact_uri.startswith("file:"):
        return False
    folder = Path(unquote(urlparse(artifact_uri).path))
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
        return True
    return False


def log_params(run_id: str, params: dict[str, Any], settings: Settings) -> None:
    """Log parameters of a run (values as strings)."""
    client(settings).log_batch(run_id, params=_params(params))


def _params(params: dict[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)[:6000]) for k, v in params.items()]


def log_metrics(run_id: str, metrics: dict[str, float], settings: Settings,
                step: int | None = None) -> None:
    """Log numeric metrics (optionally for one epoch)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items() if v is not None]
    client(settings).log_batch(run_id, metrics=items)


def log_figure(run_id: str, figure: Any, name: str, settings: Settings) -> None:
    """Store a matplotlib figure as an image artifact."""
    import matplotlib.pyplot as plt

    client(settings).log_figure(run_id, figure, name)
    plt.close(figure)


def download_artifact(run_id: str, name: str, destination: Path, settings: Settings) -> Path:
    """Download one artifact of a run into ``destination`` (kept when already there)."""
    target = destination / name
    if not target.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        client(settings).download_artifacts(run_id, name, str(destination))
    return target


def log_dict(run_id: str, data: dict[str, Any], name: str, settings: Settings) -> None:
    """Store a JSON artifact."""
    client(settings).log_dict(run_id, data, name)


# ---- datasets -------------------------------------------------------------------------


def log_dataset(parsed: Any, dataset_type: str, source_name: str, settings: Settings,
                extra_tags: dict[str, str] | None = None) -> str:
    """Record a parsed dataset as one run in ``datasets``; return the run id (dataset_id)."""
    import mlflow

    tags = {"dataset_type": dataset_type, "source": source_name[:250],
            "format": parsed.format, **(extra_tags or {})}
    digest = mlflow.data.from_pandas(parsed.frame, source=source_name, targets="label",
                                     name=source_name[:200]).digest
    same = [d for d in list_datasets(settings)
            if d["digest"] == digest and d["dataset_type"] == dataset_type]
    if same:
        raise InvalidInputError(
            f"These rows are already recorded as the {dataset_type} dataset "
            f"'{same[0]['name']}' (id {same[0]['dataset_id']}, {same[0]['created']}): "
            "nothing was added. Use that dataset, or change the file.")
    with run(settings, "datasets", f"{dataset_type}: {source_name}"[:250], tags) as run_id:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / DATASET_FILE
            write_csv(parsed.frame, path)
            mlflow.log_artifact(str(path))
        dataset = mlflow.data.from_pandas(parsed.frame, source=source_name, targets="label",
                                          name=source_name[:200])
        mlflow.log_input(dataset, context=dataset_type)
        log_params(run_id, {"format": parsed.format, "encoding": parsed.encoding,
                            "source": source_name, "digest": dataset.digest}, settings)
        metrics = {**parsed.stats, **{f"dropped_{k.replace(' ', '_')}": v
                                      for k, v in parsed.dropped.items()}}
        log_metrics(run_id, metrics, settings)
    return run_id


def list_datasets(settings: Settings) -> list[dict[str, Any]]:
    """Every successfully ingested dataset, newest first."""
    runs = client(settings).search_runs([experiment_id(settings, "datasets")],
                                        filter_string="attributes.status = 'FINISHED'",
                                        order_by=["attributes.start_time DESC"], max_results=1000)
    return [_dataset_info(r) for r in runs]


def _dataset_info(r: Any) -> dict[str, Any]:
    m, t = r.data.metrics, r.data.tags
    source = t.get("source", "")
    return {"dataset_id": r.info.run_id, "dataset_type": t.get("dataset_type", ""),
            "name": t.get("name") or Path(source).stem or source, "source": source,
            "origin": t.get("origin", ""), "format": t.get("format", ""),
            "rows_kept": int(m.get("rows_kept", 0)), "rows_dropped": int(m.get("rows_dropped", 0)),
            "positive_rate": m.get("positive_rate"), "digest": r.data.params.get("digest", ""),
            "created": pd.Timestamp(r.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M:%S"),
            "tags": dict(t)}


def get_dataset(dataset_id: str, settings: Settings) -> dict[str, Any]:
    """Info on one dataset, or NotFoundError."""
    from mlflow.exceptions import MlflowException

    try:
        r = client(settings).get_run(str(dataset_id).strip())
    except MlflowException as exc:
        raise NotFoundError(f"No dataset with id {dataset_id!r}.") from exc
    if r.info.experiment_id != experiment_id(settings, "datasets") or r.info.status != "FINISHED":
        raise NotFoundError(f"No dataset with id {dataset_id!r}.")
    return _dataset_info(r)


def load_dataset(dataset_id: str, settings: Settings) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cleaned frame (``text``, ``label``) of one dataset and its info."""
    info = get_dataset(dataset_id, settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = client(settings).download_artifacts(info["dataset_id"], DATASET_FILE, tmp)
        frame = pd.read_csv(path, dtype={"text": str}, keep_default_na=False)
    frame["text"] = unescape_series(frame["text"])
    return frame, info


def set_dataset_tag(dataset_id: str, key: str, value: str, settings: Settings) -> None:
    """Set one tag of a dataset run (its name, for a rename)."""
    get_dataset(dataset_id, settings)  # NotFoundError for an unknown id
    client(settings).set_tag(str(dataset_id).strip(), key, value)


def find_dataset(tag: str, value: str, settings: Settings) -> str | None:
    """Id of the newest finished dataset whose tag ``tag`` equals ``value``."""
    for info in list_datasets(settings):
        if info["tags"].get(tag) == value:
            return info["dataset_id"]
    return None


# ---- models ---------------------------------------------------------------------------


def log_model(model_dir: Path, model_type: str, pip_requirements: list[str]) -> str:
    """Log the pyfunc model of the active run; return its model URI."""
    import mlflow

    from sentiment.models.pyfunc import signature

    package = Path(__file__).resolve().parent
    info = mlflow.pyfunc.log_model(
        name="model", python_model=str(package / "models" / "pyfunc_entry.py"),
        artifacts={"model_dir": str(model_dir)}, code_paths=[str(package)],
        signature=signature(), input_example=["I love this airline"],
        pip_requirements=pinned(["mlflow", *pip_requirements]),
        metadata={"model_type": model_type})
    return info.model_uri


def pinned(packages: list[str]) -> list[str]:
    """Pin each package to the installed version (no slow requirement inference)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for name in dict.fromkeys(packages):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def register(model_uri: str, tags: dict[str, str], settings: Settings) -> str:
    """Register a new version of the model with its tags; return the version number."""
    import mlflow

    fluent(settings)
    version = mlflow.register_model(model_uri, settings.model_name, tags=tags)
    return str(version.version)


def get_version(version: str | int, settings: Settings) -> dict[str, Any]:
    """Info on one version (tags, run id, created), or NotFoundError."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client(settings).get_model_version(settings.model_name, str(version).strip())
    except MlflowException as exc:
        raise NotFoundError(f"No version {version!r} of model {settings.model_name!r}.") from exc
    return {"version": str(mv.version), "run_id": mv.run_id, "tags": dict(mv.tags),
            "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
            "source": mv.source}


def list_versions(settings: Settings, with_metrics: bool = True) -> list[dict[str, Any]]:
    """All versions, newest first, each with its training run's metrics if asked."""
    mlc = client(settings)
    versions = mlc.search_model_versions(f"name = '{settings.model_name}'", max_results=1000)
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        info = {"version": str(mv.version), "run_id": mv.run_id, "tags": dict(mv.tags),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime(
                    "%Y-%m-%d %H:%M"), "source": mv.source, "metrics": {}}
        if with_metrics and mv.run_id:
            info["metrics"] = mlc.get_run(mv.run_id).data.metrics
        rows.append(info)
    return rows


def set_version_tags(version: str, tags: dict[str, str], settings: Settings) -> None:
    """Set several tags on one version."""
    mlc = client(settings)
    for key, value in tags.items():
        mlc.set_model_version_tag(settings.model_name, str(version), key, str(value))


class RegistryUnavailable(SentimentError):
    """The model registry (tracking server or database) cannot be reached now."""


# What MLflow answers when the model or its alias does not exist (not a failure).
_ABSENT = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def production_version(settings: Settings) -> str | None:
    """The version the ``production`` alias points to, or None when there is none yet
    (read by alias, not search). Raises :class:`RegistryUnavailable` when the registry
    cannot answer, so that "unreachable" is never mistaken for "no model"."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client(settings).get_model_version_by_alias(settings.model_name, PRODUCTION)
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            return None
        raise RegistryUnavailable(f"The model registry cannot be reached "
                                  f"({str(exc).splitlines()[0][:200]}).") from exc
    return str(mv.version)


def set_production_alias(version: str, settings: Settings) -> None:
    """Point ``production`` at ``version`` (one alias: exactly one version holds it)."""
    client(settings).set_registered_model_alias(settings.model_name, PRODUCTION, str(version))


def production_history(settings: Settings) -> list[str]:
    """Versions that have been production, oldest first (used by rollback)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client(settings).get_registered_model(settings.model_name)
    except MlflowException:
        return []
    return json.loads(model.tags.get(HISTORY_TAG, "[]"))


def set_production_history(history: list[str], settings: Settings) -> None:
    """Store the production history (bounded to the last 100 promotions)."""
    client(settings).set_registered_model_tag(settings.model_name, HISTORY_TAG,
                                              json.dumps(history[-100:]))


def model_dir(version: str, settings: Settings, destination: Path) -> Path:
    """Download a version's model folder (its predictor files) into ``destination``."""
    import mlflow

    fluent(settings)
    uri = f"models:/{settings.model_name}/{version}"
    path = mlflow.artifacts.download_artifacts(f"{uri}/artifacts/model_dir",
                                               dst_path=str(destination))
    return Path(path)


def load_model(version: str, settings: Settings) -> Any:
    """Load one version as our python model (the object behind the pyfunc wrapper).

    MLflow prepends the model's code folder to ``sys.path`` on every load; this process
    already imported ``sentiment``, so the path is restored and never grows.
    """
    import sys

    import mlflow

    fluent(settings)
    with _load_lock:
        saved = list(sys.path)
        try:
            loaded = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
        except SentimentError:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow raises many types; the user needs one
            log.warning("loading version %s failed: %r", version, exc)
            raise SentimentError(f"Could not load version {version} (see the server log)."
                                 ) from exc
        finally:
            sys.path[:] = saved
    return loaded.unwrap_python_model()


def spark_udf(spark: Any, version: str, result_type: str, settings: Settings) -> Any:
    """A Spark UDF of one version (``mlflow.pyfunc.spark_udf``) that runs in this
    interpreter's packages (``env_manager="local"``) on every executor."""
    import mlflow

    fluent(settings)
    return mlflow.pyfunc.spark_udf(spark, f"models:/{settings.model_name}/{version}",
                                   result_type=result_type, env_manager="local")


# ---- the MLflow UI ---------------------------------------------------------------------

UI_PREFIX = "/mlflow"


def ui_link(settings: Settings) -> str:
    """Where an admin opens the MLflow UI of this registry: the remote server when
    MLFLOW_TRACKING_URI is one, else the UI mounted beside the app."""
    uri = settings.tracking_uri
    return uri if uri.startswith(("http://", "https://")) else f"{UI_PREFIX}/"


def ui_app(settings: Settings) -> Any:
    """MLflow's own server app (Flask, as ASGI) on this registry, serving under
    :data:`UI_PREFIX`. Built on first use: MLflow reads its store and prefix from the
    environment when ``mlflow.server`` is imported."""
    import os
    import sys

    from a2wsgi import WSGIMiddleware

    if "mlflow.server" in sys.modules and \
            os.environ.get("_MLFLOW_STATIC_PREFIX") != UI_PREFIX:
        raise SentimentError("The MLflow UI cannot be mounted: mlflow.server was imported "
                             "before its prefix was set.")
    os.environ.update({"_MLFLOW_STATIC_PREFIX": UI_PREFIX,
                       "_MLFLOW_SERVER_FILE_STORE": settings.tracking_uri,
                       "_MLFLOW_SERVER_REGISTRY_STORE": settings.tracking_uri,
                       "_MLFLOW_SERVER_ARTIFACT_ROOT": settings.artifact_root})
    # Mounted behind the app's own door (admin sign-in, origin check), MLflow's host check
    # would refuse every host name but localhost (403 Invalid Host header on a domain).
    os.environ.setdefault("MLFLOW_SERVER_ALLOWED_HOSTS", "*")
    from mlflow.server import app as flask_app

    return WSGIMiddleware(flask_app)
