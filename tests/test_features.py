"""The vectorised char n-gram TF-IDF: counts, normalisation, agreement with scikit-learn."""

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from sentiment.features import CharNgramTfidf, hashed_counts

TEXTS = ["worst flight ever", "i loove it emopos", "", "a", "ça va 😡", "worst flight ever"]


def test_counts_match_scikit_learn_char_ngrams() -> None:
    texts = [t for t in TEXTS if t]  # scikit-learn collapses the empty text's two spaces
    counts = hashed_counts(texts, (2, 5), 2**22)
    reference = CountVectorizer(analyzer="char", ngram_range=(2, 5), lowercase=False)
    expected = reference.fit_transform([f" {t} " for t in texts])
    # Same total n-grams and same number of distinct n-grams per text (no collisions here).
    assert counts.sum(axis=1).A1.tolist() == expected.sum(axis=1).A1.tolist()
    assert np.diff(counts.indptr).tolist() == np.diff(expected.indptr).tolist()


def test_rows_are_unit_length_and_deterministic() -> None:
    model = CharNgramTfidf().fit(TEXTS)
    matrix = model.transform(TEXTS)
    norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert (matrix[0] != matrix[5]).nnz == 0
    assert (matrix[0] != matrix[1]).nnz > 0


def test_rare_ngrams_weigh_more() -> None:
    model = CharNgramTfidf(ngram_range=(3, 3)).fit(["abc abc", "abc xyz", "abc"])
    row = model.transform(["abc xyz"]).toarray()[0]
    common = hashed_counts(["abc"], (3, 3), 2**20).indices  # " ab", "abc", "bc "
    rare = hashed_counts(["xyz"], (3, 3), 2**20).indices
    assert row[rare].min() > row[common].max()
