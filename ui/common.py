"""What every tab shares: the settings, the prediction service, the two guards (viewer
and admin), who is asking (language, owner, channel), and the concurrency lanes."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import gradio as gr

from sentiment import lifecycle
from sentiment.config import SettingsError, get_settings
from sentiment.errors import SentimentError
from sentiment.serving.service import SentimentService
from ui import security, summaries

log = logging.getLogger("app")
try:
    SETTINGS = get_settings()
except SettingsError as _exc:  # one clear line, not a traceback
    sys.exit(f"error: {_exc}")
security.upload_folder()  # Gradio's upload cache: a folder of this process
_service: SentimentService | None = None
_service_lock = threading.Lock()
ready = threading.Event()  # cleared only while a first-start bootstrap runs
ready.set()

# Concurrency lanes of the events.
ADMIN = {"concurrency_id": "admin", "concurrency_limit": 1}  # training and validation
DATA = {"concurrency_id": "data", "concurrency_limit": 2}  # uploads
# Promote and rollback have their own lane: an emergency rollback never waits for a training.
SWITCH = {"concurrency_id": "switch", "concurrency_limit": 1}
PRIVATE = {"api_visibility": "private"}
QUIET = {**PRIVATE, "show_progress": "hidden"}  # timers: no spinner every few seconds


def service() -> SentimentService:
    """The process-wide prediction service (shared model cache and monitoring store)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = SentimentService(SETTINGS)
        return _service


def serve_latest() -> None:
    """After a promotion or rollback here, swap the served model now (other processes
    notice within SENTIMENT_RELOAD_CHECK_SECONDS)."""
    try:
        service().server.refresh()
    except SentimentError:
        log.exception("the new production version could not be loaded yet")


def mlflow_link() -> str:
    """The MLflow UI of this registry: mounted at /mlflow/, or the remote server."""
    return lifecycle.mlflow_link(SETTINGS)


def viewer(fn: Any) -> Any:
    """Handler any signed-in user (anyone, in the open demo) may call."""
    return security.guarded("viewer", lambda: SETTINGS)(fn)


def admin(fn: Any) -> Any:
    """Handler only the admin may call (when a password is configured)."""
    return security.guarded("admin", lambda: SETTINGS)(fn)


def check_login(username: str, password: str) -> bool:
    """Admin or viewer credentials, throttled per client and per user."""
    return security.check_login(username, password, SETTINGS)


def source_of(request: gr.Request | None) -> str:
    """'api' for gradio_client and other programs, 'ui' for the browser page."""
    headers = getattr(request, "headers", None) or {}
    agent = str(headers.get("user-agent", ""))
    return "ui" if agent.startswith("Mozilla") and "x-gradio-user" not in headers else "api"


def owner_of(request: gr.Request | None) -> str:
    """Who asked: the signed-in user, else the browser session (for per-user files)."""
    return getattr(request, "username", None) or getattr(request, "session_hash", None) or "api"


def language_of(request: gr.Request | None) -> str:
    """The browser's language for the summaries (en or fr)."""
    headers = getattr(request, "headers", None) or {}
    return summaries.language(headers.get("accept-language"))


def user_of(request: gr.Request | None) -> str:
    """The signed-in user's name, or ``local`` in the open demo."""
    return getattr(request, "username", None) or "local"

