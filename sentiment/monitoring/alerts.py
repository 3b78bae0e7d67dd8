"""Alerts: N wrong-prediction reports within a window (``wrong_prediction_burst``), and
the bad buzz that :mod:`sentiment.monitoring.buzz` detects (``bad_buzz``).

After a wrong report the rule is checked (atomically, in the store); when it fires, the
alert is recorded at once and delivered off the request path by a background thread, by
e-mail (``smtplib``, optional STARTTLS and login) and/or a webhook POST with a JSON body.
Each channel is retried a bounded number of times; the outcome is stored on the alert.
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import time
import urllib.request
from email.message import EmailMessage
from typing import Any

from sentiment.config import Settings
from sentiment.monitoring.store import BURST, BUZZ, MonitoringStore

log = logging.getLogger(__name__)
ATTEMPTS = 3
BACKOFF_S = 0.5


def check_and_alert(store: MonitoringStore, settings: Settings,
                    background: bool = True) -> dict[str, Any] | None:
    """Fire the alert if the rule holds now; deliver it in a thread. Return the alert."""
    alert = store.claim_alert(settings.alert_threshold, settings.alert_window_seconds,
                              settings.alert_cooldown_seconds)
    if alert is None:
        return None
    if background:
        threading.Thread(target=deliver, args=(alert, store, settings), daemon=True).start()
    else:
        deliver(alert, store, settings)
    return alert


def _message(alert: dict[str, Any], settings: Settings) -> tuple[str, str]:
    if alert.get("kind") == BUZZ:
        lines = [alert["summary"], "", "Examples:"]
        lines += [f"- {t[:280]}" for t in alert["examples"]]
        lines += ["", "Terms most over-represented in the negative texts (count now, usually):"]
        lines += [f"- {term}: {alert['term_counts'].get(term, '?')}" for term in alert["terms"]]
        subject = (f"[tweet-sentiment] bad buzz: {alert['negative_texts']} negative texts, "
                   f"{alert['negative_share']:.0%} negative (usually "
                   f"{alert['baseline_share']:.0%})")
        return subject, "\n".join(lines)
    minutes = alert["window_s"] / 60
    subject = (f"[tweet-sentiment] {alert['n_wrong']} wrong predictions in {minutes:g} min "
               f"(model version {', '.join(alert['model_versions'])})")
    lines = [subject, "", "Texts reported as wrongly classified:"]
    lines += [f"- {t[:280]}" for t in alert["texts"][:20]]
    return subject, "\n".join(lines)


def send_email(alert: dict[str, Any], settings: Settings) -> None:
    """Send the alert by SMTP (raises on failure)."""
    subject, body = _message(alert, settings)
    message = EmailMessage()
    message["Subject"], message["From"] = subject, settings.alert_from
    message["To"] = ", ".join(settings.alert_to)
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host or "localhost", settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


def send_webhook(alert: dict[str, Any], settings: Settings) -> None:
    """POST the alert as JSON to the webhook (raises on failure or a non-2xx answer)."""
    subject, _ = _message(alert, settings)
    if alert.get("kind") == BUZZ:
        body = json.dumps({**alert, "event": BUZZ}).encode()
    else:
        body = json.dumps({"event": BURST, "summary": subject, **alert}).encode()
    # The URL is checked to be http(s) by the settings, so no file: or custom scheme.
    request = urllib.request.Request(settings.alert_webhook or "", data=body,  # noqa: S310
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise OSError(f"webhook answered HTTP {response.status}")


def _channels(settings: Settings) -> dict[str, Any]:
    channels = {}
    if settings.smtp_host and settings.alert_to:
        channels["email"] = send_email
    if settings.alert_webhook:
        channels["webhook"] = send_webhook
    return channels


def deliver(alert: dict[str, Any], store: MonitoringStore, settings: Settings) -> str:
    """Send on every configured channel with bounded retries; store and return the status."""
    results = {}
    for name, send in _channels(settings).items():
        error = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                send(alert, settings)
                error = ""
                break
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("alert %s via %s failed (attempt %d): %s", alert["id"], name,
                            attempt, error)
                time.sleep(BACKOFF_S * attempt)
        results[name] = "sent" if not error else f"failed ({error})"
    if not results:
        status, detail = "recorded", "no channel configured (set SENTIMENT_SMTP_HOST or webhook)"
    else:
        ok = [n for n, r in results.items() if r == "sent"]
        status = "sent" if len(ok) == len(results) else "partial" if ok else "failed"
        detail = "; ".join(f"{n}: {r}" for n, r in results.items())
    store.set_alert_status(alert["id"], status, detail)
    return status
