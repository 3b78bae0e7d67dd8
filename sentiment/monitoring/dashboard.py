"""Monitoring read side: summaries, time series, drift and formula-safe exports.

Everything here reads the monitoring store (and, for drift, the production model's
validation data through the registry); nothing writes, so the Monitor tab can refresh
as often as it likes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError
from sentiment.infra import results
from sentiment.infra.csvsafe import write_csv
from sentiment.monitoring.store import MonitoringStore, MonitoringUnavailable, get_store

_baselines: dict[tuple[str, str], dict[str, float]] = {}


def _store(settings: Settings) -> MonitoringStore:
    return get_store(settings)



def summary(settings: Settings | None = None) -> dict[str, Any]:
    """Totals of predictions, feedback and alerts, accuracy from feedback, latest alerts,
    and whether logging works (``logging``: ok, or degraded with the reason)."""
    settings = settings or get_settings()
    store = _store(settings)
    try:
        totals = store.query(
            "SELECT COUNT(*) AS n, AVG(latency_ms) AS mean_latency_ms,"
            " CAST(AVG(CASE WHEN label = 'positive' THEN 1.0 ELSE 0.0 END) AS FLOAT)"
            " AS positive_rate FROM predictions").iloc[0]
        feedback = store.query(  # portable SQL: no boolean arithmetic
            "SELECT SUM(CASE WHEN verified = 1 THEN 1 ELSE 0 END) AS n,"
            " SUM(CASE WHEN verified = 1 AND is_correct = 0 THEN 1 ELSE 0 END) AS wrong,"
            " SUM(CASE WHEN verified = 0 THEN 1 ELSE 0 END) AS unverified FROM feedback"
        ).iloc[0]
        n_alerts = int(store.query("SELECT COUNT(*) AS n FROM alerts").iloc[0]["n"])
        latest = alerts(settings, limit=5).to_dict(orient="records")
    except MonitoringUnavailable as exc:
        return {"logging": _health(store), "message": str(exc)}
    n_feedback, wrong = int(feedback["n"] or 0), int(feedback["wrong"] or 0)
    return {
        "logging": _health(store),
        "predictions": int(totals["n"]),
        "mean_latency_ms": _round(totals["mean_latency_ms"]),
        "positive_rate": _round(totals["positive_rate"]),
        "feedback": n_feedback, "wrong": wrong,
        "unverified_feedback": int(feedback["unverified"] or 0),
        "accuracy_from_feedback": _round(1 - wrong / n_feedback) if n_feedback else None,
        "alerts": n_alerts, "latest_alerts": latest,
        "retention": _retention(settings),
        "alert_rule": f"{settings.alert_threshold} wrong reports within "
                      f"{settings.alert_window_seconds} s, cool-down "
                      f"{settings.alert_cooldown_seconds} s",
        "buzz_rule": _buzz_rule(settings),
    }


def _buzz_rule(settings: Settings) -> str:
    """The bad-buzz detector's rule in words."""
    if not settings.buzz_min_texts:
        return "off (SENTIMENT_BUZZ_MIN_TEXTS=0)"
    return (f"the last {settings.buzz_window_seconds} s against the "
            f"{settings.buzz_baseline_seconds} s before, at least {settings.buzz_min_texts} "
            f"negative texts, false-alarm rate {settings.buzz_alpha:g} per check, checked every "
            f"{settings.buzz_check_seconds:g} s, cool-down {settings.buzz_cooldown_seconds} s")


def buzz_alerts(settings: Settings | None = None, limit: int = 20) -> pd.DataFrame:
    """The latest bad-buzz alerts: when, the negative share now and usually, how many
    texts, the terms, and the delivery status (the examples are in :func:`buzz_detail`)."""
    settings = settings or get_settings()
    frame = _store(settings).query(
        "SELECT id, ts, status, payload FROM alerts WHERE kind = 'bad_buzz'"
        " ORDER BY ts DESC LIMIT :limit", {"limit": limit})
    found = [json.loads(p or "{}") for p in frame["payload"]]
    out = pd.DataFrame({
        "id": frame["id"].astype(int), "ts": frame["ts"],
        "negative_share": [f.get("negative_share") for f in found],
        "baseline_share": [f.get("baseline_share") for f in found],
        "negative_texts": [f.get("negative_texts") for f in found],
        "since": [f.get("since") for f in found],
        "terms": [", ".join(f.get("terms", [])) for f in found],
        "status": frame["status"]})
    return _readable_time(out, keep_ts=True)


def buzz_detail(alert_id: int | str, settings: Settings | None = None) -> dict[str, Any]:
    """One bad-buzz alert's finding: the sentence, the terms with their counts, and the
    example texts (``alert_id`` as a caller sent it: a number, or refused)."""
    settings = settings or get_settings()
    try:
        alert_id = int(str(alert_id).strip())
    except ValueError as exc:
        raise InvalidInputError(f"An alert id is a number, got {alert_id!r}.") from exc
    frame = _store(settings).query(
        "SELECT payload, status, detail FROM alerts WHERE id = :id AND kind = 'bad_buzz'",
        {"id": int(alert_id)})
    if frame.empty:
        raise InvalidInputError(f"No bad-buzz alert with id {alert_id}.")
    finding = json.loads(frame["payload"].iloc[0] or "{}")
    return {"id": int(alert_id), **finding, "delivery": str(frame["status"].iloc[0]),
            "delivery_detail": frame["detail"].iloc[0]}


def negative_share(settings: Settings | None = None, span_s: int = 86_400,
                   now: float | None = None) -> pd.DataFrame:
    """The negative share per window-long bucket over the last ``span_s``, with the
    baseline's share over the buckets before it and its band (+-2 standard errors of a
    bucket of that volume): the Monitor tab's picture of the detector."""
    settings = settings or get_settings()
    now = time.time() if now is None else now
    bucket = settings.buzz_window_seconds
    per = max(1, settings.buzz_baseline_seconds // bucket)
    frame = _store(settings).query(
        "SELECT ts, label FROM predictions WHERE ts >= :since AND ts < :now",
        {"since": now - span_s - settings.buzz_baseline_seconds, "now": now})
    columns = ["time", "negative_share", "baseline_share", "band_low", "band_high", "texts"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["bucket"] = ((frame["ts"] - now) // bucket).astype(int)
    frame["negative"] = (frame["label"] == "negative").astype(int)
    grouped = frame.groupby("bucket").agg(texts=("ts", "size"), negative=("negative", "sum"))
    full = grouped.reindex(range(int(grouped.index.min()), 0), fill_value=0)
    base_n = full["texts"].rolling(per, min_periods=1).sum().shift(1)
    base_k = full["negative"].rolling(per, min_periods=1).sum().shift(1)
    out = full.assign(negative_share=full["negative"] / full["texts"].where(full["texts"] > 0),
                      baseline_share=base_k / base_n.where(base_n > 0))
    spread = 2 * np.sqrt(out["baseline_share"] * (1 - out["baseline_share"])
                         / out["texts"].where(out["texts"] > 0))
    out["band_low"] = (out["baseline_share"] - spread).clip(lower=0)
    out["band_high"] = (out["baseline_share"] + spread).clip(upper=1)
    out = out[out.index >= -(span_s // bucket)].round(4)
    out["time"] = pd.to_datetime(now + (out.index.to_numpy() + 1) * bucket, unit="s")
    return out.reset_index(drop=True)[columns]


def _retention(settings: Settings) -> str:
    """How long the prediction log keeps its rows (the app prunes it on a schedule)."""
    days, rows = settings.prediction_retention_days, settings.prediction_max_rows
    parts = [f"{days:g} days" if days else "", f"at most {rows:,} rows" if rows else ""]
    kept = ", ".join(p for p in parts if p)
    return f"predictions are kept {kept}" if kept else "predictions are kept for good"


def _health(store: MonitoringStore) -> str:
    health = getattr(store, "health", {"status": "ok", "unlogged": 0})
    if health["status"] == "ok" and not health.get("unlogged"):
        return "ok"
    return (f"{health['status']}: {health.get('unlogged', 0)} predictions served but not "
            f"logged" + (f" ({health['reason']})" if health.get("reason") else "")
            + (f"; an unreadable store was moved aside to {health['moved_aside']}"
               if health.get("moved_aside") else ""))


def _readable_time(frame: pd.DataFrame, keep_ts: bool = False) -> pd.DataFrame:
    """Add a readable ``time`` from the epoch-seconds ``ts`` column (dropped unless kept)."""
    frame["time"] = pd.to_datetime(frame["ts"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame if keep_ts else frame.drop(columns="ts")


def _round(value: Any, digits: int = 4) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), digits)


def timeseries(settings: Settings | None = None, bucket_s: int = 60,
               since_s: int = 86_400) -> pd.DataFrame:
    """Per time bucket: volume, p50-ish mean latency, positive rate and mean confidence."""
    settings = settings or get_settings()
    frame = _store(settings).query(
        "SELECT ts, latency_ms, label, proba_positive FROM predictions WHERE ts >= :since",
        {"since": time.time() - since_s})
    positive = frame["label"] == "positive"
    frame = frame.assign(bucket=(frame["ts"] // bucket_s) * bucket_s,
                         positive=positive.astype(float),
                         confidence=frame["proba_positive"].where(
                             positive, 1 - frame["proba_positive"]))
    grouped = frame.groupby("bucket", sort=True).agg(
        predictions=("ts", "size"), latency_ms=("latency_ms", "mean"),
        positive_rate=("positive", "mean"), mean_confidence=("confidence", "mean"))
    grouped = grouped.reset_index()
    grouped["time"] = pd.to_datetime(grouped["bucket"], unit="s")
    return grouped.drop(columns="bucket")


def accuracy_by_version(settings: Settings | None = None) -> pd.DataFrame:
    """Accuracy from feedback, per model version."""
    settings = settings or get_settings()
    return _store(settings).query(
        "SELECT COALESCE(model_version, 'unknown') AS model_version, COUNT(*) AS feedback,"
        " SUM(is_correct) AS correct, CAST(AVG(CAST(is_correct AS FLOAT)) AS FLOAT) AS accuracy"
        " FROM feedback WHERE verified = 1"
        " GROUP BY model_version ORDER BY model_version").round({"accuracy": 4})


def alerts(settings: Settings | None = None, limit: int = 20) -> pd.DataFrame:
    """Latest alerts with their delivery status."""
    settings = settings or get_settings()
    frame = _store(settings).query(
        "SELECT id, ts, kind, n_wrong, model_versions, status, detail, texts FROM alerts"
        " ORDER BY ts DESC LIMIT :limit", {"limit": limit})
    return _readable_time(frame)


def wrong_predictions(settings: Settings | None = None, limit: int = 1000) -> pd.DataFrame:
    """Latest predictions reported wrong, with the corrected label."""
    settings = settings or get_settings()
    return _readable_time(_store(settings).query(
        "SELECT ts, text, predicted_label, corrected_label, model_version, comment"
        " FROM feedback WHERE is_correct = 0 AND verified = 1 ORDER BY ts DESC LIMIT :limit",
        {"limit": limit}))


def _write_csv(frame: pd.DataFrame, name: str, settings: Settings, owner: str) -> str:
    return str(write_csv(frame, results.new_path(settings, owner, name)))


def export_predictions(settings: Settings | None = None, owner: str = "api") -> str:
    """The whole prediction log as a formula-safe CSV; returns its path."""
    settings = settings or get_settings()
    frame = _store(settings).query("SELECT * FROM predictions ORDER BY id")
    return _write_csv(_readable_time(frame, keep_ts=True), "prediction_log.csv", settings, owner)


def export_corrections(settings: Settings | None = None, owner: str = "api") -> str:
    """Wrong predictions with corrected labels as ``text,label``: ingestible as training data."""
    settings = settings or get_settings()
    frame = _store(settings).query(
        "SELECT text, corrected_label AS label FROM feedback WHERE is_correct = 0"
        " AND verified = 1"
        " AND corrected_label IN ('positive', 'negative') ORDER BY ts")
    return _write_csv(frame.drop_duplicates("text"), "corrections_training.csv", settings,
                      owner)


def drift(settings: Settings | None = None, window: int = 500) -> dict[str, Any]:
    """Compare the latest predictions with the production model's validation data."""
    settings = settings or get_settings()
    version = registry.production_version(settings)
    recent = _store(settings).query(
        "SELECT label, proba_positive, text_length FROM predictions WHERE source != 'batch'"
        " ORDER BY id DESC LIMIT :window", {"window": window})
    if version is None or recent.empty:
        return {"status": "not enough data", "version": version, "recent_predictions": len(recent)}
    base = _baseline(version, settings)
    confidence = recent["proba_positive"].where(recent["label"] == "positive",
                                                1 - recent["proba_positive"])
    now = {"positive_rate": float((recent["label"] == "positive").mean()),
           "mean_confidence": float(confidence.mean()),
           "mean_text_length": float(recent["text_length"].mean())}
    rows, drifted = [], []
    for key, value in now.items():
        reference = base[key]
        change = value - reference if key != "mean_text_length" else \
            (value - reference) / max(reference, 1.0)
        flag = abs(change) > settings.drift_bound
        drifted += [key] if flag else []
        rows.append({"measure": key, "recent": round(value, 4), "validation": round(reference, 4),
                     "change": round(change, 4), "drift": flag})
    return {"status": "drift" if drifted else "ok", "drifted": drifted, "version": version,
            "recent_predictions": len(recent), "bound": settings.drift_bound, "measures": rows}


def _baseline(version: str, settings: Settings) -> dict[str, float]:
    """Positive rate, mean confidence and text length of the model on its validation data."""
    info = registry.get_version(version, settings)
    # Validated on several datasets: the first one (ids are comma-separated).
    dataset_id = (info["tags"].get("validation_dataset") or
                  info["tags"].get("training_dataset") or "").split(",")[0]
    key = (version, dataset_id or "")
    if key not in _baselines:
        frame, _ = registry.load_dataset(dataset_id, settings)
        proba = registry.load_model(version, settings).predict_proba(frame["text"].tolist())
        proba = pd.Series(proba)
        confidence = proba.where(proba >= 0.5, 1 - proba)
        _baselines[key] = {"positive_rate": float(frame["label"].mean()),
                           "mean_confidence": float(confidence.mean()),
                           "mean_text_length": float(frame["text"].str.len().mean())}
    return _baselines[key]
