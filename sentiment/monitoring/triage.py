"""The triage list: the unhappiest customers first.

The texts predicted negative in the last ``SENTIMENT_BUZZ_BASELINE_SECONDS`` (a day by
default), on every channel, most confidently negative first, with their time and channel;
a person marks one handled and it leaves the list (for every replica: the mark is in the
shared store). The texts are users' words: the faces show this list to the admin only.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError
from sentiment.monitoring.review import prediction_id_of
from sentiment.monitoring.store import get_store

TRIAGE_SQL = """
SELECT p.id AS prediction_id, p.ts, p.text, p.proba_positive, p.source AS channel,
       p.model_version
FROM predictions p LEFT JOIN handled h ON h.prediction_id = p.id
WHERE p.label = 'negative' AND h.prediction_id IS NULL AND p.ts >= :since
ORDER BY p.proba_positive ASC, p.id DESC
LIMIT :limit
"""
COLUMNS = ["prediction_id", "time", "text", "negative_confidence", "channel",
           "model_version"]


def triage(settings: Settings | None = None, limit: int = 100,
           now: float | None = None) -> pd.DataFrame:
    """Recent texts predicted negative and not yet handled, most confident first."""
    settings = settings or get_settings()
    now = time.time() if now is None else now
    frame = get_store(settings).query(TRIAGE_SQL, {
        "since": now - settings.buzz_baseline_seconds, "limit": int(limit)})
    frame["negative_confidence"] = (1 - frame["proba_positive"]).round(4)
    frame["time"] = pd.to_datetime(frame["ts"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame[COLUMNS]


def handle(prediction_id: int | str, user: str | None = None,
           settings: Settings | None = None) -> dict[str, Any]:
    """Mark a served prediction handled (it leaves the triage list); marking it again
    changes nothing and says who did it first."""
    pid = prediction_id_of(prediction_id)
    try:
        new, by, when = get_store(settings or get_settings()).mark_handled(pid, user)
    except LookupError as exc:
        raise InvalidInputError(f"Cannot mark handled: {exc}.") from exc
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when))
    message = (f"Prediction {pid} marked handled; it leaves the triage list." if new else
               f"Prediction {pid} was already handled (by {by or 'someone'} at {stamp} UTC).")
    return {"prediction_id": pid, "handled": True, "newly_handled": new,
            "handled_by": by, "message": message}
