"""The Monitor tab (admin): the bad-buzz picture and the triage list first, then volume,
latency, the label mix, accuracy from feedback, alerts, wrong predictions, drift, and
formula-safe exports."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from sentiment.errors import SentimentError
from sentiment.monitoring import dashboard, triage
from sentiment.monitoring.review import prediction_id_of
from ui import security, summaries
from ui.common import (
    PRIVATE,
    QUIET,
    SETTINGS,
    admin,
    language_of,
    owner_of,
    user_of,
    viewer,
)
from ui.text import t


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
    """Everything the Monitor tab shows (plots, tables, drift), in the order of
    :data:`MONITOR_OUTPUTS`; admin, since the tables hold other users' texts."""
    series = dashboard.timeseries(SETTINGS)
    try:
        drift = dashboard.drift(SETTINGS)
    except SentimentError as exc:
        drift = {"status": f"unavailable: {exc}"}
    summary = dashboard.summary(SETTINGS)
    note = "" if summary.get("predictions") else summaries.phrase("no_predictions",
                                                                   language_of(request))
    buzz = dashboard.buzz_alerts(SETTINGS)
    return (note, summary, series, series, series, dashboard.accuracy_by_version(SETTINGS),
            dashboard.alerts(SETTINGS), dashboard.wrong_predictions(SETTINGS, limit=50), drift,
            buzz_figure(dashboard.negative_share(SETTINGS), buzz), buzz.drop(columns="ts"),
            triage.triage(SETTINGS))


@viewer
def monitor_tick(request: gr.Request = None) -> tuple[Any, ...]:
    """Timer and tab opening: the Monitor views for the admin; for others a note."""
    try:
        security.check_role("admin", request, SETTINGS)
    except gr.Error:
        return ((summaries.phrase("monitor_admin", language_of(request)),)
                + (gr.skip(),) * (len(MONITOR_OUTPUTS) - 1))
    return monitor_views(request=request)


@admin
def export_log(request: gr.Request = None) -> str:
    """The prediction log as CSV (admin: it holds every user's texts)."""
    return security.own_files(dashboard.export_predictions(SETTINGS, owner=owner_of(request)))


@admin
def export_corrections(request: gr.Request = None) -> str:
    """Verified corrections as a training CSV (admin)."""
    return security.own_files(dashboard.export_corrections(SETTINGS, owner=owner_of(request)))


@viewer
def show() -> Any:
    """Make the output visible (a file once it exists)."""
    return gr.update(visible=True)


@admin
def triage_list() -> pd.DataFrame:
    """Recent texts predicted negative, most confident first, not yet handled (admin:
    they are other users' texts)."""
    return triage.triage(SETTINGS)


@admin
def handled(prediction_id: int | str, request: gr.Request = None) -> str:
    """Mark a prediction handled: it leaves the triage list (admin)."""
    if prediction_id in (None, ""):
        raise gr.Error("Pick a row of the triage list first.", print_exception=False)
    return triage.handle(prediction_id, user_of(request), SETTINGS)["message"]


@admin
def pick_triage(frame: pd.DataFrame, evt: gr.SelectData) -> tuple[Any, str]:
    """A click on a triage row selects its prediction."""
    row = frame.iloc[evt.index[0]]
    return prediction_id_of(row["prediction_id"]), str(row["text"])


@admin
def pick_buzz(frame: pd.DataFrame, evt: gr.SelectData) -> dict:
    """A click on a bad-buzz alert shows its sentence, its words (with how many of the
    window's negative texts carry each) and its examples (as data, never as markup)."""
    detail = dashboard.buzz_detail(frame.iloc[evt.index[0]]["id"], SETTINGS)
    return {"summary": detail.get("summary"), "terms": detail.get("term_counts", {}),
            "examples": detail.get("examples", []), "since": detail.get("since"),
            "delivery": detail.get("delivery")}


def buzz_figure(series: pd.DataFrame, alerts: pd.DataFrame) -> Any:
    """The negative share per window against the usual band, bad-buzz alerts as red
    lines (matplotlib, drawn off-screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 2.8))
    if not series.empty:
        axis.fill_between(series["time"], series["band_low"].astype(float),
                          series["band_high"].astype(float), color="#cfd8dc",
                          label="usual (±2 s.e.)")
        axis.plot(series["time"], series["baseline_share"].astype(float), color="#78909c",
                  linewidth=1, linestyle="--", label="usual share")
        axis.plot(series["time"], series["negative_share"].astype(float), color="#1e88e5",
                  marker=".", linewidth=1.2, label="negative share")
        start = series["time"].min()
        for when in pd.to_datetime(alerts.get("ts", pd.Series(dtype=float)), unit="s"):
            if when >= start:
                axis.axvline(when, color="#e53935", linewidth=1.5)
        axis.legend(loc="upper left", fontsize=8)
    axis.set_ylim(0, 1)
    axis.set_ylabel("negative share")
    figure.tight_layout()
    plt.close(figure)
    return figure


MONITOR_OUTPUTS = ("note", "summary", "volume", "latency", "mix", "accuracy", "alerts",
                   "wrong", "drift", "buzz_plot", "buzz_alerts", "triage")


def build() -> None:
    """The tab's layout and events (``/monitoring``)."""
    with gr.Tab(t("tab_monitor"), id="monitor") as monitor_tab:
        monitor_timer = gr.Timer(15)
        monitor_btn = gr.Button(t("refresh"), size="sm")
        monitor_note = gr.Markdown()
        with gr.Accordion(t("buzz"), open=True):
            gr.Markdown(t("buzz_intro"))
            buzz_plot = gr.Plot(show_label=False)
            buzz_table = gr.Dataframe(label=t("buzz_alerts"), interactive=False)
            buzz_md = gr.JSON(label=t("buzz_detail"))
        with gr.Accordion(t("triage"), open=True):
            gr.Markdown(t("triage_intro"))
            triage_table = gr.Dataframe(label=t("triage_list"), interactive=False)
            with gr.Row():
                triage_id = gr.Number(label="prediction_id", precision=0, scale=1)
                triage_text = gr.Textbox(label=t("selected"), interactive=False, scale=4)
                handled_btn = gr.Button(t("mark_handled"), scale=1)
            triage_ack = gr.Markdown()
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

    monitor_outputs = [monitor_note, monitor_summary, volume_plot, latency_plot, mix_plot,
                       accuracy_table, alerts_table, wrong_table, drift_out, buzz_plot,
                       buzz_table, triage_table]  # MONITOR_OUTPUTS
    monitor_btn.click(monitoring, None, monitor_summary, api_name="monitoring")
    monitor_btn.click(monitor_views, None, monitor_outputs, **PRIVATE)
    monitor_tab.select(monitor_tick, None, monitor_outputs, **PRIVATE)
    monitor_timer.tick(monitor_tick, None, monitor_outputs, **QUIET)
    buzz_table.select(pick_buzz, buzz_table, buzz_md, **PRIVATE)
    triage_table.select(pick_triage, triage_table, [triage_id, triage_text], **PRIVATE)
    handled_btn.click(handled, triage_id, triage_ack, api_name="handled").then(
        triage_list, None, triage_table, **PRIVATE)
    triage_api = gr.Button(visible=False)
    triage_api.click(triage_list, None, triage_table, api_name="triage")
    export_btn.click(export_log, None, export_file, **PRIVATE).then(
        show, None, export_file, **PRIVATE)
    corrections_btn.click(export_corrections, None, export_file, **PRIVATE).then(
        show, None, export_file, **PRIVATE)
