"""The product's words, spelled once: dataset roles, version statuses, model-type modules.

The French values are the MLflow tags that users' registries already hold (see SPEC.md);
code compares against these constants, never against loose strings.
"""

from __future__ import annotations

# Dataset roles (MLflow tag ``dataset_type``), keyed by the word the API and the UI use.
TRAINING = "jdd entrainement"
VALIDATION = "jdd validation"
ROLES: dict[str, str] = {"training": TRAINING, "validation": VALIDATION}
ROLE_WORDS: dict[str, str] = {tag: word for word, tag in ROLES.items()}

# Version statuses (MLflow tag ``status``), in lifecycle order.
TO_VALIDATE = "à valider"
VALIDATED = "validé"
REJECTED = "rejeté"
PRODUCTION = "production"
ARCHIVED = "archivé"
STATUSES: tuple[str, ...] = (TO_VALIDATE, VALIDATED, REJECTED, PRODUCTION, ARCHIVED)

# Every trainable model type and the module that implements it (loaded lazily, so listing
# the types never imports TensorFlow).
MODEL_TYPE_MODULES: dict[str, str] = {
    "tfidf_logreg": "sentiment.models.tfidf_logreg",
    "bilstm": "sentiment.models.bilstm",
    "minilm": "sentiment.models.minilm",
}

# Metric names (as computed by sentiment.metrics.compute_metrics).
GATE_METRICS: tuple[str, ...] = ("balanced_accuracy", "macro_f1", "accuracy")
HEADLINE: tuple[str, ...] = ("balanced_accuracy", "accuracy", "macro_f1", "precision", "recall",
                             "f1", "roc_auc")  # one line of a result, most telling first
COMPARED: tuple[str, ...] = ("balanced_accuracy", "accuracy", "macro_f1", "f1", "precision",
                             "recall", "recall_negative", "recall_positive",
                             "predicted_positive_rate", "actual_positive_rate", "roc_auc")
VERSION_METRICS: tuple[str, ...] = ("val_balanced_accuracy", "val_accuracy", "val_f1",
                                    "val_roc_auc", "training_time_s")  # the versions table
