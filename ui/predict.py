"""The Predict tab: a text or a CSV file -> positive/negative with confidences, feedback
on the answer, and why this label."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from sentiment.serving import batch_lane
from ui import security, summaries
from ui.common import PRIVATE, SETTINGS, language_of, owner_of, ready, service, source_of, viewer
from ui.text import t

EXAMPLES = ["I love this airline, the crew was amazing!", "Worst flight ever. Lost my bag again.",
            "@united thanks for the quick rebooking :)", "3 hours on the tarmac and no updates..."]


@viewer
def predict(text: str, request: gr.Request = None) -> tuple[dict, dict, dict]:
    """Label with both confidences, then details (model, version, latency)."""
    if not ready.is_set():
        ready.wait(timeout=120)
    result = service().predict(text, source=source_of(request))
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
    return summaries.phrase("answered", language_of(request), model=last["model_name"],
                            version=last["version"], model_type=last["model_type"],
                            ms=float(last["latency_ms"]))


@viewer
def predict_batch(file: str | None, request: gr.Request = None) -> tuple[str, dict]:
    """Classify every row of an uploaded CSV; return the result CSV and a summary."""
    if not file:
        raise gr.Error("Upload a CSV file with a text column.", print_exception=False)
    if batch_lane.uses_lane(file, SETTINGS):  # large files in a process of their own, one per user
        path, summary = batch_lane.score_in_lane(file, owner_of(request), SETTINGS)
    else:
        path, summary, _ = service().predict_file(file, owner=owner_of(request))
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


def build(last_prediction: gr.State) -> None:
    """The tab's layout and its events (``/predict``, ``/feedback``, ``/explain``,
    ``/predict_batch``); ``last_prediction`` is this session's last answer."""
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

    # predict's outputs: label, details, this session's last answer
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
