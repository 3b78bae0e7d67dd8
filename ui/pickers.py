"""The dataset and version pickers of the Train, Validate and Models tabs: one refresh,
run after anything that adds a dataset or a version (app.py wires it)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from sentiment import lifecycle
from sentiment.vocabulary import ROLE_WORDS, TRAINING, VALIDATION
from ui.common import SETTINGS, viewer


def _dataset_label(d: dict) -> str:
    return (f"{d['name']} · {d['rows_kept']:,} rows · {d['created'][:10]} · "
            f"{ROLE_WORDS.get(d['dataset_type'], d['dataset_type'])}")


def _choices(role: str) -> list[tuple[str, str]]:
    return [(_dataset_label(d), d["dataset_id"])
            for d in lifecycle.datasets_table(SETTINGS) if d["dataset_type"] == role]


def _version_label(m: dict) -> str:
    score = m.get("validation_score") or m.get("val_balanced_accuracy")
    score_text = f"{float(score):.2f}" if score not in (None, "") else "not validated"
    role = "production" if m.get("production") else m.get("status", "")
    return f"v{m['version']} · {m['model_type']} · {score_text} · {role}"


def _version_choices() -> list[tuple[str, str]]:
    return [(_version_label(m), m["version"]) for m in lifecycle.models_table(SETTINGS)
            if m.get("version")]


@viewer
def refresh_choices() -> tuple[Any, ...]:
    """Dataset and version pickers, refreshed after any change; in the order of
    :data:`PICKERS` (train dataset, base version, validate version, validate datasets,
    promote version)."""
    versions = _version_choices()
    return (gr.update(choices=_choices(TRAINING)),
            gr.update(choices=[("(none: from scratch)", "")] + versions),
            gr.update(choices=versions), gr.update(choices=_choices(VALIDATION)),
            gr.update(choices=versions))


PICKERS = ("train_ds", "base_in", "val_version", "val_ds", "promote_version")
