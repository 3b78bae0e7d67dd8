"""Tweet sentiment: the whole ML lifecycle in one Gradio app (thin edge over ``sentiment``).

Tabs: Predict, Data, Train, Validate, Models, Monitor. Every SPEC endpoint is wired with
its ``api_name``; admin actions check the caller inside the handler, so an HTTP call
that skips the UI is refused too. Run with ``python app.py``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

from sentiment.config import (
    SettingsError,
    apply_offline_defaults,
    check_writable,
    get_settings,
    is_postgres,
)

apply_offline_defaults()

import gradio as gr  # noqa: E402 - telemetry must be off before gradio is imported
import pandas as pd  # noqa: E402

import security  # noqa: E402
from sentiment import dashboard, lifecycle  # noqa: E402
from sentiment.errors import CancelledError, SentimentError  # noqa: E402
from sentiment.models import available_types, get_model_type  # noqa: E402
from sentiment.service import SentimentService, registry_note  # noqa: E402

log = logging.getLogger("app")
try:
    SETTINGS = get_settings()
except SettingsError as _exc:  # one clear line, not a traceback
    sys.exit(f"error: {_exc}")
EXAMPLES = ["I love this airline, the crew was amazing!", "Worst flight ever. Lost my bag again.",
            "@united thanks for the quick rebooking :)", "3 hours on the tarmac and no updates..."]
_service: SentimentService | None = None
_service_lock = threading.Lock()
_ready = threading.Event()  # cleared only while a first-start bootstrap runs
_ready.set()
_cancelled: dict[str, threading.Event] = {}  # per session: the Stop button of a training


def service() -> SentimentService:
    """The process-wide prediction service (shared model cache and monitoring store)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = SentimentService(SETTINGS)
        return _service


def bootstrap_in_background() -> threading.Thread:
    """First start without blocking the page: stage 1 (the baseline, so predictions work
    within a minute), then stage 2 (the challenger, promoted only if it wins)."""
    def run() -> None:
        try:
            result = lifecycle.bootstrap_baseline(SETTINGS, log=log.info)
            log.info(result["message"])
            service().server.snapshot()  # load the production model before the first request
        except SentimentError:
            log.exception("bootstrap failed")
        finally:
            _ready.set()
        try:
            outcome = lifecycle.bootstrap_challenger(SETTINGS, log=log.info)
            log.info(outcome["message"])
            if outcome.get("promoted"):
                _serve_latest()
        except SentimentError:
            log.exception("the first-start challenger failed; the baseline stays in production")
    _ready.clear()
    thread = threading.Thread(target=run, daemon=True, name="bootstrap")
    thread.start()
    return thread


def _serve_latest() -> None:
    """After a promotion or rollback here, swap the served model now (other processes
    notice within SENTIMENT_RELOAD_CHECK_SECONDS)."""
    try:
        service().server.refresh()
    except SentimentError:
        log.exception("the new production version could not be loaded yet")


def viewer(fn: Any) -> Any:
    """Handler any signed-in user (anyone, in the open demo) may call."""
    return security.guarded("viewer", lambda: SETTINGS)(fn)


def admin(fn: Any) -> Any:
    """Handler only the admin may call (when a password is configured)."""
    return security.guarded("admin", lambda: SETTINGS)(fn)


def check_login(username: str, password: str) -> bool:
    """Admin or viewer credentials, throttled per client and per user."""
    return security.check_login(username, password, SETTINGS)


# ---- Predict ---------------------------------------------------------------------------


def _source(request: gr.Request | None) -> str:
    """'api' for gradio_client and other programs, 'ui' for the browser page."""
    headers = getattr(request, "headers", None) or {}
    agent = str(headers.get("user-agent", ""))
    return "ui" if agent.startswith("Mozilla") and "x-gradio-user" not in headers else "api"


def _owner(request: gr.Request | None) -> str:
    """Who asked: the signed-in user, else the browser session (for per-user files)."""
    return getattr(request, "username", None) or getattr(request, "session_hash", None) or "api"


@viewer
def predict(text: str, request: gr.Request = None) -> tuple[dict, dict, dict]:
    """Label with both confidences, then details (model, version, latency)."""
    if not _ready.is_set():
        _ready.wait(timeout=120)
    result = service().predict(text, source=_source(request))
    details = {k: result[k] for k in ("label", "proba_positive", "model_name", "version",
                                      "model_type", "latency_ms", "prediction_id")}
    if result.get("logging") != "ok":
        details["logging"] = result["logging"]
    if result.get("registry") != "ok":
        details["registry"] = result["registry"]
    return result["confidences"], details, {"text": text, **details}


@viewer
def predict_batch(file: str | None, request: gr.Request = None) -> tuple[str, dict]:
    """Classify every row of an uploaded CSV; return the result CSV and a summary."""
    if not file:
        raise gr.Error("Upload a CSV file with a text column.", print_exception=False)
    path, summary, _ = service().predict_file(file, owner=_owner(request))
    return path, summary


@viewer
def batch_preview(file: str | None) -> pd.DataFrame:
    """First rows of the result CSV (for the UI)."""
    return pd.read_csv(file, nrows=20, dtype=str) if file else pd.DataFrame()


@viewer
def feedback(text: str, predicted_label: str, is_correct: bool) -> str:
    """Record whether a prediction was correct."""
    return service().feedback(text, predicted_label, bool(is_correct))["message"]


def _feedback_on_last(last: dict | None, is_correct: bool) -> str:
    if not last:
        raise gr.Error("Predict a text first.", print_exception=False)
    return service().feedback(last["text"], last["label"], is_correct,
                              prediction_id=last.get("prediction_id"))["message"]


@viewer
def mark_correct(last: dict | None) -> str:
    """The thumbs-up button: this user's own last prediction was right."""
    return _feedback_on_last(last, True)


@viewer
def mark_wrong(last: dict | None) -> str:
    """The thumbs-down button: this user's own last prediction was wrong."""
    return _feedback_on_last(last, False)


# ---- Data ------------------------------------------------------------------------------


def _upload(file: str | None, role: str) -> dict:
    if not file:
        raise gr.Error("Choose a CSV file to upload.", print_exception=False)
    return lifecycle.ingest(file, role, SETTINGS)


@admin
def upload_training(file: str | None) -> dict:
    """Ingest a labelled CSV as a training dataset (admin)."""
    return _upload(file, "training")


@admin
def upload_validation(file: str | None) -> dict:
    """Ingest a labelled CSV as a validation dataset (admin)."""
    return _upload(file, "validation")


def _datasets_frame() -> pd.DataFrame:
    return pd.DataFrame(lifecycle.datasets_table(SETTINGS))


def _models_frame() -> pd.DataFrame:
    """The versions table; when the registry is unreachable, say so at once (the watcher
    knows) instead of waiting on MLflow's retries."""
    state = service().server.registry_status()
    if not state["reachable"]:
        raise SentimentError(registry_note(state))
    return pd.DataFrame(lifecycle.models_table(SETTINGS))


@viewer
def datasets() -> pd.DataFrame:
    """Table of ingested datasets."""
    return _datasets_frame()


@viewer
def refresh_datasets() -> pd.DataFrame:
    """Same as /datasets, for the UI's own refreshes (a private event)."""
    return _datasets_frame()


@viewer
def refresh_models() -> pd.DataFrame:
    """Same as /models, for the UI's own refreshes (a private event)."""
    return _models_frame()


@viewer
def dataset_preview(summary: dict | None) -> pd.DataFrame:
    return pd.DataFrame((summary or {}).get("preview", []))


def _choices(role: str) -> list[tuple[str, str]]:
    return [(f"{d['source']} ({d['rows_kept']} rows, {d['dataset_id'][:8]})", d["dataset_id"])
            for d in lifecycle.datasets_table(SETTINGS) if d["dataset_type"] == role]


def _version_choices() -> list[tuple[str, str]]:
    return [(f"v{m['version']} {m['model_type']} ({m['status']})", m["version"])
            for m in lifecycle.models_table(SETTINGS)]


@viewer
def refresh_choices() -> tuple[Any, ...]:
    """Dataset and version pickers, refreshed after any change."""
    versions = _version_choices()
    return (gr.update(choices=_choices("jdd entrainement")),
            gr.update(choices=[("(none: from scratch)", "")] + versions),
            gr.update(choices=versions), gr.update(choices=_choices("jdd validation")),
            gr.update(choices=versions))


# ---- Train -----------------------------------------------------------------------------


def hyperparameter_defaults(model_type: str) -> tuple[str, str]:
    """The type's hyperparameters with defaults (JSON) and their help."""
    kind = get_model_type(model_type)
    values = {p.name: p.default for p in kind.hyperparams}
    help_text = "\n".join(f"- `{p.name}` (default {p.default!r}): {p.help}"
                          for p in kind.hyperparams)
    return json.dumps(values, indent=2), f"**{kind.title}**: {kind.description}\n\n{help_text}"


default_hyperparameters = viewer(hyperparameter_defaults)


def _parse_hyper(hyperparameters: str | dict | None) -> dict:
    if isinstance(hyperparameters, dict):
        return hyperparameters
    if not hyperparameters or not str(hyperparameters).strip():
        return {}
    try:
        value = json.loads(hyperparameters)
    except json.JSONDecodeError as exc:
        raise gr.Error(f"hyperparameters must be a JSON object: {exc}",
                       print_exception=False) from exc
    if not isinstance(value, dict):
        raise gr.Error("hyperparameters must be a JSON object.", print_exception=False)
    return value


@admin
def train(model_type: str, dataset_id: str, base_version: str | None = None,
          hyperparameters: str = "{}", request: gr.Request = None,
          progress: gr.Progress = gr.Progress()) -> dict:  # noqa: B008 - Gradio's pattern
    """Train a new version (admin); it is registered as 'à valider'. A training stopped
    with the Stop button returns ``status: stopped`` (its run ends KILLED)."""
    if not dataset_id:
        raise gr.Error("Choose a training dataset.", print_exception=False)
    session = getattr(request, "session_hash", None) or "api"
    stop = _cancelled.setdefault(session, threading.Event())
    stop.clear()
    try:
        return lifecycle.train(model_type, dataset_id, base_version or None,
                               _parse_hyper(hyperparameters),
                               progress=lambda f, m: progress(f, desc=m),
                               should_stop=stop.is_set, settings=SETTINGS)
    except CancelledError:
        return {"status": "stopped", "version": None,
                "message": "Training stopped: its run ended KILLED and nothing was registered."}


@admin
def cancel_training(request: gr.Request = None) -> str:
    """Ask this user's running training to stop (nothing will be registered)."""
    session = getattr(request, "session_hash", None) or "api"
    _cancelled.setdefault(session, threading.Event()).set()
    return "Stopping: the training stops at its next checkpoint and registers nothing."


@viewer
def train_status(result: dict | None) -> str:
    """One line under the Train button once a training ended."""
    if not result:
        return ""
    if result.get("status") == "stopped":
        return "**Stopped.** " + result["message"]
    return f"Registered version {result.get('version')} ({result.get('status', '')})."


@viewer
def confusion_plot(result: dict | None) -> Any:
    """Confusion matrix of a training or validation result."""
    from sentiment.reports import confusion_figure

    metrics = (result or {}).get("metrics")
    if not metrics or "tn" not in metrics:
        return None
    return confusion_figure(metrics, f"version {result.get('version', '')}")


# ---- Validate / Models -----------------------------------------------------------------


@admin
def validate(version: str, dataset_id: str | list[str], min_accuracy: float | None = None,
             auto_promote: bool = False) -> dict:
    """Validate a version on one or several validation datasets (ids as a list or separated
    by commas) against the bar; the gate must hold on each (admin)."""
    if not version or not dataset_id:
        raise gr.Error("Choose a version and a validation dataset.", print_exception=False)
    result = lifecycle.validate(version, dataset_id, min_accuracy, bool(auto_promote),
                                SETTINGS)
    if result["promoted"]:
        _serve_latest()
    return result


COMPARED = ("balanced_accuracy", "accuracy", "macro_f1", "f1", "precision", "recall",
            "recall_negative", "recall_positive", "predicted_positive_rate",
            "actual_positive_rate", "roc_auc")


@viewer
def comparison(result: dict | None) -> pd.DataFrame:
    """The version's metrics beside production's on the same data, per dataset."""
    if not result:
        return pd.DataFrame()
    rows = []
    for check in result.get("datasets", []):
        prod = check.get("production_metrics") or {}
        for name in COMPARED:
            rows.append({"dataset": check["dataset"], "metric": name,
                         f"v{result['version']}": round(check["metrics"][name], 4),
                         "production": round(prod[name], 4) if name in prod else None,
                         "gate": "yes" if name == result.get("gate_metric") else ""})
    return pd.DataFrame(rows)


@viewer
def validation_gallery(result: dict | None) -> list[tuple[str, str]]:
    """Confusion matrices, ROC and precision-recall curves of the validation runs."""
    return lifecycle.validation_images(result, SETTINGS) if result else []


def challenger_line(state: dict | None = None) -> str:
    """One line on the first-start challenger (stage 2), for the Models tab."""
    state = state or lifecycle.challenger_status(SETTINGS)
    if SETTINGS.bootstrap_challenger == "none" and not state:
        return "First-start challenger: off (`SENTIMENT_BOOTSTRAP_CHALLENGER=none`)."
    if not state:
        return "First-start challenger: not started yet."
    progress = float(state.get("progress") or 0)
    return (f"First-start challenger ({state.get('model_type', '')}): **{state['status']}**"
            + (f", {progress:.0%}" if state["status"] == "training" else "")
            + f" - {state.get('message', '')}")


@viewer
def challenger_now() -> str:
    """The challenger line at page load."""
    return challenger_line()


@viewer
def models_tick(last_status: str | None) -> tuple[Any, Any, str]:
    """Timer: refresh the challenger line always, the table when the challenger moves."""
    state = lifecycle.challenger_status(SETTINGS) or {}
    registry_state = service().server.registry_status()
    if not registry_state["reachable"]:  # said on the tab while it lasts, table kept
        return f"**{registry_note(registry_state)}**", gr.skip(), "unreachable"
    now = f"{state.get('status')}:{state.get('version', '')}"
    busy = state.get("status") in ("training", "validating")
    table = _models_frame() if busy or now != last_status else gr.skip()
    return challenger_line(state), table, now


@admin
def promote(version: str, force: bool = False, request: gr.Request = None) -> dict:
    """Promote a validated version to production (admin; force records who forced it)."""
    if not version:
        raise gr.Error("Choose a version to promote.", print_exception=False)
    user = getattr(request, "username", None) or "local"
    result = lifecycle.promote(version, bool(force), user, SETTINGS)
    _serve_latest()
    return result


@admin
def rollback() -> dict:
    """Move production back to the previous production version (admin)."""
    result = lifecycle.rollback(SETTINGS)
    _serve_latest()
    return result


@viewer
def models() -> pd.DataFrame:
    """Table of model versions with tags, metrics and which is production."""
    return _models_frame()


@viewer
def monitoring() -> dict:
    """Feedback and alert summary."""
    return dashboard.summary(SETTINGS)


@admin
def monitor_views() -> tuple[Any, ...]:
    """Everything the Monitor tab shows (plots, tables, drift); admin, since the tables
    hold other users' texts."""
    series = dashboard.timeseries(SETTINGS)
    try:
        drift = dashboard.drift(SETTINGS)
    except SentimentError as exc:
        drift = {"status": f"unavailable: {exc}"}
    alerts = dashboard.alerts(SETTINGS)
    return (dashboard.summary(SETTINGS), series, series, series,
            dashboard.accuracy_by_version(SETTINGS), alerts,
            dashboard.wrong_predictions(SETTINGS, limit=50), drift)


@admin
def export_log(request: gr.Request = None) -> str:
    """The prediction log as CSV (admin: it holds every user's texts)."""
    return dashboard.export_predictions(SETTINGS, owner=_owner(request))


@admin
def export_corrections(request: gr.Request = None) -> str:
    """Verified corrections as a training CSV (admin)."""
    return dashboard.export_corrections(SETTINGS, owner=_owner(request))


# ---- Layout ----------------------------------------------------------------------------

ADMIN = {"concurrency_id": "admin", "concurrency_limit": 1}  # training and validation
DATA = {"concurrency_id": "data", "concurrency_limit": 2}  # uploads
# Promote and rollback have their own lane: an emergency rollback never waits for a training.
SWITCH = {"concurrency_id": "switch", "concurrency_limit": 1}
PRIVATE = {"api_visibility": "private"}
OPEN_NOTE = ("**Open demo mode:** no admin password is set (`SENTIMENT_ADMIN_PASSWORD`), so "
             "anyone who can reach this page may upload, train and promote.")

# Gradio's copies of uploads and result files expire like ours (sentiment.results).
_TTL = int(SETTINGS.result_ttl_seconds)
with gr.Blocks(title="Tweet sentiment", delete_cache=(max(60, _TTL // 4), _TTL)) as demo:
    gr.Markdown("# Tweet sentiment\nPositive or negative, with a confidence; and the whole "
                "model lifecycle: data, training, validation, promotion, monitoring.")
    if not SETTINGS.auth_enabled:
        gr.Markdown(OPEN_NOTE)
    last_prediction = gr.State(None)

    with gr.Tab("Predict"):
        with gr.Row():
            with gr.Column():
                text_in = gr.Textbox(label="Tweet or review", lines=3,
                                     max_length=SETTINGS.max_text_chars)
                predict_btn = gr.Button("Analyse", variant="primary")
                gr.Examples(EXAMPLES, inputs=text_in)
            with gr.Column():
                label_out = gr.Label(label="Sentiment", num_top_classes=2)
                details_out = gr.JSON(label="Details")
                with gr.Row():
                    right_btn = gr.Button("Correct", size="sm")
                    wrong_btn = gr.Button("Wrong", size="sm")
                feedback_out = gr.Markdown()
        with gr.Accordion("Batch: classify a CSV file", open=False):
            batch_in = gr.File(label="CSV with a text column", file_types=[".csv"])
            batch_btn = gr.Button("Classify file")
            batch_file = gr.File(label="Results (CSV)")
            batch_summary = gr.JSON(label="Summary")
            batch_table = gr.Dataframe(label="Preview")
        with gr.Row(visible=False):
            fb_text, fb_label = gr.Textbox(), gr.Textbox()
            fb_correct, fb_ack = gr.Checkbox(), gr.Textbox()

    with gr.Tab("Data"):
        with gr.Row():
            train_file = gr.File(label="Training CSV", file_types=[".csv"])
            val_file = gr.File(label="Validation CSV", file_types=[".csv"])
        with gr.Row():
            up_train_btn = gr.Button("Upload training data")
            up_val_btn = gr.Button("Upload validation data")
        upload_summary = gr.JSON(label="Dataset summary")
        upload_preview = gr.Dataframe(label="Preview of the cleaned rows")
        datasets_btn = gr.Button("Refresh datasets", size="sm")
        datasets_table = gr.Dataframe(label="Ingested datasets")

    with gr.Tab("Train"):
        types = available_types()
        with gr.Row():
            type_in = gr.Dropdown(types, value=types[0], label="model_type")
            train_ds = gr.Dropdown([], label="dataset_id (training)", allow_custom_value=True)
            base_in = gr.Dropdown([], label="base_version (optional)", allow_custom_value=True)
        hyper_in = gr.Code(hyperparameter_defaults(types[0])[0], language="json",
                           label="hyperparameters")
        hyper_help = gr.Markdown(hyperparameter_defaults(types[0])[1])
        with gr.Row():
            train_btn = gr.Button("Train", variant="primary")
            stop_btn = gr.Button("Stop")
        train_note = gr.Markdown()
        train_result = gr.JSON(label="Result")
        train_plot = gr.Plot(label="Confusion matrix (held-out)")

    with gr.Tab("Validate"):
        with gr.Row():
            val_version = gr.Dropdown([], label="version", allow_custom_value=True)
            val_ds = gr.Dropdown([], label="dataset_id (validation: one or several)",
                                 allow_custom_value=True, multiselect=True)
            min_acc = gr.Number(SETTINGS.min_accuracy, label=f"min_accuracy (threshold on "
                                f"{SETTINGS.gate_metric})", minimum=0, maximum=1)
            auto_in = gr.Checkbox(False, label="auto_promote")
        validate_btn = gr.Button("Validate", variant="primary")
        validate_result = gr.JSON(label="Result")
        compare_table = gr.Dataframe(label="Side by side with production (same data)")
        validate_gallery = gr.Gallery(label="Confusion matrices, ROC and precision-recall "
                                      "curves (candidate beside production)", columns=3,
                                      height="auto")

    with gr.Tab("Models"):
        challenger_md = gr.Markdown()
        challenger_seen = gr.State(None)
        models_timer = gr.Timer(5)
        models_btn = gr.Button("Refresh", size="sm")
        models_table = gr.Dataframe(label="Model versions")
        with gr.Row():
            promote_version = gr.Dropdown([], label="version", allow_custom_value=True)
            force_in = gr.Checkbox(False, label="force (admin: promote without validation)")
            promote_btn = gr.Button("Promote", variant="primary")
            rollback_btn = gr.Button("Rollback")
        lifecycle_result = gr.JSON(label="Result")

    with gr.Tab("Monitor"):
        monitor_btn = gr.Button("Refresh", size="sm")
        monitor_summary = gr.JSON(label="Summary")
        with gr.Row():
            volume_plot = gr.LinePlot(x="time", y="predictions", title="Predictions per minute")
            latency_plot = gr.LinePlot(x="time", y="latency_ms", title="Mean latency (ms)")
            mix_plot = gr.LinePlot(x="time", y="positive_rate", title="Positive rate")
        accuracy_table = gr.Dataframe(label="Accuracy from feedback, per model version")
        drift_out = gr.JSON(label="Drift vs the production model's validation data")
        alerts_table = gr.Dataframe(label="Latest alerts")
        wrong_table = gr.Dataframe(label="Latest wrong predictions")
        with gr.Row():
            export_btn = gr.Button("Export prediction log (CSV)", size="sm")
            corrections_btn = gr.Button("Export corrections as training CSV", size="sm")
        export_file = gr.File(label="Export")

    # Events: SPEC endpoints first (api_name), UI-only steps private.
    predict_event = dict(fn=predict, inputs=text_in, outputs=[label_out, details_out,
                                                             last_prediction],
                         api_name="predict", concurrency_limit=16)
    predict_btn.click(**predict_event)
    text_in.submit(**{**predict_event, "api_name": False, **PRIVATE})
    right_btn.click(mark_correct, last_prediction, feedback_out, **PRIVATE)
    wrong_btn.click(mark_wrong, last_prediction, feedback_out, **PRIVATE)
    fb_correct.change(feedback, [fb_text, fb_label, fb_correct], fb_ack, api_name="feedback")
    batch_btn.click(predict_batch, batch_in, [batch_file, batch_summary],
                    api_name="predict_batch", concurrency_limit=2).then(
        batch_preview, batch_file, batch_table, **PRIVATE)

    pickers = [train_ds, base_in, val_version, val_ds, promote_version]
    for button, handler, upload_in, name in ((up_train_btn, upload_training, train_file,
                                              "upload_training"),
                                             (up_val_btn, upload_validation, val_file,
                                              "upload_validation")):
        uploaded = button.click(handler, upload_in, upload_summary, api_name=name, **DATA)
        uploaded.then(dataset_preview, upload_summary, upload_preview, **PRIVATE)
        uploaded.then(refresh_datasets, None, datasets_table, **PRIVATE)
        uploaded.then(refresh_choices, None, pickers, **PRIVATE)
    datasets_btn.click(datasets, None, datasets_table, api_name="datasets")

    type_in.change(default_hyperparameters, type_in, [hyper_in, hyper_help], **PRIVATE)
    trained = train_btn.click(train, [type_in, train_ds, base_in, hyper_in], train_result,
                              api_name="train", **ADMIN)
    trained.then(confusion_plot, train_result, train_plot, **PRIVATE)
    trained.then(refresh_choices, None, pickers, **PRIVATE)
    trained.then(refresh_models, None, models_table, **PRIVATE)
    trained.then(train_status, train_result, train_note, **PRIVATE)
    stop_btn.click(cancel_training, None, train_note, **PRIVATE)

    validated = validate_btn.click(validate, [val_version, val_ds, min_acc, auto_in],
                                   validate_result, api_name="validate", **ADMIN)
    validated.then(comparison, validate_result, compare_table, **PRIVATE)
    validated.then(validation_gallery, validate_result, validate_gallery, **PRIVATE)
    validated.then(refresh_models, None, models_table, **PRIVATE)

    models_btn.click(models, None, models_table, api_name="models")
    promoted = promote_btn.click(promote, [promote_version, force_in], lifecycle_result,
                                 api_name="promote", **SWITCH)
    promoted.then(refresh_models, None, models_table, **PRIVATE)
    rolled_back = rollback_btn.click(rollback, None, lifecycle_result, api_name="rollback",
                                     **SWITCH)
    rolled_back.then(refresh_models, None, models_table, **PRIVATE)

    monitor_btn.click(monitoring, None, monitor_summary, api_name="monitoring")
    monitor_btn.click(monitor_views, None, [monitor_summary, volume_plot, latency_plot, mix_plot,
                                            accuracy_table, alerts_table, wrong_table,
                                            drift_out], **PRIVATE)
    export_btn.click(export_log, None, export_file, **PRIVATE)
    corrections_btn.click(export_corrections, None, export_file, **PRIVATE)

    demo.load(refresh_choices, None, pickers, **PRIVATE)
    demo.load(refresh_datasets, None, datasets_table, **PRIVATE)
    demo.load(refresh_models, None, models_table, **PRIVATE)
    demo.load(challenger_now, None, challenger_md, **PRIVATE)
    models_timer.tick(models_tick, challenger_seen, [challenger_md, models_table,
                                                     challenger_seen], **PRIVATE)


def main() -> None:
    """Check the home is writable, bootstrap the default model in the background and
    serve the app (result files expire after SENTIMENT_RESULT_TTL_SECONDS)."""
    from starlette.middleware import Middleware

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        check_writable(SETTINGS.home)
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    if not SETTINGS.tracking_uri.startswith("sqlite:") and \
            not is_postgres(SETTINGS.database_url):
        log.warning("MLFLOW_TRACKING_URI is shared but SENTIMENT_DATABASE_URL is not: "
                    "lifecycle locks and monitoring hold for this replica only (README, "
                    "'Several replicas').")
    bootstrap_in_background()
    demo.queue(default_concurrency_limit=8).launch(
        auth=check_login if SETTINGS.auth_enabled else None,
        auth_message="Sign in: the admin may train and promote; viewers may predict.",
        max_file_size=SETTINGS.max_upload_bytes, show_error=False, ssr_mode=False,
        app_kwargs={"middleware": [Middleware(security.ClientAddress)]})


if __name__ == "__main__":
    main()
