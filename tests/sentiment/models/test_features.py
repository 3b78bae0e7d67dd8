"""The vectorised char n-gram TF-IDF: counts, normalisation, agreement with scikit-learn."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from sentiment.models.features import CharNgramTfidf, hashed_counts

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


@pytest.mark.slow
def test_fast_scorer_gives_the_pipeline_probabilities(corpus) -> None:
    """The served tfidf_logreg path (one tokenisation, no sparse word matrices) against
    the scikit-learn pipeline it was built from, on real tweets it never saw."""
    import pandas as pd

    from sentiment.models import coerce_params, get_model_type
    from tests.conftest import SHARED_DATA

    kind = get_model_type("tfidf_logreg")
    train = corpus.sample(n=3000, random_state=21)
    for params in ({}, {"word_ngram_max": 1, "lexicon": "none"}, {"word_ngram_max": 3}):
        fitted = kind.fit(train["text"].tolist(), train["label"].to_numpy(), [], np.array([]),
                          coerce_params(kind, params), None, lambda f, m, *_: None, lambda: False)
        predictor = fitted.predictor
        assert predictor.fast is not None, params
        path = SHARED_DATA / "sentiment140_sample_20k.csv"
        texts = (pd.read_csv(path, encoding="latin-1")["text"].astype(str).tolist()[:5000]
                 if path.is_file() else corpus["text"].sample(n=5000, random_state=3).tolist())
        texts += ["", "ok ok ok ok", "not not not bad", "😡😡 :( :(", "a " * 300]
        expected = predictor.pipeline.predict_proba(texts)[:, 1]
        got = predictor.predict_proba(texts)
        assert np.abs(got - expected).max() < 1e-6, params
        # Large batches are split over threads: same answers, same order.
        many = texts * 5
        assert np.abs(predictor.predict_proba(many) - np.tile(expected, 5)).max() < 1e-6


def test_hashed_counts_are_grouped_by_text_and_summed() -> None:
    texts = ["aaaa aaaa", "", "ab", "ça va 😡", "aaaa aaaa"]
    counts = hashed_counts(texts, (2, 5), 2**20)
    assert counts.has_canonical_format
    assert counts[0].sum() == sum(len(f" {texts[0]} ") - n + 1 for n in range(2, 6))
    assert counts[1].sum() == 1  # "  ": one 2-gram
    assert (counts[0] != counts[4]).nnz == 0 and counts[0].max() > 1  # repeats summed
