"""Validation figures: confusion matrices, ROC and precision-recall curves (matplotlib).

Each figure puts the candidate beside the production version on the same data, so the
Validate tab and the MLflow run show the comparison the gate made. Figures use the Agg
backend (no display) and are closed by the caller after logging.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CANDIDATE_COLOR, PRODUCTION_COLOR = "#1f77b4", "#ff7f0e"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_confusion(ax: Any, metrics: dict[str, float], title: str) -> None:
    matrix = np.array([[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{int(value)}", ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black")
    ax.set_xticks([0, 1], ["negative", "positive"])
    ax.set_yticks([0, 1], ["negative", "positive"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title, fontsize=9)


def confusion_figure(metrics: dict[str, float], title: str,
                     production: dict[str, float] | None = None,
                     production_title: str = "production") -> Any:
    """One confusion matrix, or the candidate's and production's side by side."""
    plt = _pyplot()
    panels = 2 if production else 1
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.2), dpi=100, squeeze=False)
    _draw_confusion(axes[0][0], metrics, title)
    if production:
        _draw_confusion(axes[0][1], production, production_title)
    fig.tight_layout()
    return fig


def curve_figure(kind: str, labels: np.ndarray, curves: dict[str, np.ndarray],
                 title: str) -> Any:
    """ROC (``kind='roc'``) or precision-recall (``kind='pr'``) curves, one per model."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    plt = _pyplot()
    labels = np.asarray(labels).astype(int)
    fig, ax = plt.subplots(figsize=(4.2, 3.6), dpi=100)
    colors = iter([CANDIDATE_COLOR, PRODUCTION_COLOR, "#2ca02c", "#d62728"])
    both = len(set(labels.tolist())) == 2
    for name, proba in curves.items():
        color = next(colors)
        if not both:
            continue
        if kind == "roc":
            x, y, _ = roc_curve(labels, proba)
            ax.plot(x, y, color=color, label=f"{name} (AUC {roc_auc_score(labels, proba):.3f})")
        else:
            precision, recall, _ = precision_recall_curve(labels, proba)
            ap = average_precision_score(labels, proba)
            ax.plot(recall, precision, color=color, label=f"{name} (AP {ap:.3f})")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
    else:
        ax.axhline(labels.mean() if len(labels) else 0, color="grey", linestyle=":",
                   linewidth=1)
        ax.set_xlabel("recall (positive)")
        ax.set_ylabel("precision (positive)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title if both else f"{title}: needs both classes", fontsize=9)
    if both:
        ax.legend(fontsize=8, loc="lower right" if kind == "roc" else "lower left")
    fig.tight_layout()
    return fig


def validation_figures(labels: np.ndarray, candidate: np.ndarray,
                       production: np.ndarray | None, metrics: dict[str, float],
                       production_metrics: dict[str, float] | None, version: str,
                       production_version: str | None, dataset_name: str
                       ) -> dict[str, Any]:
    """The three figures a validation run logs, by artifact file name."""
    name = f"v{version}"
    curves = {name: candidate}
    if production is not None and production_version is not None:
        curves[f"v{production_version} (production)"] = production
    where = dataset_name[:60]
    return {
        "confusion_matrix.png": confusion_figure(
            metrics, f"{name} on {where}", production_metrics,
            f"v{production_version} (production)"),
        "roc_curve.png": curve_figure("roc", labels, curves, f"ROC on {where}"),
        "precision_recall_curve.png": curve_figure("pr", labels, curves,
                                                   f"Precision-recall on {where}"),
    }
