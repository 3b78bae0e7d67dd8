"""The Validate tab: a version checked on one or several validation datasets against the
quality bar, beside production, with its figures."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from sentiment import lifecycle, views
from ui import security, summaries
from ui.common import ADMIN, PRIVATE, SETTINGS, admin, language_of, serve_latest, viewer
from ui.text import t


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
        serve_latest()
    return result


_validated: dict[tuple[str, str], dict] = {}  # per signed-in user and session: last result


def _caller_key(request: gr.Request | None) -> tuple[str, str]:
    return (getattr(request, "username", None) or "local",
            getattr(request, "session_hash", None) or "api")


@viewer
def validate_view(result: dict | None, request: gr.Request = None) -> str:
    """Pass or fail with the reason, production beside it, per-class recall."""
    return summaries.validate(result, language_of(request)) if result else ""


@viewer
def comparison(result: dict | None) -> Any:
    """The version's metrics beside production's on the same data, per dataset."""
    if not result:
        return gr.skip()
    rows = views.comparison_view(result, lifecycle.datasets_table(SETTINGS))
    return gr.update(value=pd.DataFrame(rows), visible=True)


@admin
def validation_gallery(request: gr.Request = None) -> list[tuple[str, str]]:
    """Confusion matrices, ROC and precision-recall curves of this caller's last validation
    (kept on the server: paths never come from the caller)."""
    result = _validated.get(_caller_key(request))
    images = lifecycle.validation_images(result, SETTINGS) if result else []
    return security.own_files(images)


def build() -> SimpleNamespace:
    """The tab's layout and events (``/validate``). Returns its pickers (``val_version``,
    ``val_ds``) and ``validated`` (the event, for app.py)."""
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

    validated = validate_btn.click(validate, [val_version, val_ds, min_acc, auto_in],
                                   validate_result, api_name="validate", **ADMIN)
    validated.then(validate_view, validate_result, validate_md, **PRIVATE)
    validated.then(comparison, validate_result, compare_table, **PRIVATE)
    validated.then(validation_gallery, None, validate_gallery, **PRIVATE)
    return SimpleNamespace(val_version=val_version, val_ds=val_ds, validated=validated)
