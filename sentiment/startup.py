"""The app's start-up and background duties, below the face so that every way of serving
runs the same sequence (``app.py`` today; a REST or MCP server tomorrow).

1. :func:`prepare`: the home must be writable (one clear line otherwise); a shared MLflow
   without a shared monitoring database is said; on a fresh container the SQLite
   databases are restored from the home (a bucket), then copied back on a schedule and
   once more on SIGTERM (a Space stopping).
2. :func:`first_start`: in the background, the registry repaired where a kill left it,
   stage 1 (the baseline, so predictions work within a minute), then stage 2 (the
   challenger, promoted only if it wins); ``ready`` is set once stage 1 is done.
3. :func:`housekeeping`: on a schedule, the prediction log pruned to its retention, and
   whatever the face adds (its upload sweep).
4. :func:`buzz_watch`: every SENTIMENT_BUZZ_CHECK_SECONDS, the bad-buzz detector over the
   shared prediction log (one alert for all replicas).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from sentiment import lifecycle
from sentiment.config import Settings, check_writable, is_postgres
from sentiment.errors import SentimentError
from sentiment.infra import durable
from sentiment.monitoring import buzz
from sentiment.serving.service import SentimentService

log = logging.getLogger("app")


def prepare(settings: Settings) -> durable.Syncer:
    """Steps before serving (raises SettingsError for an unwritable home); returns the
    running syncer of the databases' copies."""
    check_writable(settings.home)
    if not settings.tracking_uri.startswith("sqlite:") and \
            not is_postgres(settings.database_url):
        log.warning("MLFLOW_TRACKING_URI is shared but SENTIMENT_DATABASE_URL is not: "
                    "lifecycle locks and monitoring hold for this replica only (README, "
                    "'Several replicas').")
    restored = durable.restore(settings)  # a new container: databases from the home
    if restored:
        log.info("restored %s from %s", ", ".join(restored), settings.home)
    syncer = durable.Syncer(settings).start()

    def stop(signum: int, frame: Any) -> None:  # a Space stopping: last copy, then close
        syncer.stop()
        durable.save(settings)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return syncer


def follow_moves(settings: Settings) -> Callable[[str | None, str], None]:
    """What the model server calls when the served version changed: the registry's tags
    and history made to agree with the alias, and a line when the move was made outside
    the app (the MLflow UI)."""
    def followed(previous: str | None, new: str) -> None:
        state = lifecycle.reconcile(settings)
        if state["moved_outside"]:
            log.warning("the production alias was moved outside the app (version %s -> "
                        "%s); tags and history now follow it", previous, new)
    return followed


def first_start(settings: Settings, service: Callable[[], SentimentService],
                ready: threading.Event) -> threading.Thread:
    """The first-start bootstrap without blocking the page (see the module's step 2)."""
    def run() -> None:
        try:
            lifecycle.reconcile(settings)
            service().server.on_move = follow_moves(settings)
            result = lifecycle.bootstrap_baseline(settings, log=log.info)
            log.info(result["message"])
            service().server.snapshot()  # the production model, before the first request
        except SentimentError:
            log.exception("bootstrap failed")
        finally:
            ready.set()
        try:
            outcome = lifecycle.bootstrap_challenger(settings, log=log.info)
            log.info(outcome["message"])
            if outcome.get("promoted"):
                service().server.refresh()
        except SentimentError:
            log.exception("the first-start challenger failed; the baseline stays in production")
    ready.clear()
    thread = threading.Thread(target=run, daemon=True, name="bootstrap")
    thread.start()
    return thread


def housekeeping(settings: Settings, service: Callable[[], SentimentService],
                 also: Callable[[], int] | None = None, period_s: float | None = None
                 ) -> threading.Thread:
    """Now and then: the prediction log pruned to SENTIMENT_PREDICTION_RETENTION_DAYS and
    SENTIMENT_PREDICTION_MAX_ROWS, and ``also()`` (the face's sweep; it returns how many
    files it removed). Every SENTIMENT_RESULT_TTL_SECONDS / 4 by default."""
    period = period_s or max(60.0, settings.result_ttl_seconds / 4)

    def run() -> None:
        while True:
            try:
                removed = also() if also else 0
                pruned = service().store.prune(settings.prediction_retention_days,
                                               settings.prediction_max_rows)
                if removed or pruned:
                    log.info("housekeeping: %d old uploads removed, %d predictions pruned",
                             removed, pruned)
            except (OSError, SentimentError):
                log.exception("housekeeping failed; it runs again in %.0f s", period)
            time.sleep(period)

    thread = threading.Thread(target=run, daemon=True, name="housekeeping")
    thread.start()
    return thread


def buzz_watch(settings: Settings, service: Callable[[], SentimentService],
               stop: threading.Event | None = None) -> threading.Thread | None:
    """The bad-buzz detector, off the request path: a check every
    SENTIMENT_BUZZ_CHECK_SECONDS (at most a minute) until ``stop`` is set; None when
    SENTIMENT_BUZZ_MIN_TEXTS=0. A check that fails (the store unreachable) is logged and
    the next one runs on time."""
    if not settings.buzz_min_texts:
        return None
    period = settings.buzz_check_seconds
    stop = stop or threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                buzz.detector(service().store, settings).check()
            except (OSError, ValueError, SentimentError):
                log.exception("the bad-buzz check failed; it runs again in %.0f s", period)
            stop.wait(period)

    thread = threading.Thread(target=run, daemon=True, name="buzz-watch")
    thread.start()
    return thread
