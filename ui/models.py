"""The Models tab: the registry's versions, the first-start challenger, promote and
rollback, and the MLflow UI."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from sentiment import lifecycle, views
from sentiment.errors import SentimentError
from sentiment.serving.service import registry_note
from ui import summaries
from ui.common import (
    PRIVATE,
    QUIET,
    SETTINGS,
    SWITCH,
    admin,
    language_of,
    mlflow_link,
    serve_latest,
    service,
    user_of,
    viewer,
)
from ui.text import t


def _model_rows() -> list[dict]:
    """The versions; when the registry is unreachable, say so at once (the watcher knows)
    instead of waiting on MLflow's retries."""
    state = service().server.registry_status()
    if not state["reachable"]:
        raise SentimentError(registry_note(state))
    return lifecycle.models_table(SETTINGS)


def _models_frame() -> pd.DataFrame:
    return pd.DataFrame(_model_rows())


def _models_view(lang: str = "en") -> tuple[pd.DataFrame, str]:
    """The versions for people (:func:`sentiment.views.versions_view`) and the note on a
    production version put there outside the app."""
    rows = _model_rows()
    if not rows:
        return pd.DataFrame(), summaries.phrase("no_models", lang)
    shown = views.versions_view(rows, lifecycle.datasets_table(SETTINGS))
    return pd.DataFrame(shown), views.moved_note(rows)


@viewer
def refresh_models(request: gr.Request = None) -> tuple[pd.DataFrame, str]:
    """The versions for people (the UI's own refreshes; /models keeps every column)."""
    return _models_view(language_of(request))


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
        table, note = _models_view(language_of(request))
    else:
        table, note = gr.skip(), gr.skip()
    return challenger_line(state), table, note, now


@admin
def promote(version: str, force: bool = False, request: gr.Request = None) -> dict:
    """Promote a validated version to production (admin; force records who forced it)."""
    if not version:
        raise gr.Error("Choose a version to promote.", print_exception=False)
    result = lifecycle.promote(version, bool(force), user_of(request), SETTINGS)
    serve_latest()
    return result


@admin
def rollback() -> dict:
    """Move production back to the previous production version (admin)."""
    result = lifecycle.rollback(SETTINGS)
    serve_latest()
    return result


@viewer
def switch_view(result: dict | None, request: gr.Request = None) -> str:
    """A promotion or rollback for people: which version serves now."""
    return summaries.switch(result, language_of(request)) if result else ""


@viewer
def models() -> pd.DataFrame:
    """Table of model versions with tags, metrics and which is production."""
    return _models_frame()


def build() -> SimpleNamespace:
    """The tab's layout and events (``/models``, ``/promote``, ``/rollback``). Returns its
    picker (``promote_version``), ``table`` and ``note`` (what :func:`refresh_models`
    fills), the ``switched`` events and ``challenger_md`` (for app.py)."""
    with gr.Tab(t("tab_models"), id="models"):
        challenger_md = gr.Markdown()
        challenger_seen = gr.State(None)
        models_timer = gr.Timer(5)
        with gr.Row():
            models_btn = gr.Button(t("refresh"), size="sm")
            gr.Button(t("mlflow"), size="sm", link=mlflow_link())
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

    shown = [models_table, models_note]  # refresh_models' outputs
    models_btn.click(models, None, models_table, api_name="models").then(
        refresh_models, None, shown, **PRIVATE)
    switched = []
    for button, handler, inputs, name in ((promote_btn, promote, [promote_version, force_in],
                                           "promote"),
                                          (rollback_btn, rollback, None, "rollback")):
        event = button.click(handler, inputs, lifecycle_result, api_name=name, **SWITCH)
        event.then(switch_view, lifecycle_result, switch_md, **PRIVATE)
        event.then(refresh_models, None, shown, **PRIVATE)
        switched.append(event)
    # models_tick's outputs: the challenger line, the table, its note, what it last saw
    models_timer.tick(models_tick, challenger_seen, [challenger_md, models_table, models_note,
                                                     challenger_seen], **QUIET)
    return SimpleNamespace(promote_version=promote_version, table=models_table,
                           note=models_note, switched=switched, challenger_md=challenger_md)
