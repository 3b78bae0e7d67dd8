"""The model-type registry: every trainable type is listed here once.

The UI, the API and the CLI read :data:`MODEL_TYPES`, so adding a type means adding one
entry below and a module under ``sentiment/models``. Modules load lazily, so listing the
types never imports TensorFlow.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sentiment.errors import CancelledError, InvalidInputError
from sentiment.vocabulary import MODEL_TYPE_MODULES

# progress(fraction, message[, metrics]): metrics, when given, are one finished epoch's
ProgressFn = Callable[..., None]
StopFn = Callable[[], bool]


def check_stop(should_stop: StopFn) -> None:
    """Raise CancelledError when the user asked to stop (nothing gets registered)."""
    if should_stop():
        raise CancelledError("Training cancelled; nothing was registered.")


@dataclass(frozen=True)
class HyperParam:
    """One tunable setting of a model type, with its default and allowed range."""

    name: str
    default: float | int | str | bool
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def coerce(self, value: Any) -> float | int | str | bool:
        """Convert a user value to this parameter's type, refusing out-of-range values."""
        if value is None or value == "":
            return self.default
        try:
            if isinstance(self.default, bool):
                converted: Any = str(value).lower() in {"1", "true", "yes", "on"}
            elif isinstance(self.default, int):
                converted = int(float(value))
            elif isinstance(self.default, float):
                converted = float(value)
            else:
                converted = str(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInputError(f"{self.name}={value!r} is not a valid value") from exc
        if isinstance(converted, float) and not math.isfinite(converted):
            raise InvalidInputError(f"{self.name}={value!r} is not a finite number")
        if self.choices and converted not in self.choices:
            raise InvalidInputError(f"{self.name} must be one of {list(self.choices)}")
        if self.low is not None and converted < self.low or \
                self.high is not None and converted > self.high:
            raise InvalidInputError(f"{self.name}={converted} is outside [{self.low}, {self.high}]")
        return converted


class Predictor(Protocol):
    """A trained model: raw texts in, probability of the positive class out."""

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


@dataclass
class FitResult:
    """What a model type's ``fit`` returns: the predictor and its per-epoch history."""

    predictor: Predictor
    history: list[dict[str, float]]


class ModelType(Protocol):
    """The interface every model type module exposes as ``MODEL``."""

    name: str
    title: str
    description: str
    hyperparams: tuple[HyperParam, ...]
    pip_requirements: tuple[str, ...]

    def fit(self, texts: list[str], labels: np.ndarray, val_texts: list[str],
            val_labels: np.ndarray, params: Mapping[str, Any], base: Predictor | None,
            progress: ProgressFn, should_stop: StopFn) -> FitResult: ...

    def load(self, directory: Path, backend: str | None = None) -> Predictor: ...


MODEL_TYPES: dict[str, str] = MODEL_TYPE_MODULES


CLASS_WEIGHT = HyperParam(
    "class_weight", "balanced", "balanced: weight each class by the inverse of its share, so a "
    "skewed dataset does not teach the model to answer the majority class; none: plain",
    choices=("balanced", "none"))


LEXICON = HyperParam(
    "lexicon", "vader", "vader: also learn from the VADER lexicon's clearly positive and "
    "negative words (about 5,600 words rated by people) as one-word examples, so sentiment "
    "words missing from the training data still count; none: the data only",
    choices=("vader", "none"))


def class_weights(labels: np.ndarray, mode: str) -> dict[int, float]:
    """Per-class training weights: n / (2 * n_class) when ``mode`` is balanced, else 1."""
    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=2)
    if mode != "balanced" or counts.min() == 0:
        return {0: 1.0, 1: 1.0}
    return {c: float(len(labels) / (2.0 * counts[c])) for c in (0, 1)}


def sample_weights(labels: np.ndarray, mode: str) -> np.ndarray:
    """One weight per row from :func:`class_weights` (float32, for Keras)."""
    weights = class_weights(labels, mode)
    labels = np.asarray(labels).astype(int)
    return np.where(labels == 1, weights[1], weights[0]).astype("float32")


def subsample(texts: list[str], labels: np.ndarray, max_rows: int,
              seed: int = 42) -> tuple[list[str], np.ndarray]:
    """A stratified random sample of at most ``max_rows`` rows (all rows when 0)."""
    labels = np.asarray(labels)
    if not max_rows or len(texts) <= max_rows:
        return list(texts), labels
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(texts)), train_size=int(max_rows),
                               random_state=seed, stratify=labels)
    keep = np.sort(keep)
    return [texts[i] for i in keep], labels[keep]


def available_types() -> list[str]:
    """Names of the model types whose module is present."""
    return [name for name, module in MODEL_TYPES.items() if importlib.util.find_spec(module)]


def get_model_type(name: str) -> ModelType:
    """Return the model type called ``name`` or raise a clear InvalidInputError."""
    if name not in available_types():
        raise InvalidInputError(f"Unknown model type {name!r}; expected one of "
                                f"{available_types()}.")
    return importlib.import_module(MODEL_TYPES[name]).MODEL


def coerce_params(model_type: ModelType, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill defaults and validate every hyperparameter; unknown names are refused."""
    params = dict(params or {})
    known = {p.name: p for p in model_type.hyperparams}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InvalidInputError(f"Unknown hyperparameters {unknown} for {model_type.name}; "
                                f"expected {sorted(known)}.")
    return {name: p.coerce(params.get(name)) for name, p in known.items()}
