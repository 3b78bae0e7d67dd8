"""Tweet sentiment: the whole ML lifecycle in one Gradio app, over ``sentiment``.

This file assembles the tabs (one module of ``ui/`` each: its handlers, its layout, its
events), wires what crosses tabs (the pickers, the tables other tabs change), and starts
the app: the home checked, databases restored, the first-start bootstrap in the
background, housekeeping and the bad-buzz watch, then Gradio behind the door of
``ui.security``, with the REST API (``ui.rest``) at ``/api/v1/`` on the same port and,
with ``SENTIMENT_MCP=1``, Gradio's MCP server. Every SPEC endpoint keeps its
``api_name``; admin actions check the caller inside the handler, so an HTTP call that
skips the UI is refused too. Run with ``python app.py``.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from sentiment.config import SettingsError, apply_offline_defaults

apply_offline_defaults()

import gradio as gr  # noqa: E402 - telemetry must be off before gradio is imported

from sentiment import lifecycle, startup  # noqa: E402
from ui import (  # noqa: E402
    common,
    data,
    models,
    monitor,
    pickers,
    predict,
    programs,
    rest,
    review,
    security,
    train,
    validate,
)
from ui.common import PRIVATE, SETTINGS, check_login  # noqa: E402
from ui.text import I18N, t  # noqa: E402

log = logging.getLogger("app")
ROOT = Path(__file__).resolve().parent

# Gradio's copies of uploads and result files expire like ours (sentiment.infra.results).
_TTL = int(SETTINGS.result_ttl_seconds)
with gr.Blocks(title="Tweet sentiment", delete_cache=(max(60, _TTL // 4), _TTL)) as demo:
    gr.Markdown(t("title"))
    gr.Markdown(t("intro"))
    if not SETTINGS.auth_enabled:
        gr.Markdown(t("open_note"))
    predict.build(gr.State(None))
    data_tab = data.build()
    train_tab = train.build()
    validate_tab = validate.build()
    models_tab = models.build()
    review_tab = review.build()
    monitor.build()
    programs.build()

    # Across tabs: whatever adds a dataset or a version refreshes every picker; the tables
    # of the Data and Models tabs follow the changes made elsewhere.
    picker_outputs = [train_tab.train_ds, train_tab.base_in, validate_tab.val_version,
                      validate_tab.val_ds, models_tab.promote_version]  # pickers.PICKERS
    for event in (*data_tab.uploaded, train_tab.trained, validate_tab.validated,
                  *models_tab.switched, review_tab.made):
        event.then(pickers.refresh_choices, None, picker_outputs, **PRIVATE)
    for event in (train_tab.trained, validate_tab.validated):
        event.then(models.refresh_models, None, [models_tab.table, models_tab.note],
                   **PRIVATE)
    review_tab.made.then(data.refresh_datasets, None, [data_tab.table, data_tab.note],
                         **PRIVATE)
    demo.load(pickers.refresh_choices, None, picker_outputs, **PRIVATE)
    demo.load(data.refresh_datasets, None, [data_tab.table, data_tab.note], **PRIVATE)
    demo.load(models.refresh_models, None, [models_tab.table, models_tab.note], **PRIVATE)
    demo.load(models.challenger_now, None, models_tab.challenger_md, **PRIVATE)


def main() -> None:
    """Start-up (:mod:`sentiment.startup`: the home checked, databases restored and synced,
    the first start in the background, housekeeping), then serve the app behind the door
    (result files expire after SENTIMENT_RESULT_TTL_SECONDS)."""
    from starlette.middleware import Middleware

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        startup.prepare(SETTINGS)
    except SettingsError as exc:
        sys.exit(f"error: {exc}")
    allowed, blocked = security.served_files(SETTINGS, ROOT)
    security.restrict_cors(lambda: SETTINGS)
    # uvicorn believes X-Forwarded-For only from these (its default trusts 127.0.0.1, so
    # any local process could choose the address the sign-in throttle sees).
    os.environ["FORWARDED_ALLOW_IPS"] = SETTINGS.trusted_proxies
    startup.housekeeping(SETTINGS, common.service,
                         also=lambda: security.sweep_uploads(SETTINGS.result_ttl_seconds))
    startup.first_start(SETTINGS, common.service, common.ready)
    startup.buzz_watch(SETTINGS, common.service)
    demo.queue(default_concurrency_limit=8).launch(
        allowed_paths=allowed, blocked_paths=blocked, mcp_server=SETTINGS.mcp,
        prevent_thread_lock=True,
        auth=check_login if SETTINGS.auth_enabled else None,
        auth_message="Sign in: the admin may train and promote; viewers may predict.",
        max_file_size=SETTINGS.max_upload_bytes, show_error=False, ssr_mode=False, i18n=I18N,
        app_kwargs={"middleware": [
            Middleware(security.Door, settings=lambda: SETTINGS),
            Middleware(security.ClientAddress),
            Middleware(rest.Mount, factory=lambda: rest.create_app(lambda: SETTINGS,
                                                                   common.service)),
            Middleware(security.AdminMount, prefix=lifecycle.MLFLOW_UI_PREFIX,
                       factory=lambda: lifecycle.mlflow_ui_app(SETTINGS),
                       settings=lambda: SETTINGS)]})
    if SETTINGS.mcp:
        log.info("MCP server at /gradio_api/mcp/ with the tools %s", programs.restrict(demo))
    demo.block_thread()


if __name__ == "__main__":
    main()
