"""Prediction as a service: serve, time and log every prediction; take feedback.

One :class:`SentimentService` per process holds the model cache and the monitoring
store (shared application state; per-user state lives in the UI). Batch files are read
with the same limits as uploads and written back formula-safe.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.alerts import check_and_alert
from sentiment.config import Settings, get_settings
from sentiment.csvsafe import escape_frame
from sentiment.data import TEXT_COLUMNS, decode, read_upload
from sentiment.errors import InvalidInputError
from sentiment.monitoring import MonitoringStore, get_store
from sentiment.serving import ModelServer

LABELS = ("positive", "negative")


class SentimentService:
    """Predict, batch-predict and record feedback, logging everything to monitoring."""

    def __init__(self, settings: Settings | None = None, log_predictions: bool = True) -> None:
        self.settings = settings or get_settings()
        self.server = ModelServer(self.settings)
        self.store: MonitoringStore = get_store(self.settings.home)
        self.log_predictions = log_predictions

    def predict(self, text: str, source: str = "api") -> dict[str, Any]:
        """One prediction with its confidences, the model that answered and the latency."""
        started = time.perf_counter()
        prediction = self.server.predict_one(text)
        latency = (time.perf_counter() - started) * 1000
        prediction_id = None
        if self.log_predictions:
            prediction_id = self.store.log_predictions([(
                text, prediction.label, prediction.proba_positive, prediction.version, latency,
                source)])[0]
        return {"label": prediction.label, "proba_positive": prediction.proba_positive,
                "confidences": {"positive": prediction.proba_positive,
                                "negative": 1.0 - prediction.proba_positive},
                "confidence": prediction.confidence, "model_name": self.settings.model_name,
                "version": prediction.version, "model_type": prediction.model_type,
                "latency_ms": round(latency, 2), "prediction_id": prediction_id}

    def read_batch(self, path: str) -> tuple[pd.DataFrame, str]:
        """Read a CSV of texts to classify; return the rows and the name of the text column."""
        content = read_upload(path, self.settings)
        if not content.strip():
            raise InvalidInputError("The file is empty: expected a CSV with a text column.")
        text, _ = decode(content)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise InvalidInputError(f"Could not read the file as CSV ({exc}).") from exc
        lowered = {str(c).strip().lower(): c for c in frame.columns}
        column = next((lowered[n] for n in TEXT_COLUMNS if n in lowered), None)
        if column is None:  # no header we know (Sentiment140 has none): longest texts win
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                header=None)
            frame.columns = [f"column_{i + 1}" for i in range(frame.shape[1])]
            lengths = {c: frame[c].str.len().mean() for c in frame.columns}
            column = max(lengths, key=lambda c: lengths[c])
            if lengths[column] < 8:
                raise InvalidInputError("No text column found: expected a column named text, "
                                        "tweet, review or Avis (or a column of texts).")
        if frame.empty:
            raise InvalidInputError("The file has a header but no rows.")
        if len(frame) > self.settings.max_batch_rows:
            raise InvalidInputError(f"The file has {len(frame):,} rows; the limit is "
                                    f"{self.settings.max_batch_rows:,}.")
        return frame, column

    def predict_file(self, path: str) -> tuple[str, dict[str, Any], pd.DataFrame]:
        """Classify every row of a CSV; return the result CSV path, a summary and the frame."""
        frame, column = self.read_batch(path)
        texts = frame[column].astype(str).str.slice(0, self.settings.max_text_chars).tolist()
        started = time.perf_counter()
        predictions = self.server.predict(texts)
        seconds = time.perf_counter() - started
        frame = frame.copy()
        frame["label"] = [p.label for p in predictions]
        frame["proba_positive"] = [round(p.proba_positive, 4) for p in predictions]
        version = predictions[0].version
        if self.log_predictions:
            per_row = seconds * 1000 / len(texts)
            self.store.log_predictions([(t, p.label, p.proba_positive, p.version, per_row,
                                         "batch") for t, p in zip(texts, predictions)])
        out_dir = Path(tempfile.mkdtemp(prefix="predictions-"))
        out = out_dir / f"{Path(path).stem[:60]}_predictions.csv"
        escape_frame(frame).to_csv(out, index=False)
        counts = frame["label"].value_counts().to_dict()
        summary = {"rows": len(frame), "text_column": str(column), "version": version,
                   "positive": int(counts.get("positive", 0)),
                   "negative": int(counts.get("negative", 0)),
                   "seconds": round(seconds, 3),
                   "rows_per_second": round(len(frame) / max(seconds, 1e-9))}
        return str(out), summary, frame

    def feedback(self, text: str, predicted_label: str, is_correct: bool,
                 prediction_id: int | None = None, corrected_label: str | None = None,
                 comment: str | None = None) -> dict[str, Any]:
        """Record whether a prediction was right; a wrong one may raise an alert."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("Feedback needs the text that was classified.")
        if predicted_label not in LABELS:
            raise InvalidInputError(f"predicted_label must be one of {list(LABELS)}, "
                                    f"got {predicted_label!r}.")
        if corrected_label in (None, ""):
            corrected_label = None if is_correct else \
                ("negative" if predicted_label == "positive" else "positive")
        feedback_id = self.store.add_feedback(prediction_id, text[:self.settings.max_text_chars],
                                              predicted_label, bool(is_correct), corrected_label,
                                              (comment or "")[:1000] or None)
        alert = None if is_correct else check_and_alert(self.store, self.settings)
        return {"feedback_id": feedback_id, "recorded": True, "is_correct": bool(is_correct),
                "alert_raised": alert is not None,
                "message": "Thanks, feedback recorded." + (
                    f" Alert #{alert['id']} raised: {alert['n_wrong']} wrong predictions "
                    "reported recently." if alert else "")}
