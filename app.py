"""Tweet sentiment: the whole ML lifecycle in one Gradio app (thin edge over ``sentiment``).

Tabs: Predict, Data, Train, Validate, Models, Monitor. Every SPEC endpoint is wired with
its ``api_name``; admin actions check the caller inside the handler, so an HTTP call
that skips the UI is refused too. Run with ``python app.py``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
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

from sentiment import lifecycle  # noqa: E402
from sentiment.errors import CancelledError, SentimentError  # noqa: E402
from sentiment.infra import durable  # noqa: E402
from sentiment.models import available_types, get_model_type  # noqa: E402
from sentiment.monitoring import (  # noqa: E402
    dashboard,  # noqa: E402
    review,  # noqa: E402
)
from sentiment.serving import batch_lane  # noqa: E402
from sentiment.serving.service import SentimentService, registry_note  # noqa: E402
from sentiment.vocabulary import COMPARED, ROLE_WORDS, TRAINING, VALIDATION  # noqa: E402
from ui import security, summaries  # noqa: E402
from ui.text import I18N, t  # noqa: E402

log = logging.getLogger("app")
ROOT = Path(__file__).resolve().parent
try:
    SETTINGS = get_settings()
except SettingsError as _exc:  # one clear line, not a traceback
    sys.exit(f"error: {_exc}")
EXAMPLES = ["I love this airline, the crew was amazing!", "Worst flight ever. Lost my bag again.",
            "@united thanks for the quick rebooking :)", "3 hours on the tarmac and no updates..."]
security.upload_folder()  # Gradio's upload cache: a folder of this process
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


def _followed(previous: str | None, new: str) -> None:
    """The served version changed: make the registry's tags and history agree with the
    alias, and say so when the move was made outside the app (the MLflow UI)."""
    state = lifecycle.reconcile(SETTINGS)
    if state["moved_outside"]:
        log.warning("the production alias was moved outside the app (version %s -> %s); "
                    "tags and history now follow it", previous, new)


def bootstrap_in_background() -> threading.Thread:
    """First start without blocking the page: the registry repaired where a kill left it
    half-switched, then stage 1 (the baseline, so predictions work within a minute), then
    stage 2 (the challenger, promoted only if it wins)."""
    def run() -> None:
        try:
            lifecycle.reconcile(SETTINGS)
            service().server.on_move = _followed
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


def mlflow_link() -> str:
    """The MLflow UI of this registry: mounted at /mlflow/, or the remote server."""
    return lifecycle.mlflow_link(SETTINGS)


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
def predict_note(last: dict | None, request: gr.Request = None) -> str:
    """One line under the label: which model answered, and how fast."""
    if not last:
        return ""
    return summaries.phrase("answered", _lang(request), model=last["model_name"],
                            version=last["version"], model_type=last["model_type"],
                            ms=float(last["latency_ms"]))


@viewer
def predict_batch(file: str | None, request: gr.Request = None) -> tuple[str, dict]:
    """Classify every row of an uploaded CSV; return the result CSV and a summary."""
    if not file:
        raise gr.Error("Upload a CSV file with a text column.", print_exception=False)
    if batch_lane.uses_lane(file, SETTINGS):  # large files in a process of their own, one per user
        path, summary = batch_lane.score_in_lane(file, _owner(request), SETTINGS)
    else:
        path, summary, _ = service().predict_file(file, owner=_owner(request))
    return security.own_files(path), summary


@viewer
def batch_preview(file: str | None) -> Any:
    """First rows of the result CSV (for the UI)."""
    if not file:
        return gr.skip()
    return gr.update(value=pd.read_csv(file, nrows=20, dtype=str), visible=True)


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


# ---- Why this label --------------------------------------------------------------------


@viewer
def explain(text: str) -> tuple[dict, list, dict]:
    """The label, then each word with its weight towards positive (> 0) or negative (< 0),
    then the details (method, exact weights, model)."""
    result = service().explain(text)
    scale = max((abs(w) for w in result["weights"]), default=0.0) or 1.0
    pieces = [(piece, None if w is None else round(w / scale, 4)) for piece, w in
              result["pieces"]]
    details = {k: result[k] for k in ("label", "proba_positive", "version", "model_type",
                                      "method", "words", "rest", "log_odds")}
    return result["confidences"], pieces, details


# ---- Data ------------------------------------------------------------------------------


def _lang(request: gr.Request | None) -> str:
    """The browser's language for the summaries (en or fr)."""
    headers = getattr(request, "headers", None) or {}
    return summaries.language(headers.get("accept-language"))


def _upload(file: str | None, role: str, name: str | None) -> dict:
    if not file:
        raise gr.Error("Choose a CSV file to upload.", print_exception=False)
    return lifecycle.ingest(file, role, SETTINGS, name=name or None)


@admin
def upload_training(file: str | None, name: str | None = None) -> dict:
    """Ingest a labelled CSV as a training dataset named ``name`` (default: the file
    name) (admin)."""
    return _upload(file, "training", name)


@admin
def upload_validation(file: str | None, name: str | None = None) -> dict:
    """Ingest a labelled CSV as a validation dataset named ``name`` (admin)."""
    return _upload(file, "validation", name)


@viewer
def suggest_name(file: str | None) -> Any:
    """A chosen file proposes its name (without .csv) as the dataset's, to edit."""
    from sentiment.data.ingest import dataset_name

    return dataset_name(None, Path(file).name) if file else gr.skip()


@viewer
def upload_view(summary: dict | None, request: gr.Request = None) -> tuple[str, Any, Any]:
    """The upload's summary for people, its cleaned rows and its class balance."""
    if not summary:
        return "", gr.skip(), gr.skip()
    balance = pd.DataFrame({"class": ["positive", "negative"],
                            "rows": [summary.get("positive", 0), summary.get("negative", 0)]})
    return (summaries.upload(summary, _lang(request)),
            gr.update(value=pd.DataFrame(summary.get("preview", [])), visible=True),
            gr.update(value=balance, visible=True,
                      y_lim=[0, max(1, int(balance["rows"].max() * 1.1))]))




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
def refresh_datasets(request: gr.Request = None) -> tuple[pd.DataFrame, str]:
    """The datasets for people (name, role, rows, balance, origin, date), or what to do."""
    rows = lifecycle.datasets_table(SETTINGS)
    if not rows:
        return pd.DataFrame(), summaries.phrase("no_datasets", _lang(request))
    frame = pd.DataFrame([{
        "name": r["name"], "role": ROLE_WORDS.get(r["dataset_type"], r["dataset_type"]),
        "rows": r["rows_kept"], "dropped": r["rows_dropped"],
        "positive": f"{(r['positive_rate'] or 0):.0%}", "origin": r.get("origin") or "upload",
        "file": r["source"], "created": r["created"], "dataset_id": r["dataset_id"]}
        for r in rows])
    return frame, ""


def _models_view(lang: str = "en") -> tuple[pd.DataFrame, str]:
    rows = _models_frame()
    if rows.empty:
        return rows, summaries.phrase("no_models", lang)
    keep = [c for c in ("version", "production", "model_type", "status", "serving",
                        "progress", "validation_metric", "validation_score",
                        "val_balanced_accuracy", "training_dataset", "created") if c in rows]
    names = {d["dataset_id"]: d["name"] for d in lifecycle.datasets_table(SETTINGS)}
    view = rows[keep].copy()
    if "training_dataset" in view:
        view["training_dataset"] = view["training_dataset"].map(lambda i: names.get(i, i))
    view["production"] = view["production"].map(lambda p: "★ production" if p else "")
    return view, _moved_note(rows)


def _moved_note(rows: pd.DataFrame) -> str:
    """A line when the production version was put there outside the app (MLflow UI)."""
    if "moved_outside_app" not in rows:
        return ""
    moved = rows[rows["production"] & (rows["moved_outside_app"].fillna("") != "")]
    if moved.empty:
        return ""
    row = moved.iloc[0]
    return (f"**Version {row['version']} was put in production outside the app (MLflow UI) "
            f"on {row['moved_outside_app']}.** Tags and history follow the alias; check its "
            "validation score, and promote or roll back here to choose again.")


@viewer
def refresh_models(request: gr.Request = None) -> tuple[pd.DataFrame, str]:
    """The versions for people (the UI's own refreshes; /models keeps every column)."""
    return _models_view(_lang(request))


def _dataset_label(d: dict) -> str:
    return (f"{d['name']} · {d['rows_kept']:,} rows · {d['created'][:10]} · "
            f"{ROLE_WORDS.get(d['dataset_type'], d['dataset_type'])}")


def _choices(role: str) -> list[tuple[str, str]]:
    return [(_dataset_label(d), d["dataset_id"])
            for d in lifecycle.datasets_table(SETTINGS) if d["dataset_type"] == role]


def _version_label(m: dict) -> str:
    score = m.get("validation_score") or m.get("val_balanced_accuracy")
    score_text = f"{float(score):.2f}" if score not in (None, "") else "not validated"
    role = "production" if m.get("production") else m.get("status", "")
    return f"v{m['version']} · {m['model_type']} · {score_text} · {role}"


def _version_choices() -> list[tuple[str, str]]:
    return [(_version_label(m), m["version"]) for m in lifecycle.models_table(SETTINGS)
            if m.get("version")]


@viewer
def refresh_choices() -> tuple[Any, ...]:
    """Dataset and version pickers, refreshed after any change."""
    versions = _version_choices()
    return (gr.update(choices=_choices(TRAINING)),
            gr.update(choices=[("(none: from scratch)", "")] + versions),
            gr.update(choices=versions), gr.update(choices=_choices(VALIDATION)),
            gr.update(choices=versions))


# ---- Train -----------------------------------------------------------------------------


def hyperparameter_defaults(model_type: str) -> tuple[str, str]:
    """The type's hyperparameters with defaults (JSON) and its description."""
    kind = get_model_type(model_type)
    values = {p.name: p.default for p in kind.hyperparams}
    return json.dumps(values, indent=2), f"**{kind.title}**: {kind.description}"


default_hyperparameters = viewer(hyperparameter_defaults)


def hyperparameter_widget(param: Any) -> gr.components.Component:
    """The widget of one HyperParam: dropdown for choices, checkbox for booleans, slider
    for a bounded linear range, number otherwise (with its help and bounds)."""
    info = f"{param.help} (default {param.default!r})"
    common = {"label": param.name, "info": info, "value": param.default, "interactive": True}
    if param.choices:
        return gr.Dropdown(list(param.choices), **common)
    if isinstance(param.default, bool):
        return gr.Checkbox(**common)
    bounded = param.low is not None and param.high is not None
    if bounded and isinstance(param.default, int) and param.high - param.low <= 1000:
        return gr.Slider(param.low, param.high, step=1, **common)
    if bounded and isinstance(param.default, float) and param.low >= 0 and \
            (param.low == 0 or param.high / param.low <= 100):
        return gr.Slider(param.low, param.high, step=(param.high - param.low) / 100, **common)
    return gr.Number(minimum=param.low, maximum=param.high, **common)


@viewer
def widgets_to_json(values: dict) -> str:
    """The widgets' values (a dict keyed by widget) as the JSON hyperparameters that /train
    receives, in the type's order, ints kept as ints."""
    out = {}
    for widget, value in sorted(((w, v) for w, v in values.items() if hasattr(w, "param")),
                                key=lambda item: item[0].param_index):
        param = widget.param
        if isinstance(param.default, int) and not isinstance(param.default, bool) and \
                value is not None:
            value = int(round(float(value)))
        out[param.name] = value
    return json.dumps(out, indent=2)


@viewer
def show() -> Any:
    """Make the output visible (a file once it exists)."""
    return gr.update(visible=True)


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


_live: dict[str, dict] = {}  # per session: the running training's progress and epochs


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
    for finished in [k for k, v in list(_live.items()) if not v["running"]]:
        _live.pop(finished, None)  # only running trainings are kept
    live = _live[session] = {"fraction": 0.0, "message": "starting", "epochs": [],
                             "running": True}

    def report(fraction: float, message: str, metrics: dict | None = None) -> None:
        live.update(fraction=fraction, message=message)
        if metrics:
            live["epochs"].append(metrics)
        progress(fraction, desc=message)

    try:
        return lifecycle.train(model_type, dataset_id, base_version or None,
                               _parse_hyper(hyperparameters), progress=report,
                               should_stop=stop.is_set, settings=SETTINGS)
    except CancelledError:
        return {"status": "stopped", "version": None,
                "message": "Training stopped: its run ended KILLED and nothing was registered."}
    finally:
        live["running"] = False


def _epoch_frame(epochs: list[dict]) -> pd.DataFrame:
    rows = [{"epoch": e["epoch"], "metric": k, "value": float(v)} for e in epochs
            for k, v in e.items() if k != "epoch"]
    return pd.DataFrame(rows, columns=["epoch", "metric", "value"])


@viewer
def train_tick(request: gr.Request = None) -> tuple[Any, Any]:
    """Timer: this session's running training, its progress and metrics per epoch."""
    live = _live.get(getattr(request, "session_hash", None) or "api")
    if not live or not live["running"]:
        return gr.skip(), gr.skip()
    line = summaries.phrase("progress", _lang(request), fraction=live["fraction"],
                            message=live["message"])
    plot = gr.update(value=_epoch_frame(live["epochs"]), visible=bool(live["epochs"]))
    return line, plot


@admin
def cancel_training(request: gr.Request = None) -> str:
    """Ask this user's running training to stop (nothing will be registered)."""
    session = getattr(request, "session_hash", None) or "api"
    _cancelled.setdefault(session, threading.Event()).set()
    return summaries.phrase("stopping", _lang(request))


@viewer
def train_view(result: dict | None, request: gr.Request = None) -> tuple[str, Any]:
    """The training's outcome for people, and its final epoch curves (none for tfidf)."""
    if not result:
        return "", gr.skip()
    history = [{"epoch": i + 1, **row} for i, row in enumerate(result.get("history") or [])]
    plot = gr.update(value=_epoch_frame(history), visible=bool(history))
    return summaries.train(result, _lang(request)), plot


@viewer
def confusion_plot(result: dict | None) -> Any:
    """Confusion matrix of a training or validation result."""
    from sentiment.pipeline.reports import confusion_figure

    metrics = (result or {}).get("metrics")
    if not metrics or "tn" not in metrics:
        return gr.skip()
    return gr.update(value=confusion_figure(metrics, f"version {result.get('version', '')}"),
                     visible=True)


# ---- Validate / Models -----------------------------------------------------------------


@admin
def validate(version: str, dataset_id: str | list[str], min_accuracy: float | None = None,
             auto_promote: bool = False, request: gr.Request = None) -> dict:
    """Validate a version on one or several validation datasets (ids as a list or separated
    by commas) against the bar; the gate must hold on each (admin)."""
    if not version or not dataset_id:
        raise gr.Error("Choose a version and a validation dataset.", print_exception=False)
    result = lifecycle.validate(version, dataset_id, min_accuracy, bool(auto_promote),
                                SETTINGS)
    _validated[_caller_key(request)] = result  # the gallery reads it here, not from the page
    if result["promoted"]:
        _serve_latest()
    return result


_validated: dict[tuple[str, str], dict] = {}  # per signed-in user and session: last result


def _caller_key(request: gr.Request | None) -> tuple[str, str]:
    return (getattr(request, "username", None) or "local",
            getattr(request, "session_hash", None) or "api")


@viewer
def validate_view(result: dict | None, request: gr.Request = None) -> str:
    """Pass or fail with the reason, production beside it, per-class recall."""
    return summaries.validate(result, _lang(request)) if result else ""




@viewer
def comparison(result: dict | None) -> Any:
    """The version's metrics beside production's on the same data, per dataset."""
    if not result:
        return gr.skip()
    rows = []
    names = {d["dataset_id"]: d["name"] for d in lifecycle.datasets_table(SETTINGS)}
    for check in result.get("datasets", []):
        prod = check.get("production_metrics") or {}
        shown = names.get(check.get("dataset_id"), check["dataset"])
        for name in COMPARED:
            rows.append({"dataset": shown, "metric": name,
                         f"v{result['version']}": round(check["metrics"][name], 4),
                         "production": round(prod[name], 4) if name in prod else None,
                         "gate": "yes" if name == result.get("gate_metric") else ""})
    return gr.update(value=pd.DataFrame(rows), visible=True)


@admin
def validation_gallery(request: gr.Request = None) -> list[tuple[str, str]]:
    """Confusion matrices, ROC and precision-recall curves of this caller's last validation
    (kept on the server: paths never come from the caller)."""
    result = _validated.get(_caller_key(request))
    images = lifecycle.validation_images(result, SETTINGS) if result else []
    return security.own_files(images)


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
def models_tick(last_status: str | None, request: gr.Request = None
                ) -> tuple[Any, Any, Any, str]:
    """Timer: refresh the challenger line always, the table when the challenger moves."""
    state = lifecycle.challenger_status(SETTINGS) or {}
    registry_state = service().server.registry_status()
    if not registry_state["reachable"]:  # said on the tab while it lasts, table kept
        return f"**{registry_note(registry_state)}**", gr.skip(), gr.skip(), "unreachable"
    now = f"{state.get('status')}:{state.get('version', '')}"
    busy = state.get("status") in ("training", "validating")
    if busy or now != last_status:
        table, note = _models_view(_lang(request))
    else:
        table, note = gr.skip(), gr.skip()
    return challenger_line(state), table, note, now


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
def switch_view(result: dict | None, request: gr.Request = None) -> str:
    """A promotion or rollback for people: which version serves now."""
    return summaries.switch(result, _lang(request)) if result else ""


@viewer
def models() -> pd.DataFrame:
    """Table of model versions with tags, metrics and which is production."""
    return _models_frame()


# ---- Review ----------------------------------------------------------------------------


@admin
def review_queue() -> pd.DataFrame:
    """Least confident and reported-wrong predictions awaiting a label (admin: the texts
    are other users')."""
    return review.queue(SETTINGS)


@admin
def review_view(request: gr.Request = None) -> tuple[pd.DataFrame, str]:
    """The queue for the Review tab, or what to do when it is empty."""
    frame, lang = review.queue(SETTINGS), _lang(request)
    if frame.empty:
        return frame, summaries.phrase("no_review", lang)
    return frame, summaries.phrase("review_count", lang, waiting=len(frame),
                                   done=len(review.labelled(SETTINGS)))


@admin
def label(prediction_id: int | str, label: str, request: gr.Request = None) -> str:
    """Give a served prediction its true label, positive or negative (admin)."""
    if prediction_id in (None, ""):
        raise gr.Error("Pick a row of the queue first.", print_exception=False)
    user = getattr(request, "username", None) or "local"
    return review.label(prediction_id, label, user, SETTINGS)["message"]


@admin
def label_positive(prediction_id: int | None, request: gr.Request = None) -> str:
    """The Review tab's one-click Positive button."""
    return label(prediction_id, "positive", request=request)


@admin
def label_negative(prediction_id: int | None, request: gr.Request = None) -> str:
    """The Review tab's one-click Negative button."""
    return label(prediction_id, "negative", request=request)


@viewer
def pick_row(frame: pd.DataFrame, evt: gr.SelectData) -> tuple[Any, str]:
    """A click on a queue row selects its prediction."""
    row = frame.iloc[evt.index[0]]
    return int(row["prediction_id"]), str(row["text"])


@admin
def review_to_dataset(name: str) -> dict:
    """Turn the labelled rows of the queue into a training dataset named ``name`` (admin)."""
    return review.to_dataset(name, SETTINGS)


@viewer
def review_dataset_view(summary: dict | None, request: gr.Request = None) -> str:
    return summaries.review_dataset(summary, _lang(request)) if summary else ""


# ---- Monitor ---------------------------------------------------------------------------


@viewer
def monitoring(request: gr.Request = None) -> dict:
    """Feedback and alert summary. The alerts' texts are other users' words: only the
    admin gets them, anyone else the counts."""
    summary = dashboard.summary(SETTINGS)
    try:
        security.check_role("admin", request, SETTINGS)
    except gr.Error:
        summary["latest_alerts"] = [{k: v for k, v in alert.items() if k != "texts"}
                                    for alert in summary.get("latest_alerts", [])]
    return summary


@admin
def monitor_views(request: gr.Request = None) -> tuple[Any, ...]:
    """Everything the Monitor tab shows (plots, tables, drift); admin, since the tables
    hold other users' texts."""
    series = dashboard.timeseries(SETTINGS)
    try:
        drift = dashboard.drift(SETTINGS)
    except SentimentError as exc:
        drift = {"status": f"unavailable: {exc}"}
    summary = dashboard.summary(SETTINGS)
    note = "" if summary.get("predictions") else summaries.phrase("no_predictions",
                                                                   _lang(request))
    return (note, summary, series, series, series, dashboard.accuracy_by_version(SETTINGS),
            dashboard.alerts(SETTINGS), dashboard.wrong_predictions(SETTINGS, limit=50), drift)


@viewer
def monitor_tick(request: gr.Request = None) -> tuple[Any, ...]:
    """Timer and tab opening: the Monitor views for the admin; for others a note."""
    try:
        security.check_role("admin", request, SETTINGS)
    except gr.Error:
        return (summaries.phrase("monitor_admin", _lang(request)),) + (gr.skip(),) * 8
    return monitor_views(request=request)


@admin
def export_log(request: gr.Request = None) -> str:
    """The prediction log as CSV (admin: it holds every user's texts)."""
    return security.own_files(dashboard.export_predictions(SETTINGS, owner=_owner(request)))


@admin
def export_corrections(request: gr.Request = None) -> str:
    """Verified corrections as a training CSV (admin)."""
    return security.own_files(dashboard.export_corrections(SETTINGS, owner=_owner(request)))


# ---- Layout ----------------------------------------------------------------------------

ADMIN = {"concurrency_id": "admin", "concurrency_limit": 1}  # training and validation
DATA = {"concurrency_id": "data", "concurrency_limit": 2}  # uploads
# Promote and rollback have their own lane: an emergency rollback never waits for a training.
SWITCH = {"concurrency_id": "switch", "concurrency_limit": 1}
PRIVATE = {"api_visibility": "private"}
QUIET = {**PRIVATE, "show_progress": "hidden"}  # timers: no spinner every few seconds

# Gradio's copies of uploads and result files expire like ours (sentiment.infra.results).
_TTL = int(SETTINGS.result_ttl_seconds)
with gr.Blocks(title="Tweet sentiment", delete_cache=(max(60, _TTL // 4), _TTL)) as demo:
    gr.Markdown(t("title"))
    gr.Markdown(t("intro"))
    if not SETTINGS.auth_enabled:
        gr.Markdown(t("open_note"))
    last_prediction = gr.State(None)

    with gr.Tab(t("tab_predict"), id="predict"):
        with gr.Row():
            with gr.Column():
                text_in = gr.Textbox(label=t("text"), lines=3,
                                     max_length=SETTINGS.max_text_chars)
                predict_btn = gr.Button(t("analyse"), variant="primary")
                gr.Examples(EXAMPLES, inputs=text_in)
            with gr.Column():
                label_out = gr.Label(label=t("sentiment"), num_top_classes=2)
                answered_by = gr.Markdown()
                with gr.Row():
                    right_btn = gr.Button(t("correct"), size="sm")
                    wrong_btn = gr.Button(t("wrong"), size="sm")
                feedback_out = gr.Markdown()
                with gr.Accordion(t("details"), open=False):
                    details_out = gr.JSON(label=t("details"))
        with gr.Accordion(t("why"), open=False, elem_id="why"):
            explain_btn = gr.Button(t("explain"), size="sm")
            with gr.Row(visible=False):
                explain_label = gr.Label(num_top_classes=2)
            explain_words = gr.HighlightedText(label=t("words"), show_legend=False,
                                               show_inline_category=False)
            with gr.Accordion(t("raw"), open=False):
                explain_details = gr.JSON()
        with gr.Accordion(t("batch"), open=False):
            batch_in = gr.File(label=t("batch_in"), file_types=[".csv"])
            batch_btn = gr.Button(t("classify"))
            batch_file = gr.File(label=t("results_csv"))
            batch_summary = gr.JSON(label=t("summary"))
            batch_table = gr.Dataframe(label=t("preview"), visible=False)
        with gr.Row(visible=False):
            fb_text, fb_label = gr.Textbox(), gr.Textbox()
            fb_correct, fb_ack = gr.Checkbox(), gr.Textbox()

    with gr.Tab(t("tab_data"), id="data") as data_tab:
        with gr.Row():
            train_file = gr.File(label=t("training_csv"), file_types=[".csv"])
            val_file = gr.File(label=t("validation_csv"), file_types=[".csv"])
        with gr.Row():
            train_name = gr.Textbox(label=t("dataset_name"), max_length=120)
            val_name = gr.Textbox(label=t("dataset_name"), max_length=120)
        with gr.Row():
            up_train_btn = gr.Button(t("upload_training"))
            up_val_btn = gr.Button(t("upload_validation"))
        upload_md = gr.Markdown()
        with gr.Row():
            balance_plot = gr.BarPlot(x="class", y="rows", title=t("balance"), height=220,
                                      visible=False)
            upload_preview = gr.Dataframe(label=t("cleaned"), visible=False)
        with gr.Accordion(t("raw"), open=False):
            upload_summary = gr.JSON()
        datasets_btn = gr.Button(t("refresh"), size="sm")
        datasets_note = gr.Markdown()
        datasets_table = gr.Dataframe(label=t("datasets"))

    with gr.Tab(t("tab_train"), id="train"):
        types = available_types()
        with gr.Row():
            type_in = gr.Dropdown(types, value=types[0], label=t("model_type"))
            train_ds = gr.Dropdown([], label=t("training_dataset"), allow_custom_value=True)
            base_in = gr.Dropdown([], label=t("base_version"), allow_custom_value=True)
        hyper_help = gr.Markdown(hyperparameter_defaults(types[0])[1])
        with gr.Accordion(t("hyper_json"), open=False):
            hyper_in = gr.Code(hyperparameter_defaults(types[0])[0], language="json",
                               label="hyperparameters")

        @gr.render(inputs=type_in)
        @viewer
        def hyperparameter_widgets(model_type: str) -> None:
            """One widget per hyperparameter of the chosen type, kept in sync with the JSON
            that /train receives (a new model type needs no UI change)."""
            params = get_model_type(model_type).hyperparams
            with gr.Group():
                widgets = [hyperparameter_widget(p) for p in params]
            for index, (widget, param) in enumerate(zip(widgets, params, strict=True)):
                widget.param, widget.param_index = param, index
            for widget in widgets:
                widget.change(widgets_to_json, set(widgets), hyper_in, **QUIET)

        with gr.Row():
            train_btn = gr.Button(t("train"), variant="primary")
            stop_btn = gr.Button(t("stop"))
        train_timer = gr.Timer(2)
        train_note = gr.Markdown()
        epoch_plot = gr.LinePlot(x="epoch", y="value", color="metric", title=t("epochs"),
                                 visible=False, height=260)
        train_plot = gr.Plot(label=t("confusion"), visible=False)
        with gr.Accordion(t("raw"), open=False):
            train_result = gr.JSON()

    with gr.Tab(t("tab_validate"), id="validate"):
        with gr.Row():
            val_version = gr.Dropdown([], label=t("version"), allow_custom_value=True)
            val_ds = gr.Dropdown([], label=t("validation_datasets"), allow_custom_value=True,
                                 multiselect=True)
            min_acc = gr.Number(SETTINGS.min_accuracy, label=t("min_accuracy"),
                                info=f"gate metric: {SETTINGS.gate_metric}", minimum=0,
                                maximum=1)
            auto_in = gr.Checkbox(False, label=t("auto_promote"))
        validate_btn = gr.Button(t("validate"), variant="primary")
        validate_md = gr.Markdown()
        compare_table = gr.Dataframe(label=t("side_by_side"), visible=False)
        validate_gallery = gr.Gallery(label=t("curves"), columns=3, height="auto",
                                      object_fit="contain")
        with gr.Accordion(t("raw"), open=False):
            validate_result = gr.JSON()

    with gr.Tab(t("tab_models"), id="models"):
        challenger_md = gr.Markdown()
        challenger_seen = gr.State(None)
        models_timer = gr.Timer(5)
        with gr.Row():
            models_btn = gr.Button(t("refresh"), size="sm")
            mlflow_btn = gr.Button(t("mlflow"), size="sm", link=mlflow_link())
        models_note = gr.Markdown()
        models_table = gr.Dataframe(label=t("versions"))
        with gr.Row():
            promote_version = gr.Dropdown([], label=t("version"), allow_custom_value=True)
            force_in = gr.Checkbox(False, label=t("force"))
            promote_btn = gr.Button(t("promote"), variant="primary")
            rollback_btn = gr.Button(t("rollback"))
        switch_md = gr.Markdown()
        with gr.Accordion(t("raw"), open=False):
            lifecycle_result = gr.JSON()

    with gr.Tab(t("tab_review"), id="review") as review_tab:
        gr.Markdown(t("review_intro"))
        review_note = gr.Markdown()
        review_table = gr.Dataframe(label=t("queue"), interactive=False)
        with gr.Row():
            review_id = gr.Number(label="prediction_id", precision=0, scale=1)
            review_text = gr.Textbox(label=t("selected"), interactive=False, scale=4)
            positive_btn = gr.Button(t("positive"), scale=1)
            negative_btn = gr.Button(t("negative"), scale=1)
        review_ack = gr.Markdown()
        with gr.Row(visible=False):
            label_choice = gr.Radio(["positive", "negative"])
            label_btn = gr.Button()
        with gr.Row():
            review_name = gr.Textbox("review queue", label=t("new_name"), max_length=120)
            to_dataset_btn = gr.Button(t("to_dataset"))
        review_md = gr.Markdown()
        with gr.Accordion(t("raw"), open=False):
            review_result = gr.JSON()

    with gr.Tab(t("tab_monitor"), id="monitor") as monitor_tab:
        monitor_timer = gr.Timer(15)
        monitor_btn = gr.Button(t("refresh"), size="sm")
        monitor_note = gr.Markdown()
        with gr.Row():
            volume_plot = gr.LinePlot(x="time", y="predictions", title=t("volume"))
            latency_plot = gr.LinePlot(x="time", y="latency_ms", title=t("latency"))
            mix_plot = gr.LinePlot(x="time", y="positive_rate", title=t("mix"))
        accuracy_table = gr.Dataframe(label=t("accuracy"))
        alerts_table = gr.Dataframe(label=t("alerts"))
        wrong_table = gr.Dataframe(label=t("wrong_preds"))
        with gr.Accordion(t("drift"), open=False):
            drift_out = gr.JSON()
        with gr.Accordion(t("raw"), open=False):
            monitor_summary = gr.JSON()
        with gr.Row():
            export_btn = gr.Button(t("export_log"), size="sm")
            corrections_btn = gr.Button(t("export_corrections"), size="sm")
        export_file = gr.File(label=t("export"), visible=False)

    # Events: SPEC endpoints first (api_name), UI-only steps private.
    predict_event = dict(fn=predict, inputs=text_in, outputs=[label_out, details_out,
                                                             last_prediction],
                         api_name="predict", concurrency_limit=16)
    predict_btn.click(**predict_event).then(predict_note, last_prediction, answered_by,
                                            **PRIVATE)
    text_in.submit(**{**predict_event, "api_name": False, **PRIVATE}).then(
        predict_note, last_prediction, answered_by, **PRIVATE)
    right_btn.click(mark_correct, last_prediction, feedback_out, **PRIVATE)
    wrong_btn.click(mark_wrong, last_prediction, feedback_out, **PRIVATE)
    fb_correct.change(feedback, [fb_text, fb_label, fb_correct], fb_ack, api_name="feedback")
    explain_btn.click(explain, text_in, [explain_label, explain_words, explain_details],
                      api_name="explain", concurrency_limit=4)
    batch_btn.click(predict_batch, batch_in, [batch_file, batch_summary],
                    api_name="predict_batch", concurrency_limit=2).then(
        batch_preview, batch_file, batch_table, **PRIVATE)

    pickers = [train_ds, base_in, val_version, val_ds, promote_version]
    for button, handler, upload_in, name_in, name in (
            (up_train_btn, upload_training, train_file, train_name, "upload_training"),
            (up_val_btn, upload_validation, val_file, val_name, "upload_validation")):
        uploaded = button.click(handler, [upload_in, name_in], upload_summary, api_name=name,
                                **DATA)
        uploaded.then(upload_view, upload_summary, [upload_md, upload_preview, balance_plot],
                      **PRIVATE)
        uploaded.then(refresh_datasets, None, [datasets_table, datasets_note], **PRIVATE)
        uploaded.then(refresh_choices, None, pickers, **PRIVATE)
    train_file.upload(suggest_name, train_file, train_name, **PRIVATE)
    val_file.upload(suggest_name, val_file, val_name, **PRIVATE)
    datasets_btn.click(datasets, None, datasets_table, api_name="datasets").then(
        refresh_datasets, None, [datasets_table, datasets_note], **PRIVATE)
    data_tab.select(refresh_datasets, None, [datasets_table, datasets_note], **PRIVATE)

    type_in.change(default_hyperparameters, type_in, [hyper_in, hyper_help], **PRIVATE)
    trained = train_btn.click(train, [type_in, train_ds, base_in, hyper_in], train_result,
                              api_name="train", **ADMIN)
    trained.then(confusion_plot, train_result, train_plot, **PRIVATE)
    trained.then(refresh_choices, None, pickers, **PRIVATE)
    trained.then(refresh_models, None, [models_table, models_note], **PRIVATE)
    trained.then(train_view, train_result, [train_note, epoch_plot], **PRIVATE)
    stop_btn.click(cancel_training, None, train_note, **PRIVATE)
    train_timer.tick(train_tick, None, [train_note, epoch_plot], **QUIET)

    validated = validate_btn.click(validate, [val_version, val_ds, min_acc, auto_in],
                                   validate_result, api_name="validate", **ADMIN)
    validated.then(validate_view, validate_result, validate_md, **PRIVATE)
    validated.then(comparison, validate_result, compare_table, **PRIVATE)
    validated.then(validation_gallery, None, validate_gallery, **PRIVATE)
    validated.then(refresh_models, None, [models_table, models_note], **PRIVATE)
    validated.then(refresh_choices, None, pickers, **PRIVATE)

    models_btn.click(models, None, models_table, api_name="models").then(
        refresh_models, None, [models_table, models_note], **PRIVATE)
    for button, handler, inputs, name in ((promote_btn, promote, [promote_version, force_in],
                                           "promote"),
                                          (rollback_btn, rollback, None, "rollback")):
        switched = button.click(handler, inputs, lifecycle_result, api_name=name, **SWITCH)
        switched.then(switch_view, lifecycle_result, switch_md, **PRIVATE)
        switched.then(refresh_models, None, [models_table, models_note], **PRIVATE)
        switched.then(refresh_choices, None, pickers, **PRIVATE)

    review_outputs = [review_table, review_note]
    review_tab.select(review_view, None, review_outputs, **PRIVATE)
    review_table.select(pick_row, review_table, [review_id, review_text], **PRIVATE)
    label_btn.click(label, [review_id, label_choice], review_ack, api_name="label")
    for button, handler in ((positive_btn, label_positive), (negative_btn, label_negative)):
        button.click(handler, review_id, review_ack, **PRIVATE).then(
            review_view, None, review_outputs, **PRIVATE)
    made = to_dataset_btn.click(review_to_dataset, review_name, review_result,
                                api_name="review_to_dataset", **DATA)
    made.then(review_dataset_view, review_result, review_md, **PRIVATE)
    made.then(review_view, None, review_outputs, **PRIVATE)
    made.then(refresh_choices, None, pickers, **PRIVATE)
    made.then(refresh_datasets, None, [datasets_table, datasets_note], **PRIVATE)
    review_btn_api = gr.Button(visible=False)
    review_btn_api.click(review_queue, None, review_table, api_name="review_queue")

    monitor_outputs = [monitor_note, monitor_summary, volume_plot, latency_plot, mix_plot,
                       accuracy_table, alerts_table, wrong_table, drift_out]
    monitor_btn.click(monitoring, None, monitor_summary, api_name="monitoring")
    monitor_btn.click(monitor_views, None, monitor_outputs, **PRIVATE)
    monitor_tab.select(monitor_tick, None, monitor_outputs, **PRIVATE)
    monitor_timer.tick(monitor_tick, None, monitor_outputs, **QUIET)
    export_btn.click(export_log, None, export_file, **PRIVATE).then(
        show, None, export_file, **PRIVATE)
    corrections_btn.click(export_corrections, None, export_file, **PRIVATE).then(
        show, None, export_file, **PRIVATE)

    demo.load(refresh_choices, None, pickers, **PRIVATE)
    demo.load(refresh_datasets, None, [datasets_table, datasets_note], **PRIVATE)
    demo.load(refresh_models, None, [models_table, models_note], **PRIVATE)
    demo.load(challenger_now, None, challenger_md, **PRIVATE)
    models_timer.tick(models_tick, challenger_seen, [challenger_md, models_table, models_note,
                                                     challenger_seen], **QUIET)


def housekeeping(period_s: float | None = None) -> threading.Thread:
    """Now and then on a schedule: uploads of dead processes and expired uploads go, and
    the prediction log is pruned to its retention (SENTIMENT_PREDICTION_RETENTION_DAYS,
    SENTIMENT_PREDICTION_MAX_ROWS)."""
    period = period_s or max(60.0, SETTINGS.result_ttl_seconds / 4)

    def run() -> None:
        while True:
            try:
                removed = security.sweep_uploads(SETTINGS.result_ttl_seconds)
                pruned = service().store.prune(SETTINGS.prediction_retention_days,
                                               SETTINGS.prediction_max_rows)
                if removed or pruned:
                    log.info("housekeeping: %d old uploads removed, %d predictions pruned",
                             removed, pruned)
            except (OSError, SentimentError):
                log.exception("housekeeping failed; it runs again in %.0f s", period)
            time.sleep(period)

    thread = threading.Thread(target=run, daemon=True, name="housekeeping")
    thread.start()
    return thread


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
    restored = durable.restore(SETTINGS)  # a new container: databases from the home
    if restored:
        log.info("restored %s from %s", ", ".join(restored), SETTINGS.home)
    syncer = durable.Syncer(SETTINGS).start()

    def stop(signum: int, frame: Any) -> None:  # a Space stopping: last copy, then close
        syncer.stop()
        durable.save(SETTINGS)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    allowed, blocked = security.served_files(SETTINGS, ROOT)
    security.restrict_cors(lambda: SETTINGS)
    # uvicorn believes X-Forwarded-For only from these (its default trusts 127.0.0.1, so
    # any local process could choose the address the sign-in throttle sees).
    os.environ["FORWARDED_ALLOW_IPS"] = SETTINGS.trusted_proxies
    housekeeping()
    bootstrap_in_background()
    demo.queue(default_concurrency_limit=8).launch(
        allowed_paths=allowed, blocked_paths=blocked,
        auth=check_login if SETTINGS.auth_enabled else None,
        auth_message="Sign in: the admin may train and promote; viewers may predict.",
        max_file_size=SETTINGS.max_upload_bytes, show_error=False, ssr_mode=False, i18n=I18N,
        app_kwargs={"middleware": [
            Middleware(security.Door, settings=lambda: SETTINGS),
            Middleware(security.ClientAddress),
            Middleware(security.AdminMount, prefix=lifecycle.MLFLOW_UI_PREFIX,
                       factory=lambda: lifecycle.mlflow_ui_app(SETTINGS),
                       settings=lambda: SETTINGS)]})


if __name__ == "__main__":
    main()
