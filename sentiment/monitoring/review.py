"""The review queue: served predictions that most need a human label, and what they become.

The queue lists recent predictions nobody has labelled yet (served one by one, in the UI
or over the API: the rows of a batch file would crowd them out), those reported wrong first,
then the least confident (probability closest to 0.5): the rows where a label teaches
the next model most. A reviewer gives each its true label (:func:`label`); the labelled
rows then become one training dataset (:func:`to_dataset`), parsed and recorded like any
upload, with ``origin = review queue`` and its name as tags. Rows already turned into a
dataset leave the queue and the pool, so each label is used once.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd

from sentiment.config import Settings, get_settings
from sentiment.data.ingest import parse_csv, record
from sentiment.data.textcheck import visible
from sentiment.errors import InvalidInputError
from sentiment.monitoring.store import get_store

LABELS = ("positive", "negative")
ORIGIN = "review queue"
RECENT = 5000  # the queue looks at the latest predictions served, not the whole history

QUEUE_SQL = """
SELECT p.id AS prediction_id, p.ts, p.text, p.label AS predicted_label,
       p.proba_positive, p.model_version,
       CASE WHEN w.prediction_id IS NULL THEN 0 ELSE 1 END AS reported_wrong
FROM predictions p
LEFT JOIN review_labels r ON r.prediction_id = p.id
LEFT JOIN (SELECT DISTINCT prediction_id FROM feedback
           WHERE is_correct = 0 AND verified = 1 AND prediction_id IS NOT NULL) w
       ON w.prediction_id = p.id
WHERE r.prediction_id IS NULL AND p.source <> 'batch'
  AND p.id > (SELECT COALESCE(MAX(id), 0) FROM predictions) - :recent
ORDER BY reported_wrong DESC, ABS(p.proba_positive - 0.5) ASC, p.id DESC
LIMIT :limit
"""
LABELLED_SQL = """
SELECT r.prediction_id, p.text, r.label FROM review_labels r
JOIN predictions p ON p.id = r.prediction_id
WHERE r.dataset_id IS NULL ORDER BY r.prediction_id
"""


def queue(settings: Settings | None = None, limit: int = 50) -> pd.DataFrame:
    """Predictions awaiting a label: reported wrong first, then the least confident."""
    settings = settings or get_settings()
    frame = get_store(settings).query(QUEUE_SQL, {"recent": RECENT, "limit": int(limit)})
    frame["confidence"] = (frame["proba_positive"] - 0.5).abs().add(0.5).round(4)
    frame["reason"] = frame["reported_wrong"].map({1: "reported wrong", 0: "low confidence"})
    frame["time"] = pd.to_datetime(frame["ts"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame[["prediction_id", "time", "text", "predicted_label", "confidence",
                  "reason", "model_version"]]


def prediction_id_of(value: int | str) -> int:
    """A prediction id as a caller sent it (a number, or its text), or a clear refusal."""
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise InvalidInputError(f"prediction_id must be a number, got {value!r}.") from exc


def label(prediction_id: int | str, value: str, reviewer: str | None = None,
          settings: Settings | None = None) -> dict[str, Any]:
    """Give one served prediction its true label (``positive`` or ``negative``)."""
    value = str(value or "").strip().lower()
    if value not in LABELS:
        raise InvalidInputError(f"label must be one of {list(LABELS)}, got {value!r}.")
    pid = prediction_id_of(prediction_id)
    try:
        outcome = get_store(settings or get_settings()).label_prediction(pid, value, reviewer)
    except (LookupError, ValueError) as exc:
        raise InvalidInputError(f"Cannot label: {exc}.") from exc
    return {"prediction_id": pid, "label": value, "status": outcome,
            "message": f"Prediction {pid} {outcome} {value}."}


def labelled(settings: Settings | None = None) -> pd.DataFrame:
    """Labels given and not yet turned into a dataset."""
    return get_store(settings or get_settings()).query(LABELLED_SQL)


def to_dataset(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """Turn every label not yet used into one training dataset named ``name``.

    The rows go through the same parsing and checks as an upload (both classes needed),
    and are marked used only once the dataset is recorded: a refusal changes nothing.
    """
    settings = settings or get_settings()
    name = visible(name or "")[:120]
    if not name:
        raise InvalidInputError("Give the new dataset a name.")
    rows = labelled(settings)
    if rows.empty:
        raise InvalidInputError("No labelled rows to turn into a dataset: label some rows of "
                                "the review queue first.")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    writer.writerows(zip(rows["text"], rows["label"], strict=True))
    parsed = parse_csv(buffer.getvalue().encode("utf-8"), settings)
    summary = record(parsed, "training", f"{name}.csv", settings,
                     {"name": name, "origin": ORIGIN})
    get_store(settings).mark_used(rows["prediction_id"].tolist(), str(summary["dataset_id"]))
    return {**summary, "name": name, "origin": ORIGIN, "labelled_rows": len(rows)}
