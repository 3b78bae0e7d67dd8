"""Why this label: each word's weight towards positive (> 0) or negative (< 0).

For ``tfidf_logreg`` the weights are exact. The model is linear in its features, so its
log-odds are the intercept plus one term per feature; every term is given to the words
it comes from: a word n-gram's to its words (shared equally), a character n-gram's to
the words its characters fall in (in proportion), a lexicon feature's to the words in
proportion to their share of its valence sum. The weights plus ``rest`` (intercept and
n-grams over spaces or punctuation only) add up to the log-odds the model served.

For the neural types the weights come from occlusion: the log-odds of the text minus
those of the text without that word, all variants scored in one batch. Honest, but not
additive: words that act together share their effect.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from sentiment.models.features import ngram_columns

MAX_OCCLUDED_WORDS = 200  # the batch of variants grows with the words; longer texts cut here
_WORD = re.compile(r"\S+")


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _token_pieces(text: str, spans: list[tuple[int, int]], weights: list[float]
                  ) -> list[tuple[str, float | None]]:
    """The whole text as (piece, weight) pairs: tokens with their weight, gaps with None."""
    pieces: list[tuple[str, float | None]] = []
    at = 0
    for (start, end), weight in zip(spans, weights, strict=True):
        if start > at:
            pieces.append((text[at:start], None))
        pieces.append((text[start:end], float(weight)))
        at = end
    if at < len(text):
        pieces.append((text[at:], None))
    return pieces


def exact_tfidf(scorer: Any, text: str) -> dict[str, Any]:
    """Exact per-token log-odds contributions of a :class:`FastScorer` on one text."""
    norm = scorer.normalize([text])[0]
    matches = list(scorer.pattern.finditer(norm))
    spans = [(m.start(), m.end()) for m in matches]
    tokens = [m.group() for m in matches]
    weights = np.zeros(len(tokens))
    rest = scorer.intercept
    # Word n-grams and the lexicon, as FastScorer._terms computes them.
    occurrences: list[tuple[int, tuple[int, ...]]] = []
    for n in range(1, min(scorer.high, len(tokens)) + 1):
        for i in range(len(tokens) - n + 1):
            index = scorer.terms.get(" ".join(tokens[i:i + n]))
            if index is not None:
                occurrences.append((index, tuple(range(i, i + n))))
    if occurrences:
        ids = np.array([i for i, _ in occurrences])
        unique, tf = np.unique(ids, return_counts=True)
        tf_of = dict(zip(unique.tolist(), tf.tolist(), strict=True))
        rows = scorer.table
        norm2 = math.sqrt(sum(((1 + math.log(tf_of[i])) * rows[i, 1]) ** 2 for i in tf_of))
        for index, owners in occurrences:
            if norm2 > 0:
                share = rows[index, 0] * (1 + math.log(tf_of[index])) / tf_of[index] / norm2
                weights[list(owners)] += share / len(owners)
        if scorer.lexicon_coef is not None:
            pos = sum(rows[i, 2] for i, _ in occurrences)
            neg = sum(rows[i, 3] for i, _ in occurrences)
            for k, total in enumerate((pos, neg, pos + neg)):
                contribution = math.tanh(total) * scorer.lexicon_coef[k]
                if total == 0:
                    continue  # tanh(0) = 0: nothing to give
                for index, owners in occurrences:
                    valence = (rows[index, 2], rows[index, 3],
                               rows[index, 2] + rows[index, 3])[k]
                    weights[list(owners)] += contribution * valence / total / len(owners)
    # Character n-grams: each occurrence's term, over the tokens its characters touch.
    char = scorer.char
    x = char.transform([norm])
    value = dict(zip(x.indices.tolist(), x.data.tolist(), strict=True))
    found = ngram_columns(norm, char.ngram_range, char.n_features)
    counts: dict[int, int] = {}
    for _, _, col in found:
        counts[col] = counts.get(col, 0) + 1
    owner = np.full(len(norm) + 2, -1)
    for t, (start, end) in enumerate(spans):
        owner[start + 1:end + 1] = t  # +1: the padding space before the text
    for start, n, col in found:
        term = scorer.char_coef[col] * value.get(col, 0.0) / counts[col]
        inside = owner[start:start + n]
        inside = inside[inside >= 0]
        if len(inside):
            np.add.at(weights, inside, term / len(inside))
        else:
            rest += term
    logit = float(weights.sum() + rest)
    return {"method": "exact (linear model: word and character n-grams, lexicon)",
            "text": norm, "tokens": tokens, "spans": spans, "weights": weights.tolist(),
            "rest": float(rest), "log_odds": logit}


def occlusion(model: Any, text: str) -> dict[str, Any]:
    """Each word's weight: log-odds of the text minus log-odds without that word."""
    matches = list(_WORD.finditer(text))[:MAX_OCCLUDED_WORDS]
    variants = [text] + [text[:m.start()] + text[m.end():] for m in matches]
    proba = np.asarray(model.predict_proba(variants), dtype=float)
    full = _logit(proba[0])
    weights = [full - _logit(p) for p in proba[1:]]
    return {"method": "occlusion (log-odds change when the word is removed)", "text": text,
            "tokens": [m.group() for m in matches],
            "spans": [(m.start(), m.end()) for m in matches], "weights": weights,
            "rest": None, "log_odds": full}


def explain(model: Any, text: str) -> dict[str, Any]:
    """The explanation of one text by one loaded model (our pyfunc python model, or the
    fan-out wrapper around it)."""
    inner = getattr(model, "model", model)
    scorer = getattr(getattr(inner, "predictor", None), "fast", None)
    result = exact_tfidf(scorer, text) if scorer is not None else occlusion(model, text)
    result["pieces"] = _token_pieces(result["text"], result["spans"], result["weights"])
    result["words"] = sorted(
        ({"word": w, "weight": round(float(v), 4)} for w, v in
         zip(result["tokens"], result["weights"], strict=True)),
        key=lambda item: -abs(item["weight"]))
    return result
