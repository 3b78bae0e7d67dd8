"""The Review tab: the least confident and reported-wrong predictions wait for a person's
label; labelled rows become a training dataset."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from sentiment.monitoring import review as queue_store
from ui import summaries
from ui.common import DATA, PRIVATE, SETTINGS, admin, language_of, user_of, viewer
from ui.text import t


@admin
def review_queue() -> pd.DataFrame:
    """Least confident and reported-wrong predictions awaiting a label (admin: the texts
    are other users')."""
    return queue_store.queue(SETTINGS)


@admin
def review_view(request: gr.Request = None) -> tuple[pd.DataFrame, str]:
    """The queue for the Review tab, or what to do when it is empty."""
    frame, lang = queue_store.queue(SETTINGS), language_of(request)
    if frame.empty:
        return frame, summaries.phrase("no_review", lang)
    return frame, summaries.phrase("review_count", lang, waiting=len(frame),
                                   done=len(queue_store.labelled(SETTINGS)))


@admin
def label(prediction_id: int | str, label: str, request: gr.Request = None) -> str:
    """Give a served prediction its true label, positive or negative (admin)."""
    if prediction_id in (None, ""):
        raise gr.Error("Pick a row of the queue first.", print_exception=False)
    return queue_store.label(prediction_id, label, user_of(request), SETTINGS)["message"]


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
    return queue_store.to_dataset(name, SETTINGS)


@viewer
def review_dataset_view(summary: dict | None, request: gr.Request = None) -> str:
    return summaries.review_dataset(summary, language_of(request)) if summary else ""


def build() -> SimpleNamespace:
    """The tab's layout and events (``/label``, ``/review_queue``,
    ``/review_to_dataset``). Returns ``made`` (the new-dataset event, for app.py)."""
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

    review_outputs = [review_table, review_note]  # review_view's outputs
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
    review_btn_api = gr.Button(visible=False)
    review_btn_api.click(review_queue, None, review_table, api_name="review_queue")
    return SimpleNamespace(made=made)
