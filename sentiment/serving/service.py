"""Prediction as a service: serve, time and log every prediction; take feedback.

One :class:`SentimentService` per process holds the model cache and the monitoring
store (shared application state; per-user state lives in the UI). Batch files are read
with the same limits as uploads and written back formula-safe.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.config import Settings, get_settings
from sentiment.data.csvread import REPAIRED, Records, align, decode, read_records
from sentiment.data.ingest import read_upload, text_column
from sentiment.data.textcheck import has_content
from sentiment.errors import InvalidInputError, NotFoundError
from sentiment.infra import results
from sentiment.infra.csvsafe import write_csv
from sentiment.models.preprocess import well_formed
from sentiment.monitoring.alerts import check_and_alert
from sentiment.monitoring.store import (
    LoggedPrediction,
    MonitoringStore,
    MonitoringUnavailable,
    get_store,
)
from sentiment.serving.server import ModelServer

LABELS = ("positive", "negative")
log = logging.getLogger(__name__)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (a repeated name gets a number) so each can be addressed."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def registry_note(state: dict[str, Any]) -> str:
    """``ok``, or since when the registry has been unreachable and what is served."""
    if state["reachable"]:
        return "ok"
    since = time.strftime("%H:%M:%S", time.localtime(state["since"] or time.time()))
    return (f"The model registry has been unreachable since {since} ({state['error']}); "
            f"serving version {state['serving']} from memory. Models, training and "
            "promotion come back when it answers.")


class SentimentService:
    """Predict, batch-predict and record feedback, logging everything to monitoring."""

    def __init__(self, settings: Settings | None = None, log_predictions: bool = True) -> None:
        self.settings = settings or get_settings()
        self.server = ModelServer(self.settings)
        self.store: MonitoringStore = get_store(self.settings)
        self.log_predictions = log_predictions

    def predict(self, text: str, source: str = "api") -> dict[str, Any]:
        """One prediction with its confidences, the model that answered and the latency."""
        started = time.perf_counter()
        prediction = self.server.predict_one(text)
        latency = (time.perf_counter() - started) * 1000
        ids, logging_state = self._log([LoggedPrediction(
            prediction.text, prediction.label, prediction.proba_positive, prediction.version,
            latency, source)])
        prediction_id = ids[0] if ids else None
        return {"label": prediction.label, "proba_positive": prediction.proba_positive,
                "confidences": {"positive": prediction.proba_positive,
                                "negative": 1.0 - prediction.proba_positive},
                "confidence": prediction.confidence, "model_name": self.settings.model_name,
                "version": prediction.version, "model_type": prediction.model_type,
                "latency_ms": round(latency, 2), "prediction_id": prediction_id,
                "logging": logging_state, "registry": registry_note(
                    self.server.registry_status())}

    def predict_many(self, texts: list[str], source: str = "rest") -> dict[str, Any]:
        """Predict 1 to ``max_batch_rows`` texts with one model snapshot and log them in
        one write (the REST API's path: one prediction id per text, for feedback)."""
        if not texts:
            raise InvalidInputError("Send at least one text.")
        for number, text in enumerate(texts, 1):
            if not isinstance(text, str) or not has_content(text):
                raise InvalidInputError(f"Text {number} is empty (or only invisible "
                                        "characters).")
        started = time.perf_counter()
        predictions = self.server.predict(texts)
        per_text = (time.perf_counter() - started) * 1000 / len(texts)
        ids, logging_state = self._log([LoggedPrediction(
            p.text, p.label, p.proba_positive, p.version, per_text, source)
            for p in predictions])
        first = predictions[0]
        return {"model": {"name": self.settings.model_name, "version": first.version,
                          "type": first.model_type},
                "predictions": [{"label": p.label, "proba_positive": p.proba_positive,
                                 "prediction_id": ids[i] if ids else None}
                                for i, p in enumerate(predictions)],
                "logging": logging_state}

    def feedback_on(self, prediction_id: int, is_correct: bool,
                    corrected_label: str | None = None,
                    comment: str | None = None) -> dict[str, Any]:
        """Feedback on a served prediction named by its id alone (programs keep the id,
        not the text); an id this service never served is refused."""
        row = self.store.prediction_row(int(prediction_id))
        if row is None:
            raise NotFoundError(f"No served prediction has the id {prediction_id} (or it "
                                "has expired from the prediction log).")
        return self.feedback(row["text"], row["label"], is_correct, int(prediction_id),
                             corrected_label, comment)

    def explain(self, text: str) -> dict[str, Any]:
        """The production model's label for ``text`` and each word's weight towards
        positive (> 0) or negative (< 0); see :mod:`sentiment.models.explain`. Not logged as a
        served prediction."""
        from sentiment.models.explain import explain

        if not has_content(text):
            raise InvalidInputError("Type a text to explain (it is empty).")
        text = well_formed(text)
        if len(text) > self.settings.max_text_chars:
            raise InvalidInputError(f"The text is {len(text)} characters; the limit is "
                                    f"{self.settings.max_text_chars}.")
        snap = self.server.snapshot()
        proba = float(snap.model.predict_proba([text])[0])
        result = explain(snap.model, text)
        return {"label": "positive" if proba >= 0.5 else "negative", "proba_positive": proba,
                "confidences": {"positive": proba, "negative": 1.0 - proba},
                "version": snap.version, "model_type": snap.model_type, **result}

    def _log(self, rows: list[LoggedPrediction]) -> tuple[list[int], str]:
        """Log served predictions; a failing store never fails the prediction: the rows
        are counted as unlogged and the store heals or reports itself degraded."""
        if not self.log_predictions:
            return [], "off"
        try:
            return self.store.log_predictions(rows), "ok"
        except MonitoringUnavailable as exc:
            health = getattr(self.store, "health", {})
            health["unlogged"] = health.get("unlogged", 0) + len(rows)
            log.error("%d prediction(s) served but not logged: %s", len(rows), exc)
            return [], "degraded: served but not logged (monitoring store unavailable)"

    def read_batch(self, path: str) -> tuple[pd.DataFrame, str, Records]:
        """Read a CSV of texts to classify: the rows, the text column, and what was
        repaired or dropped (with the lines) so that every line is accounted for."""
        content = read_upload(path, self.settings)
        if not content.strip():
            raise InvalidInputError("The file is empty: expected a CSV with a text column.")
        records = [r for r in read_records(decode(content)[0]) if r[1]]
        if not records:
            raise InvalidInputError("The file is empty: expected a CSV with a text column.")
        names = _unique([str(c).strip() for c in records[0][1]])
        known = text_column(names)
        if known is not None:
            rows = align(records, names.index(known))
            frame, column = pd.DataFrame(rows.rows, columns=names), known
        else:  # no header we know (Sentiment140 has none): the longest texts win
            rows = align(records, None, first_data=0)
            frame = pd.DataFrame(rows.rows, columns=[f"column_{i + 1}"
                                                     for i in range(len(records[0][1]))])
            lengths = {c: frame[c].str.len().mean() for c in frame.columns}
            column = max(lengths, key=lambda c: lengths[c])
            if lengths[column] < 8:
                raise InvalidInputError("No text column found: expected a column named text, "
                                        "tweet, review or Avis (or a column of texts).")
            rows = align(records, list(frame.columns).index(column), first_data=0)
            frame = pd.DataFrame(rows.rows, columns=frame.columns)
        if frame.empty:
            raise InvalidInputError("The file has a header but no rows.")
        if len(frame) > self.settings.max_batch_rows:
            raise InvalidInputError(f"The file has {len(frame):,} rows; the limit is "
                                    f"{self.settings.max_batch_rows:,}.")
        return frame, column, rows

    def predict_file(self, path: str, owner: str = "api"
                     ) -> tuple[str, dict[str, Any], pd.DataFrame]:
        """Classify every row of a CSV; return the result CSV path (an expiring file of
        ``owner``, see :mod:`sentiment.infra.results`), a summary and the frame."""
        frame, column, rows = self.read_batch(path)
        texts = frame[column].astype(str).str.slice(0, self.settings.max_text_chars).tolist()
        started = time.perf_counter()
        predictions = self.server.predict(texts)
        seconds = time.perf_counter() - started
        frame = frame.copy()
        frame["label"] = [p.label for p in predictions]
        frame["proba_positive"] = [round(p.proba_positive, 4) for p in predictions]
        version = predictions[0].version
        per_row = seconds * 1000 / len(texts)
        _, logging_state = self._log([LoggedPrediction(p.text, p.label, p.proba_positive,
                                                       p.version, per_row, "batch")
                                      for p in predictions])
        out = results.new_path(self.settings, owner, f"{Path(path).stem[:60]}_predictions.csv")
        write_csv(frame, out)
        counts = frame["label"].value_counts().to_dict()
        summary = {"rows": len(frame), "text_column": str(column), "version": version,
                   "positive": int(counts.get("positive", 0)),
                   "negative": int(counts.get("negative", 0)),
                   "dropped": rows.counts.get("missing fields", 0)
                   + rows.counts.get("extra fields", 0) + rows.counts.get("blank line", 0),
                   "repaired": rows.counts.get(REPAIRED, 0), "lines": rows.lines,
                   "seconds": round(seconds, 3), "logging": logging_state,
                   "rows_per_second": round(len(frame) / max(seconds, 1e-9))}
        return str(out), summary, frame

    def feedback(self, text: str, predicted_label: str, is_correct: bool,
                 prediction_id: int | None = None, corrected_label: str | None = None,
                 comment: str | None = None) -> dict[str, Any]:
        """Record whether a prediction was right; a wrong one may raise an alert."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("Feedback needs the text that was classified.")
        text = well_formed(text)
        if predicted_label not in LABELS:
            raise InvalidInputError(f"predicted_label must be one of {list(LABELS)}, "
                                    f"got {predicted_label!r}.")
        if corrected_label in (None, ""):
            corrected_label = None if is_correct else \
                ("negative" if predicted_label == "positive" else "positive")
        feedback_id = self.store.add_feedback(prediction_id, text[:self.settings.max_text_chars],
                                              predicted_label, bool(is_correct), corrected_label,
                                              (comment or "")[:1000] or None)
        verified = self.store.feedback_verified(feedback_id)
        alert = None if is_correct or not verified else check_and_alert(self.store,
                                                                        self.settings)
        note = "" if verified else (" It matches no prediction served with that label (or "
                                    "that prediction was already reported), so it is kept "
                                    "apart as unverified: it counts in no alert or export.")
        return {"feedback_id": feedback_id, "recorded": True, "is_correct": bool(is_correct),
                "verified": verified, "alert_raised": alert is not None,
                "message": "Thanks, feedback recorded." + note + (
                    f" Alert #{alert['id']} raised: {alert['n_wrong']} wrong predictions "
                    "reported recently." if alert else "")}
