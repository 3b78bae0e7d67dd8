"""Tweet sentiment: the whole ML lifecycle in one Gradio app (thin edge over ``sentiment``).

Tabs: Predict, Data, Train, Validate, Models, Monitor. Every SPEC endpoint is wired with
its ``api_name``; admin actions check the caller inside the handler, so an HTTP call
that skips the UI is refused too. Run with ``python app.py``.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from typing import Any

from sentiment.config import apply_offline_defaults, get_settings

apply_offline_defaults()

import gradio as gr  # noqa: E402 - telemetry must be off before gradio is imported
import pandas as pd  # noqa: E402

from sentiment import dashboard, lifecycle  # noqa: E402
from sentiment.errors import SentimentError  # noqa: E402
from sentiment.models import available_types, get_model_type  # noqa: E402
from sentiment.service import SentimentService  # noqa: E402

log = logging.getLogger("app")
SETTINGS = get_settings()
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


def _user_error(exc: Exception) -> gr.Error:
    return gr.Error(str(exc), print_exception=False)


def require_admin(request: gr.Request | None) -> str:
    """The admin's name, or a refusal when auth is on and the caller is not the admin."""
    if not SETTINGS.auth_enabled:
        return "local"
    user = getattr(request, "username", None)
    if user != SETTINGS.admin_user:
        raise gr.Error(f"Admin only: {user or 'an anonymous caller'} may not do this.",
                       print_exception=False)
    return user


def check_login(username: str, password: str) -> bool:
    """Admin or viewer credentials (constant-time comparison)."""
    expected = SETTINGS.admin_password if username == SETTINGS.admin_user else \
        SETTINGS.viewers.get(username)
    return expected is not None and hmac.compare_digest(password.encode(), expected.encode())


# ---- Predict ---------------------------------------------------------------------------


def _source(request: gr.Request | None) -> str:
    """'api' for gradio_client and other programs, 'ui' for the browser page."""
    headers = getattr(request, "headers", None) or {}
    agent = str(headers.get("user-agent", ""))
    return "ui" if agent.startswith("Mozilla") and "x-gradio-user" not in headers else "api"


def predict(text: str, request: gr.Request = None) -> tuple[dict, dict, dict]:
    """Label with both confidences, then details (model, version, latency)."""
    if not _ready.is_set():
        _ready.wait(timeout=120)
    try:
        result = service().predict(text, source=_source(request))
    except SentimentError as exc:
        raise _user_error(exc) from exc
    details = {k: result[k] for k in ("label", "proba_positive", "model_name", "version",
                                      "model_type", "latency_ms", "prediction_id")}
    return result["confidences"], details, {"text": text, **details}


def predict_batch(file: str | None) -> tuple[str, dict]:
    """Classify every row of an uploaded CSV; return the result CSV and a summary."""
    if not file:
        raise gr.Error("Upload a CSV file with a text column.", print_exception=False)
    try:
        path, summary, _ = service().predict_file(file)
    except SentimentError as exc:
        raise _user_error(exc) from exc
    return path, summary


def batch_preview(file: str | None) -> pd.DataFrame:
    """First rows of the result CSV (for the UI)."""
    return pd.read_csv(file, nrows=20, dtype=str) if file else pd.DataFrame()


def feedback(text: str, predicted_label: str, is_correct: bool) -> str:
    """Record whether a prediction was correct."""
    try:
        return service().feedback(text, predicted_label, bool(is_correct))["message"]
    except SentimentError as exc:
        raise _user_error(exc) from exc


def feedback_from_ui(last: dict | None, is_correct: bool) -> str:
    """The thumbs buttons: feedback on this user's own last prediction."""
    if not last:
        raise gr.Error("Predict a text first.", print_exception=False)
    result = service().feedback(last["text"], last["label"], is_correct,
                                prediction_id=last.get("prediction_id"))
    return result["message"]


# ---- Data ------------------------------------------------------------------------------


def _upload(file: str | None, role: str, request: gr.Request | None) -> dict:
    require_admin(request)
    if not file:
        raise gr.Error("Choose a CSV file to upload.", print_exception=False)
    try:
        return lifecycle.ingest(file, role, SETTINGS)
    except SentimentError as exc:
        raise _user_error(exc) from exc


def upload_training(file: str | None, request: gr.Request = None) -> dict:
    """Ingest a labelled CSV as a training dataset (admin)."""
    return _upload(file, "training", request)


def upload_validation(file: str | None, request: gr.Request = None) -> dict:
    """Ingest a labelled CSV as a validation dataset (admin)."""
    return _upload(file, "validation", request)


def datasets() -> pd.DataFrame:
    """Table of ingested datasets."""
    return pd.DataFrame(lifecycle.datasets_table(SETTINGS))


def refresh_datasets() -> pd.DataFrame:
    """Same as /datasets, for the UI's own refreshes (a private event)."""
    return datasets()


def refresh_models() -> pd.DataFrame:
    """Same as /models, for the UI's own refreshes (a private event)."""
    return models()


def dataset_preview(summary: dict | None) -> pd.DataFrame:
    return pd.DataFrame((summary or {}).get("preview", []))


def _choices(role: str) -> list[tuple[str, str]]:
    return [(f"{d['source']} ({d['rows_kept']} rows, {d['dataset_id'][:8]})", d["dataset_id"])
            for d in lifecycle.datasets_table(SETTINGS) if d["dataset_type"] == role]


def _version_choices() -> list[tuple[str, str]]:
    return [(f"v{m['version']} {m['model_type']} ({m['status']})", m["version"])
            for m in lifecycle.models_table(SETTINGS)]


def refresh_choices() -> tuple[Any, ...]:
    """Dataset and version pickers, refreshed after any change."""
    versions = _version_choices()
    return (gr.update(choices=_choices("jdd entrainement")),
            gr.update(choices=[("(none: from scratch)", "")] + versions),
            gr.update(choices=versions), gr.update(choices=_choices("jdd validation")),
            gr.update(choices=versions))


# ---- Train -----------------------------------------------------------------------------


def default_hyperparameters(model_type: str) -> tuple[str, str]:
    """The type's hyperparameters with defaults (JSON) and their help."""
    kind = get_model_type(model_type)
    values = {p.name: p.default for p in kind.hyperparams}
    help_text = "\n".join(f"- `{p.name}` (default {p.default!r}): {p.help}"
                          for p in kind.hyperparams)
    return json.dumps(values, indent=2), f"**{kind.title}**: {kind.description}\n\n{help_text}"


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


def train(model_type: str, dataset_id: str, base_version: str | None = None,
          hyperparameters: str = "{}", request: gr.Request = None,
          progress: gr.Progress = gr.Progress()) -> dict:  # noqa: B008 - Gradio's pattern
    """Train a new version (admin); it is registered as 'à valider'."""
    require_admin(request)
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
    except SentimentError as exc:
        raise _user_error(exc) from exc


def cancel_training(request: gr.Request = None) -> str:
    """Ask this user's running training to stop (nothing will be registered)."""
    session = getattr(request, "session_hash", None) or "api"
    _cancelled.setdefault(session, threading.Event()).set()
    return "Cancelling: the training stops at the next checkpoint and registers nothing."


def confusion_plot(result: dict | None) -> Any:
    """Confusion matrix of a training or validation result."""
    from sentiment.reports import confusion_figure

    metrics = (result or {}).get("metrics")
    if not metrics or "tn" not in metrics:
        return None
    return confusion_figure(metrics, f"version {result.get('version', '')}")


# ---- Validate / Models -----------------------------------------------------------------


def validate(version: str, dataset_id: str | list[str], min_accuracy: float | None = None,
             auto_promote: bool = False, request: gr.Request = None) -> dict:
    """Validate a version on one or several validation datasets (ids as a list or separated
    by commas) against the bar; the gate must hold on each (admin)."""
    require_admin(request)
    if not version or not dataset_id:
        raise gr.Error("Choose a version and a validation dataset.", print_exception=False)
    try:
        result = lifecycle.validate(version, dataset_id, min_accuracy, bool(auto_promote),
                                    SETTINGS)
    except SentimentError as exc:
        raise _user_error(exc) from exc
    if result["promoted"]:
        _serve_latest()
    return result


COMPARED = ("balanced_accuracy", "accuracy", "macro_f1", "f1", "precision", "recall",
            "recall_negative", "recall_positive", "predicted_positive_rate",
            "actual_positive_rate", "roc_auc")


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


def validation_gallery(result: dict | None) -> list[tuple[str, str]]:
    """Confusion matrices, ROC and precision-recall curves of the validation runs."""
    if not result:
        return []
    try:
        return lifecycle.validation_images(result, SETTINGS)
    except SentimentError as exc:
        raise _user_error(exc) from exc


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


def models_tick(last_status: str | None) -> tuple[Any, Any, str]:
    """Timer: refresh the challenger line always, the table when the challenger moves."""
    state = lifecycle.challenger_status(SETTINGS) or {}
    now = f"{state.get('status')}:{state.get('version', '')}"
    busy = state.get("status") in ("training", "validating")
    table = models() if busy or now != last_status else gr.skip()
    return challenger_line(state), table, now


def promote(version: str, force: bool = False, request: gr.Request = None) -> dict:
    """Promote a validated version to production (admin; force records who forced it)."""
    user = require_admin(request)
    if not version:
        raise gr.Error("Choose a version to promote.", print_exception=False)
    try:
        result = lifecycle.promote(version, bool(force), user, SETTINGS)
    except SentimentError as exc:
        raise _user_error(exc) from exc
    _serve_latest()
    return result


def rollback(request: gr.Request = None) -> dict:
    """Move production back to the previous production version (admin)."""
    require_admin(request)
    try:
        result = lifecycle.rollback(SETTINGS)
    except SentimentError as exc:
        raise _user_error(exc) from exc
    _serve_latest()
    return result


def models() -> pd.DataFrame:
    """Table of model versions with tags, metrics and which is production."""
    return pd.DataFrame(lifecycle.models_table(SETTINGS))


def monitoring() -> dict:
    """Feedback and alert summary."""
    return dashboard.summary(SETTINGS)


def monitor_views() -> tuple[Any, ...]:
    """Everything the Monitor tab shows (plots, tables, drift)."""
    series = dashboard.timeseries(SETTINGS)
    try:
        drift = dashboard.drift(SETTINGS)
    except SentimentError as exc:
        drift = {"status": f"unavailable: {exc}"}
    alerts = dashboard.alerts(SETTINGS)
    return (dashboard.summary(SETTINGS), series, series, series,
            dashboard.accuracy_by_version(SETTINGS), alerts,
            dashboard.wrong_predictions(SETTINGS, limit=50), drift)


def export_log() -> str:
    return dashboard.export_predictions(SETTINGS)


def export_corrections() -> str:
    return dashboard.export_corrections(SETTINGS)


# ---- Layout ----------------------------------------------------------------------------

ADMIN = {"concurrency_id": "admin", "concurrency_limit": 1}
PRIVATE = {"api_visibility": "private"}
OPEN_NOTE = ("**Open demo mode:** no admin password is set (`SENTIMENT_ADMIN_PASSWORD`), so "
             "anyone who can reach this page may upload, train and promote.")

with gr.Blocks(title="Tweet sentiment") as demo:
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
        hyper_in = gr.Code(default_hyperparameters(types[0])[0], language="json",
                           label="hyperparameters")
        hyper_help = gr.Markdown(default_hyperparameters(types[0])[1])
        with gr.Row():
            train_btn = gr.Button("Train", variant="primary")
            stop_btn = gr.Button("Stop")
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
    right_btn.click(lambda last: feedback_from_ui(last, True), last_prediction, feedback_out,
                    **PRIVATE)
    wrong_btn.click(lambda last: feedback_from_ui(last, False), last_prediction, feedback_out,
                    **PRIVATE)
    fb_correct.change(feedback, [fb_text, fb_label, fb_correct], fb_ack, api_name="feedback")
    batch_btn.click(predict_batch, batch_in, [batch_file, batch_summary],
                    api_name="predict_batch", concurrency_limit=2).then(
        batch_preview, batch_file, batch_table, **PRIVATE)

    pickers = [train_ds, base_in, val_version, val_ds, promote_version]
    for button, handler, upload_in, name in ((up_train_btn, upload_training, train_file,
                                              "upload_training"),
                                             (up_val_btn, upload_validation, val_file,
                                              "upload_validation")):
        uploaded = button.click(handler, upload_in, upload_summary, api_name=name, **ADMIN)
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
    stop_btn.click(cancel_training, None, train_result, **PRIVATE)

    validated = validate_btn.click(validate, [val_version, val_ds, min_acc, auto_in],
                                   validate_result, api_name="validate", **ADMIN)
    validated.then(comparison, validate_result, compare_table, **PRIVATE)
    validated.then(validation_gallery, validate_result, validate_gallery, **PRIVATE)
    validated.then(refresh_models, None, models_table, **PRIVATE)

    models_btn.click(models, None, models_table, api_name="models")
    promoted = promote_btn.click(promote, [promote_version, force_in], lifecycle_result,
                                 api_name="promote", **ADMIN)
    promoted.then(refresh_models, None, models_table, **PRIVATE)
    rolled_back = rollback_btn.click(rollback, None, lifecycle_result, api_name="rollback",
                                     **ADMIN)
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
    demo.load(lambda: challenger_line(), None, challenger_md, **PRIVATE)
    models_timer.tick(models_tick, challenger_seen, [challenger_md, models_table,
                                                     challenger_seen], **PRIVATE)


def main() -> None:
    """Bootstrap the default model in the background and serve the app."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    bootstrap_in_background()
    demo.queue(default_concurrency_limit=8).launch(
        auth=check_login if SETTINGS.auth_enabled else None,
        auth_message="Sign in: the admin may train and promote; viewers may predict.",
        max_file_size=SETTINGS.max_upload_bytes, show_error=True, ssr_mode=False)


if __name__ == "__main__":
    main()
