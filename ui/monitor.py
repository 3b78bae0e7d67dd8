"""The Monitor tab (admin): volume, latency, the label mix, accuracy from feedback,
alerts, wrong predictions, drift, and formula-safe exports."""

from __future__ import annotations

from typing import Any

import gradio as gr

from sentiment.errors import SentimentError
from sentiment.monitoring import dashboard
from ui import security, summaries
from ui.common import PRIVATE, QUIET, SETTINGS, admin, language_of, owner_of, viewer
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
    return (note, summary, series, series, series, dashboard.accuracy_by_version(SETTINGS),
            dashboard.alerts(SETTINGS), dashboard.wrong_predictions(SETTINGS, limit=50), drift)


@viewer
def monitor_tick(request: gr.Request = None) -> tuple[Any, ...]:
    """Timer and tab opening: the Monitor views for the admin; for others a note."""
    try:
        security.check_role("admin", request, SETTINGS)
    except gr.Error:
        return (summaries.phrase("monitor_admin", language_of(request)),) + (gr.skip(),) * 8
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


MONITOR_OUTPUTS = ("note", "summary", "volume", "latency", "mix", "accuracy", "alerts",
                   "wrong", "drift")


def build() -> None:
    """The tab's layout and events (``/monitoring``)."""
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

    monitor_outputs = [monitor_note, monitor_summary, volume_plot, latency_plot, mix_plot,
                       accuracy_table, alerts_table, wrong_table, drift_out]  # MONITOR_OUTPUTS
    monitor_btn.click(monitoring, None, monitor_summary, api_name="monitoring")
    monitor_btn.click(monitor_views, None, monitor_outputs, **PRIVATE)
    monitor_tab.select(monitor_tick, None, monitor_outputs, **PRIVATE)
    monitor_timer.tick(monitor_tick, None, monitor_outputs, **QUIET)
    export_btn.click(export_log, None, export_file, **PRIVATE).then(
        show, None, export_file, **PRIVATE)
    corrections_btn.click(export_corrections, None, export_file, **PRIVATE).then(
        show, None, export_file, **PRIVATE)
