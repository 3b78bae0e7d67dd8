"""Tweet sentiment: the whole ML lifecycle in one Gradio app, over ``sentiment``.

This file assembles the tabs (one module of ``ui/`` each: its handlers, its layout, its
events), wires what crosses tabs (the pickers, the tables other tabs change), and starts
the app: the home checked, databases restored, the first-start bootstrap in the
background, housekeeping, then Gradio behind the door of ``ui.security``. Every SPEC
endpoint keeps its ``api_name``; admin actions check the caller inside the handler, so an
HTTP call that skips the UI is refused too. Run with ``python app.py``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sentiment.config import SettingsError, apply_offline_defaults, check_writable, is_postgres

apply_offline_defaults()

import gradio as gr  # noqa: E402 - telemetry must be off before gradio is imported

from sentiment import lifecycle  # noqa: E402
from sentiment.errors import SentimentError  # noqa: E402
from sentiment.infra import durable  # noqa: E402
from ui import (  # noqa: E402
    common,
    data,
    models,
    monitor,
    pickers,
    predict,
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
            common.service().server.on_move = _followed
            result = lifecycle.bootstrap_baseline(SETTINGS, log=log.info)
            log.info(result["message"])
            common.service().server.snapshot()  # the production model, before the first request
        except SentimentError:
            log.exception("bootstrap failed")
        finally:
            common.ready.set()
        try:
            outcome = lifecycle.bootstrap_challenger(SETTINGS, log=log.info)
            log.info(outcome["message"])
            if outcome.get("promoted"):
                common.serve_latest()
        except SentimentError:
            log.exception("the first-start challenger failed; the baseline stays in production")
    common.ready.clear()
    thread = threading.Thread(target=run, daemon=True, name="bootstrap")
    thread.start()
    return thread


def housekeeping(period_s: float | None = None) -> threading.Thread:
    """Now and then on a schedule: uploads of dead processes and expired uploads go, and
    the prediction log is pruned to its retention (SENTIMENT_PREDICTION_RETENTION_DAYS,
    SENTIMENT_PREDICTION_MAX_ROWS)."""
    period = period_s or max(60.0, SETTINGS.result_ttl_seconds / 4)

    def run() -> None:
        while True:
            try:
                removed = security.sweep_uploads(SETTINGS.result_ttl_seconds)
                pruned = common.service().store.prune(SETTINGS.prediction_retention_days,
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
