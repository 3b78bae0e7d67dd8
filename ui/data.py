"""The Data tab: named uploads of labelled CSVs (training or validation), what was kept
and dropped, the class balance, and the datasets table."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from sentiment import lifecycle, views
from sentiment.data.ingest import dataset_name
from ui import summaries
from ui.common import DATA, PRIVATE, SETTINGS, admin, language_of, viewer
from ui.text import t


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
    return dataset_name(None, Path(file).name) if file else gr.skip()


@viewer
def upload_view(summary: dict | None, request: gr.Request = None) -> tuple[str, Any, Any]:
    """The upload's summary for people, its cleaned rows and its class balance."""
    if not summary:
        return "", gr.skip(), gr.skip()
    balance = pd.DataFrame({"class": ["positive", "negative"],
                            "rows": [summary.get("positive", 0), summary.get("negative", 0)]})
    return (summaries.upload(summary, language_of(request)),
            gr.update(value=pd.DataFrame(summary.get("preview", [])), visible=True),
            gr.update(value=balance, visible=True,
                      y_lim=[0, max(1, int(balance["rows"].max() * 1.1))]))


def _datasets_frame() -> pd.DataFrame:
    return pd.DataFrame(lifecycle.datasets_table(SETTINGS))


@viewer
def datasets() -> pd.DataFrame:
    """Table of ingested datasets."""
    return _datasets_frame()


@viewer
def refresh_datasets(request: gr.Request = None) -> tuple[pd.DataFrame, str]:
    """The datasets for people (name, role, rows, balance, origin, date), or what to do."""
    rows = lifecycle.datasets_table(SETTINGS)
    if not rows:
        return pd.DataFrame(), summaries.phrase("no_datasets", language_of(request))
    frame = pd.DataFrame(views.datasets_view(rows))
    return frame, ""


def build() -> SimpleNamespace:
    """The tab's layout and events (``/upload_training``, ``/upload_validation``,
    ``/datasets``). Returns ``table`` and ``note`` (what :func:`refresh_datasets` fills)
    and ``uploaded`` (the two upload events, for app.py to refresh the pickers)."""
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

    shown = [datasets_table, datasets_note]  # refresh_datasets' outputs
    uploaded = []
    for button, handler, upload_in, name_in, name in (
            (up_train_btn, upload_training, train_file, train_name, "upload_training"),
            (up_val_btn, upload_validation, val_file, val_name, "upload_validation")):
        event = button.click(handler, [upload_in, name_in], upload_summary, api_name=name,
                             **DATA)
        event.then(upload_view, upload_summary, [upload_md, upload_preview, balance_plot],
                   **PRIVATE)
        event.then(refresh_datasets, None, shown, **PRIVATE)
        uploaded.append(event)
    train_file.upload(suggest_name, train_file, train_name, **PRIVATE)
    val_file.upload(suggest_name, val_file, val_name, **PRIVATE)
    datasets_btn.click(datasets, None, datasets_table, api_name="datasets").then(
        refresh_datasets, None, shown, **PRIVATE)
    data_tab.select(refresh_datasets, None, shown, **PRIVATE)
    return SimpleNamespace(table=datasets_table, note=datasets_note, uploaded=uploaded)
