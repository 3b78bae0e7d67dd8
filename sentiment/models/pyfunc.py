"""The MLflow pyfunc wrapper shared by every model type.

The logged model is a folder of predictor files plus ``meta.json`` (model type and the
preprocessing version). ``predict`` accepts a list of strings, a Series or a one-column
DataFrame and returns one row per input with ``label`` and ``proba_positive``; the
preprocessing runs inside the predictor, so serving applies exactly what training did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

META = "meta.json"


def signature() -> Any:
    """Input: one string column; output: ``label`` and ``proba_positive``."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec("string")]),
                          outputs=Schema([ColSpec("string", "label"),
                                          ColSpec("double", "proba_positive")]))


def as_texts(model_input: Any) -> list[str]:
    """Normalise the accepted input shapes to a list of strings (N in, N out)."""
    if isinstance(model_input, pd.DataFrame):
        model_input = model_input.iloc[:, 0]
    if isinstance(model_input, (pd.Series, np.ndarray)):
        model_input = model_input.tolist()
    if isinstance(model_input, str):
        model_input = [model_input]
    return ["" if t is None else str(t) for t in model_input]


def write_meta(directory: Path, model_type: str, extra: dict[str, Any] | None = None) -> None:
    """Record which model type reads this folder."""
    from sentiment.models.preprocess import PREPROCESS_VERSION

    meta = {"model_type": model_type, "preprocess_version": PREPROCESS_VERSION, **(extra or {})}
    (directory / META).write_text(json.dumps(meta))


def check_preprocess_version(recorded: Any) -> None:
    """Refuse a model whose text preprocessing this code does not implement (a newer or
    unknown version): it would be served with different inputs than it was trained on."""
    from sentiment.errors import RefusedError
    from sentiment.models.preprocess import PREPROCESS_VERSION

    version = 1 if recorded is None else recorded  # models before the field existed
    if not isinstance(version, int) or not 1 <= version <= PREPROCESS_VERSION:
        raise RefusedError(f"This model was trained with text preprocessing version "
                           f"{recorded!r}; this code serves versions 1 to {PREPROCESS_VERSION}. "
                           "Upgrade the app to serve it, or promote another version.")


class SentimentModel(PythonModel):
    """Loads the predictor of the logged model type and serves raw texts."""

    # The explicit signature() is the contract. MLflow's type-hint validation would refuse
    # a pandas Series (list[str] hint) or warn on every import (no hint), so it is skipped.
    _skip_type_hint_validation = True

    def __init__(self) -> None:
        self.predictor: Any = None
        self.model_type = ""
        self.directory: Path | None = None  # the folder it was loaded from

    def load_context(self, context: Any) -> None:
        self.load_dir(Path(context.artifacts["model_dir"]))

    def load_dir(self, directory: Path) -> None:
        from sentiment.models import get_model_type

        meta = json.loads((directory / META).read_text())
        check_preprocess_version(meta.get("preprocess_version"))
        self.model_type = meta["model_type"]
        self.predictor = get_model_type(self.model_type).load(directory)
        self.directory = directory

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probability of the positive class for each text."""
        from sentiment.models.preprocess import well_formed

        if not texts:
            return np.zeros(0, dtype=float)
        texts = [well_formed(t) for t in texts]
        return np.asarray(self.predictor.predict_proba(texts), dtype=float).reshape(-1)

    def predict(self, context: Any, model_input: Any,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        proba = self.predict_proba(as_texts(model_input))
        return pd.DataFrame({"label": np.where(proba >= 0.5, "positive", "negative"),
                             "proba_positive": proba})
