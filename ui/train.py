"""The Train tab: a model type, a training dataset, an optional base version, one widget
per hyperparameter (built from the type's table), live progress and per-epoch curves, and
Stop."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from sentiment import lifecycle
from sentiment.models import available_types, get_model_type
from sentiment.pipeline.reports import confusion_figure
from ui import summaries
from ui.common import ADMIN, PRIVATE, QUIET, SETTINGS, admin, language_of, viewer
from ui.text import t


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
    with the Stop button (or ``python -m admin stop JOB``) returns ``status: stopped``
    (its run ends KILLED)."""
    if not dataset_id:
        raise gr.Error("Choose a training dataset.", print_exception=False)

    def report(fraction: float, message: str, metrics: dict | None = None) -> None:
        progress(fraction, desc=message)

    return lifecycle.train_job(model_type, dataset_id, base_version or None,
                               _parse_hyper(hyperparameters), owner=_session(request),
                               progress=report, settings=SETTINGS)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


def _epoch_frame(epochs: list[dict]) -> pd.DataFrame:
    rows = [{"epoch": e["epoch"], "metric": k, "value": float(v)} for e in epochs
            for k, v in e.items() if k != "epoch"]
    return pd.DataFrame(rows, columns=["epoch", "metric", "value"])


@viewer
def train_tick(request: gr.Request = None) -> tuple[Any, Any]:
    """Timer: this session's running training, its progress and metrics per epoch."""
    live = lifecycle.running_job(_session(request))
    if not live:
        return gr.skip(), gr.skip()
    line = summaries.phrase("progress", language_of(request), fraction=live["fraction"],
                            message=live["message"])
    plot = gr.update(value=_epoch_frame(live["epochs"]), visible=bool(live["epochs"]))
    return line, plot


@admin
def cancel_training(request: gr.Request = None) -> str:
    """Ask this user's running training to stop (nothing will be registered)."""
    lifecycle.stop_jobs_of(_session(request))
    return summaries.phrase("stopping", language_of(request))


@viewer
def train_view(result: dict | None, request: gr.Request = None) -> tuple[str, Any]:
    """The training's outcome for people, and its final epoch curves (none for tfidf)."""
    if not result:
        return "", gr.skip()
    history = [{"epoch": i + 1, **row} for i, row in enumerate(result.get("history") or [])]
    plot = gr.update(value=_epoch_frame(history), visible=bool(history))
    return summaries.train(result, language_of(request)), plot


@viewer
def confusion_plot(result: dict | None) -> Any:
    """Confusion matrix of a training or validation result."""
    metrics = (result or {}).get("metrics")
    if not metrics or "tn" not in metrics:
        return gr.skip()
    return gr.update(value=confusion_figure(metrics, f"version {result.get('version', '')}"),
                     visible=True)


def build() -> SimpleNamespace:
    """The tab's layout and events (``/train``). Returns the two pickers it holds
    (``train_ds``, ``base_in``) and ``trained`` (the training event, for app.py)."""
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

    type_in.change(default_hyperparameters, type_in, [hyper_in, hyper_help], **PRIVATE)
    trained = train_btn.click(train, [type_in, train_ds, base_in, hyper_in], train_result,
                              api_name="train", **ADMIN)
    trained.then(confusion_plot, train_result, train_plot, **PRIVATE)
    trained.then(train_view, train_result, [train_note, epoch_plot], **PRIVATE)
    stop_btn.click(cancel_training, None, train_note, **PRIVATE)
    train_timer.tick(train_tick, None, [train_note, epoch_plot], **QUIET)
    return SimpleNamespace(train_ds=train_ds, base_in=base_in, trained=trained)
