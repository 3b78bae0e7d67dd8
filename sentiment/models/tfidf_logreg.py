"""The baseline: word and character n-gram TF-IDF plus logistic regression.

One scikit-learn pipeline (normalise -> word + char TF-IDF + lexicon features ->
logistic regression) that trains in seconds on a laptop. By default the classes are
weighted to balance (a skewed corpus must not teach "always negative") and the VADER
lexicon adds general knowledge of sentiment words (:mod:`sentiment.models.lexicon`), which is
what carries the model beyond the vocabulary of its training data. Warm start refits on
the new data with the base version's vocabulary kept, and starts the solver from the
base version's weights.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from sentiment.models import (
    CLASS_WEIGHT,
    LEXICON,
    FitResult,
    HyperParam,
    Predictor,
    ProgressFn,
    StopFn,
    check_stop,
)
from sentiment.models.features import CharNgramTfidf
from sentiment.models.lexicon import LexiconFeatures, with_word_examples
from sentiment.models.preprocess import TOKEN_PATTERN, normalize_many
from sentiment.models.tfidf_fast import FastScorer

FILE = "pipeline.joblib"
PARALLEL_FROM = 20_000
CHUNKS_PER_WORKER = 4  # smaller chunks interleave one thread's Python with another's numpy
WORKERS = max(1, min(4, os.cpu_count() or 1))


class TfidfPredictor:
    """A fitted pipeline; ``predict_proba`` takes raw texts.

    Serving goes through :class:`FastScorer` (the same linear model without building
    the sparse matrices) when it reproduces the pipeline; else through the pipeline.
    """

    backend = "scikit-learn"
    fans_out = True  # Python-bound: large batches gain from worker processes

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.fast = FastScorer.from_pipeline(pipeline)

    def _proba(self, texts: list[str]) -> np.ndarray:
        if self.fast is not None:
            return self.fast.proba(texts)
        return self.pipeline.predict_proba(texts)[:, 1]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if len(texts) < PARALLEL_FROM:
            return self._proba(texts)
        # Large batches: numpy and scipy release the GIL, so chunks overlap on the cores.
        size = -(-len(texts) // (WORKERS * CHUNKS_PER_WORKER))
        chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
        with ThreadPoolExecutor(WORKERS) as pool:
            parts = list(pool.map(self._proba, chunks))
        return np.concatenate(parts)

    def save(self, directory: Path) -> None:
        joblib.dump(self.pipeline, directory / FILE)


def build_pipeline(params: Mapping[str, Any]) -> Pipeline:
    """The untrained pipeline for the given hyperparameters."""
    parts = [
        ("word", TfidfVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False, sublinear_tf=True,
                                 ngram_range=(1, int(params["word_ngram_max"])),
                                 min_df=int(params["min_df"]), max_features=200_000,
                                 dtype=np.float32)),
        ("char", CharNgramTfidf(ngram_range=(2, int(params["char_ngram_max"])))),
    ]
    if params["lexicon"] == "vader":  # and the lexicon's valence sums as features
        parts.append(("lexicon", LexiconFeatures()))
    features = FeatureUnion(parts)
    weighting = "balanced" if params["class_weight"] == "balanced" else None
    return Pipeline([
        ("normalize", FunctionTransformer(normalize_many)),
        ("features", features),
        ("clf", LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"]),
                                   solver="liblinear",
                                   class_weight=weighting)),
    ])


class TfidfLogreg:
    """Model type ``tfidf_logreg``."""

    name = "tfidf_logreg"
    title = "TF-IDF + logistic regression (baseline)"
    description = ("Word 1-2-grams and hashed character 2-5-grams, logistic regression. "
                   "Seconds to train.")
    pip_requirements = ("scikit-learn", "joblib", "pandas", "numpy")
    hyperparams = (
        HyperParam("C", 1.0, "Inverse regularisation strength", 0.001, 1000.0),
        HyperParam("word_ngram_max", 2, "Longest word n-gram", 1, 3),
        HyperParam("char_ngram_max", 5, "Longest character n-gram", 2, 6),
        HyperParam("min_df", 2, "Ignore n-grams seen in fewer documents", 1, 100),
        HyperParam("max_iter", 200, "Solver iterations", 10, 5000),
        CLASS_WEIGHT,
        LEXICON,
    )

    def fit(self, texts: list[str], labels: np.ndarray, val_texts: list[str],
            val_labels: np.ndarray, params: Mapping[str, Any], base: Predictor | None,
            progress: ProgressFn, should_stop: StopFn) -> FitResult:
        progress(0.1, "vectorising")
        pipeline = build_pipeline(params)
        texts, labels = with_word_examples(texts, labels, params["lexicon"])
        if isinstance(base, TfidfPredictor):
            # Warm start: keep the base vocabulary, so the base weights stay meaningful.
            pipeline.steps[1] = ("features", base.pipeline.named_steps["features"])
            pipeline.steps[2][1].set_params(solver="lbfgs", warm_start=True)
            pipeline.steps[2][1].coef_ = base.pipeline.named_steps["clf"].coef_.copy()
            pipeline.steps[2][1].intercept_ = base.pipeline.named_steps["clf"].intercept_.copy()
            pipeline.steps[2][1].classes_ = base.pipeline.named_steps["clf"].classes_
            normalized = normalize_many(texts)
            features = pipeline.named_steps["features"].transform(normalized)
            check_stop(should_stop)
            progress(0.5, "fitting from base weights")
            pipeline.named_steps["clf"].fit(features, labels)
        else:
            check_stop(should_stop)
            progress(0.3, "fitting")
            pipeline.fit(texts, labels)
        progress(1.0, "done")
        return FitResult(TfidfPredictor(pipeline), [])

    def load(self, directory: Path, backend: str | None = None) -> Predictor:
        """The fitted pipeline (``backend`` concerns the Keras types; this type has one
        serving path)."""
        return TfidfPredictor(joblib.load(directory / FILE))


MODEL = TfidfLogreg()
