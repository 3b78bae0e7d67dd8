"""A sentiment lexicon as prior knowledge for the baseline: features and one-word examples.

A TF-IDF model only knows the words of its training data, and what it learns from a
domain-specific corpus (airline complaints) does not carry over: words it never saw
count for nothing, and neutral words of the domain count as negative. The VADER lexicon
(Hutto & Gilbert, 2014: about 7,500 words and emoticons, each rated by ten people from
-4 to +4, shipped as a data file inside the PyPI package ``vaderSentiment``) adds what
people know about words in general, in two ways:

- :class:`LexiconFeatures`: per text, the summed positive and negative valence of its
  lexicon words (a word right after a negator counts reversed and damped, as in VADER)
  and their total, each squashed with tanh. Vectorised through a fixed-vocabulary count
  matrix, so it costs one tokenisation pass.
- :func:`word_examples`: the lexicon's clearly positive or negative words as one-word
  training rows, so the word n-gram weights of those words are learnt too.

The file is read when a model is trained; the fitted features are saved inside the model
(no lexicon file is needed to serve).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer

from sentiment.models.preprocess import TOKEN_PATTERN
from sentiment.models.vader import lexicon_path

# After normalisation "don't" is tokenised as "don", "t": "t" covers every n't form.
NEGATORS = ("not", "no", "never", "t", "dont", "cant", "wont", "isnt", "wasnt", "didnt",
            "doesnt", "aint", "nothing", "nobody", "none", "neither", "nor", "without",
            "hardly", "cannot")
NEGATION_DAMPING = -0.74  # VADER's factor for a negated word
MIN_EXAMPLE_VALENCE = 1.0  # words rated at least this far from 0 become training rows
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1)
def word_valences() -> dict[str, float]:
    """Lower-case single words of the lexicon and their mean rating (-4..+4)."""
    valences: dict[str, float] = {}
    for line in lexicon_path().read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and _WORD.fullmatch(parts[0]):
            valences[parts[0].lower()] = float(parts[1])
    return valences


def word_examples() -> tuple[list[str], np.ndarray]:
    """The lexicon's clearly polar words as one-word texts with labels (1 positive)."""
    items = [(w, v) for w, v in word_valences().items() if abs(v) >= MIN_EXAMPLE_VALENCE]
    return [w for w, _ in items], np.array([int(v > 0) for _, v in items], dtype=int)


def with_word_examples(texts: list[str], labels: np.ndarray, mode: str
                       ) -> tuple[list[str], np.ndarray]:
    """The training rows, plus the lexicon's one-word examples when ``mode`` is vader."""
    if mode != "vader":
        return list(texts), np.asarray(labels)
    words, polarity = word_examples()
    return list(texts) + words, np.concatenate([np.asarray(labels).astype(int), polarity])


class LexiconFeatures(BaseEstimator, TransformerMixin):
    """tanh of the positive valence, the negative valence and the total of each text."""

    def fit(self, texts: list[str], labels: object = None) -> LexiconFeatures:
        vocabulary: dict[str, int] = {}
        values: list[float] = []
        for word, valence in word_valences().items():
            vocabulary[word] = len(values)
            values.append(valence)
            for negator in NEGATORS:
                vocabulary[f"{negator} {word}"] = len(values)
                # The unigram counts too, so the pair nets to the damped reversal.
                values.append((NEGATION_DAMPING - 1.0) * valence)
        self.vectorizer_ = CountVectorizer(vocabulary=vocabulary, ngram_range=(1, 2),
                                           token_pattern=TOKEN_PATTERN, lowercase=False,
                                           dtype=np.float32)
        scaled = np.asarray(values, dtype=np.float32) / 4.0
        self.weights_ = np.stack([np.maximum(scaled, 0), np.minimum(scaled, 0)], axis=1)
        return self

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        # Every feature is squashed: a long text full of lexicon words stays inside the
        # range seen in training (raw sums let the model extrapolate, with sign flips).
        polar = np.asarray(self.vectorizer_.transform(texts) @ self.weights_)
        features = np.tanh(np.hstack([polar, polar.sum(axis=1, keepdims=True)]))
        return sp.csr_matrix(features.astype(np.float32))
