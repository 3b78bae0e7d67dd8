"""Metrics of a model on labelled texts: one function, used by training, validation, the ONNX
export check and the reports, so every number in the product is computed the same way."""

from __future__ import annotations

import numpy as np


def compute_metrics(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every metric the gate and the reports use, at the 0.5 threshold.

    ``recall_negative`` / ``recall_positive`` are the per-class recalls (their mean is the
    balanced accuracy); ``predicted_positive_rate`` beside ``actual_positive_rate`` shows
    a model that leans to one class.
    """
    from sklearn.metrics import confusion_matrix, roc_auc_score

    labels = np.asarray(labels).astype(int)
    proba = np.asarray(proba, dtype=float).reshape(-1)
    predicted = (proba >= 0.5).astype(int)
    tn, fp, fn, tp = (int(x) for x in confusion_matrix(labels, predicted, labels=[0, 1]).ravel())
    total = max(len(labels), 1)
    recall_pos = tp / (tp + fn) if tp + fn else float("nan")
    recall_neg = tn / (tn + fp) if tn + fp else float("nan")
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1_pos = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    f1_neg = 2 * tn / (2 * tn + fn + fp) if tn else 0.0
    present = [r for r in (recall_neg, recall_pos) if r == r]
    both = bool(tp + fn) and bool(tn + fp)
    return {
        "accuracy": (tp + tn) / total,
        "balanced_accuracy": float(np.mean(present)) if present else float("nan"),
        "precision": precision,
        "recall": 0.0 if recall_pos != recall_pos else recall_pos,
        "f1": f1_pos,
        "macro_f1": (f1_pos + f1_neg) / 2 if both else (f1_pos or f1_neg),
        "roc_auc": float(roc_auc_score(labels, proba)) if both else float("nan"),
        "recall_negative": recall_neg, "recall_positive": recall_pos,
        "predicted_positive_rate": (tp + fp) / total, "actual_positive_rate": (tp + fn) / total,
        "rows": len(labels), "tn": tn, "fp": fp, "fn": fn, "tp": tp,
    }
