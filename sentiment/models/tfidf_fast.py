"""The fitted ``tfidf_logreg`` pipeline's probability, without its sparse feature matrices.

The model is linear: P(positive) = sigmoid(w . [word TF-IDF, char TF-IDF, lexicon] + b).
scikit-learn builds a word matrix and a lexicon matrix, each tokenising every text again,
then multiplies. Here each text is tokenised once; its word 1-2-grams are looked up in one
merged table (counted per text with one ``np.unique``) that holds, per term, its
coefficient times IDF, its IDF, and its two lexicon valences; the word part is then
sum((1 + log tf) * coef * idf) / sqrt(sum(((1 + log tf) * idf)^2)), exactly the l2-
normalised sublinear TF-IDF dotted with the coefficients, and the lexicon part the same
tanh features. The char part keeps :class:`CharNgramTfidf` (numpy). Same numbers as
the pipeline up to float rounding (checked at load on probe texts; any pipeline of
another shape, or a mismatch, keeps the pipeline itself).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
PROBES = ["I love this airline :)", "worst flight ever, not good", "", "ok ok ok",
          "not bad at all!! thanks @united http://t.co/x", "😡 delayed again #fail"]


def _ngrams(tokens: list[str], high: int) -> list[str]:
    """Word n-grams as scikit-learn builds them (1..high, space-joined)."""
    terms = list(tokens)
    for n in range(2, min(high, len(tokens)) + 1):
        terms += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return terms


class FastScorer:
    """P(positive) of a fitted pipeline from raw texts; build with :meth:`from_pipeline`."""

    def __init__(self, pipeline: Any, word: Any, char: Any, lexicon: Any) -> None:
        from sentiment.models.preprocess import normalize_many

        self.normalize = normalize_many
        clf = pipeline.named_steps["clf"]
        coef, self.intercept = np.asarray(clf.coef_[0], dtype=np.float64), float(
            clf.intercept_[0])
        n_word = len(word.vocabulary_)
        self.char = char
        self.char_coef = coef[n_word:n_word + char.n_features]
        self.lexicon_coef = coef[n_word + char.n_features:] if lexicon is not None else None
        self.pattern = re.compile(word.token_pattern)
        self.high = max(word.ngram_range[1], 2 if lexicon is not None else 1)
        terms: dict[str, int] = {}
        rows: list[list[float]] = []

        def entry(term: str) -> list[float]:
            if term not in terms:
                terms[term] = len(rows)
                rows.append([0.0, 0.0, 0.0, 0.0])
            return rows[terms[term]]

        idf = np.asarray(word.idf_, dtype=np.float64)
        for term, column in word.vocabulary_.items():
            entry(term)[:2] = [coef[column] * idf[column], idf[column]]
        if lexicon is not None:
            weights = np.asarray(lexicon.weights_, dtype=np.float64)
            for term, column in lexicon.vectorizer_.vocabulary_.items():
                entry(term)[2:] = weights[column].tolist()
        self.terms, self.table = terms, np.asarray(rows, dtype=np.float64).reshape(-1, 4)

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> FastScorer | None:
        """A scorer for this pipeline, or None when its shape is not the one above or it
        disagrees with the pipeline on the probe texts."""
        try:
            scorer = cls(pipeline, *cls._parts(pipeline))
        except (KeyError, AttributeError, ValueError, TypeError) as exc:
            log.info("tfidf fast path off (%r); the pipeline serves", exc)
            return None
        expected = pipeline.predict_proba(PROBES)[:, 1]
        if np.abs(scorer.proba(PROBES) - expected).max() > 1e-5:
            log.warning("tfidf fast path disagrees with the pipeline; the pipeline serves")
            return None
        return scorer

    @staticmethod
    def _parts(pipeline: Any) -> tuple[Any, Any, Any]:
        from sklearn.linear_model import LogisticRegression

        from sentiment.models.features import CharNgramTfidf
        from sentiment.models.lexicon import LexiconFeatures

        names = [name for name, _ in pipeline.steps]
        union = pipeline.named_steps["features"]
        parts = dict(union.transformer_list)
        word, char, lexicon = parts["word"], parts["char"], parts.get("lexicon")
        if names != ["normalize", "features", "clf"] or union.transformer_weights or \
                list(parts) not in (["word", "char"], ["word", "char", "lexicon"]):
            raise ValueError("unexpected pipeline layout")
        if not isinstance(char, CharNgramTfidf) or \
                not isinstance(pipeline.named_steps["clf"], LogisticRegression) or \
                len(pipeline.named_steps["clf"].classes_) != 2 or \
                (lexicon is not None and not isinstance(lexicon, LexiconFeatures)):
            raise ValueError("unexpected transformer types")
        plain = (word.analyzer == "word" and word.lowercase is False and word.sublinear_tf
                 and word.use_idf and word.norm == "l2" and not word.binary
                 and word.ngram_range[0] == 1 and word.stop_words is None
                 and word.preprocessor is None and word.tokenizer is None
                 and word.strip_accents is None)
        if not plain or (lexicon is not None and
                         lexicon.vectorizer_.token_pattern != word.token_pattern):
            raise ValueError("word vectorizer settings differ from the baseline's")
        return word, char, lexicon

    def proba(self, texts: list[str]) -> np.ndarray:
        """P(positive) for raw texts."""
        normalized = self.normalize(texts)
        decision = self._terms(normalized) + self.char.transform(normalized) @ self.char_coef
        return 1.0 / (1.0 + np.exp(-(decision + self.intercept)))

    def _terms(self, normalized: list[str]) -> np.ndarray:
        """The word TF-IDF and lexicon parts of the decision, per text."""
        find, get, high = self.pattern.findall, self.terms.get, self.high
        hits: list[int] = []
        per_doc = np.zeros(len(normalized), dtype=np.int64)
        for doc, text in enumerate(normalized):
            tokens = find(text)
            if high == 2:
                terms = tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]
            else:
                terms = _ngrams(tokens, high)
            found = [i for i in map(get, terms) if i is not None]
            per_doc[doc] = len(found)
            hits += found
        n, size = len(normalized), len(self.table)
        # (text, term) pairs and how often each occurs: the term frequencies.
        keys = np.repeat(np.arange(n, dtype=np.int64), per_doc) * size + np.asarray(
            hits, dtype=np.int64)
        keys, tf = np.unique(keys, return_counts=True)
        where, rows = keys // size, self.table[keys % size]
        tf = tf.astype(np.float64)
        sub = 1.0 + np.log(tf)
        top = np.bincount(where, weights=rows[:, 0] * sub, minlength=n)
        norm = np.sqrt(np.bincount(where, weights=(rows[:, 1] * sub) ** 2, minlength=n))
        decision = np.divide(top, norm, out=np.zeros(n), where=norm > 0)
        if self.lexicon_coef is not None:
            positive = np.bincount(where, weights=rows[:, 2] * tf, minlength=n)
            negative = np.bincount(where, weights=rows[:, 3] * tf, minlength=n)
            features = np.tanh(np.stack([positive, negative, positive + negative], axis=1))
            decision += features @ self.lexicon_coef
        return decision
