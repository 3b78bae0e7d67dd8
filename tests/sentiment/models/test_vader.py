"""VADER's vote in the served probability: the formula, old models, saved lexicon files."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.errors import SentimentError
from sentiment.models.vader import LEXICON_FILES, VaderOpinion, blend, opinion_for

TEXTS = ["I love this, best day ever!!", "This is awful and I hate it", "the table is brown",
         "not bad at all", "Looking forward to the concert tomorrow :)"]


def test_vader_reads_raw_text_as_a_probability() -> None:
    proba = VaderOpinion().proba(TEXTS)
    assert proba[0] > 0.9 and proba[1] < 0.2  # clear praise, clear complaint
    assert proba[2] == pytest.approx(0.5)  # no sentiment word: no opinion
    assert proba[3] > 0.5  # negation: "not bad" is mildly positive
    assert proba[4] > 0.5  # an emoticon and "forward" to nothing: mild, positive
    # Capitals and exclamation marks are signal to VADER: the raw text matters.
    loud, plain = VaderOpinion().proba(["GREAT!!!", "great"])
    assert loud > plain


def test_blend_is_the_weighted_mean_and_weight_zero_is_the_model_alone() -> None:
    opinion = VaderOpinion()
    model = np.array([0.2, 0.9, 0.3, 0.4, 0.45], dtype=np.float32)
    vader = opinion.proba(TEXTS)
    assert opinion.weight == 0.5
    assert np.allclose(blend(model, TEXTS, opinion), (model + vader) / 2)
    assert np.allclose(blend(model, TEXTS, VaderOpinion(weight=0.25)),
                       0.75 * model + 0.25 * vader)
    assert np.array_equal(blend(model, TEXTS, VaderOpinion(weight=0.0)), model)
    assert np.array_equal(blend(model, TEXTS, None), model)
    # Where the model hesitates on a mildly positive text, VADER's vote decides.
    assert blend(model, TEXTS, opinion)[4] > 0.5 > model[4]


def test_models_saved_before_the_blend_serve_alone() -> None:
    assert opinion_for({"epochs": 1}, None) is None
    assert opinion_for({"lexicon_weight": 0.0}, None) is None
    assert opinion_for({"lexicon_weight": 0.3}, None).weight == 0.3


def test_a_model_folder_without_the_lexicon_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SentimentError, match="vader_lexicon.txt"):
        VaderOpinion(tmp_path)


def test_lexicon_weight_is_validated() -> None:
    from sentiment.errors import InvalidInputError
    from sentiment.models import coerce_params, get_model_type

    minilm = get_model_type("minilm")
    assert coerce_params(minilm, {})["lexicon_weight"] == 0.5
    with pytest.raises(InvalidInputError, match="lexicon_weight"):
        coerce_params(minilm, {"lexicon_weight": 1.5})


@pytest.mark.slow
def test_saved_minilm_carries_its_lexicon_and_serves_the_blend(corpus: pd.DataFrame,
                                                               tmp_path: Path) -> None:
    """A frozen MiniLM on 300 real tweets: the saved folder has VADER's files, a reload
    gives the same blended probabilities, and without the weight it serves alone."""
    from sentiment.models import coerce_params
    from sentiment.models.minilm import MODEL, SETTINGS

    rows = corpus.sample(300, random_state=5)
    fit, held = rows.iloc[:250], rows.iloc[250:]
    params = coerce_params(MODEL, {"mode": "frozen", "head_epochs": 2, "lexicon": "none"})
    fitted = MODEL.fit(fit["text"].tolist(), fit["label"].to_numpy(), held["text"].tolist(),
                       held["label"].to_numpy(), params, None, lambda f, m, *_: None,
                       lambda: False).predictor
    fitted.save(tmp_path)
    assert all((tmp_path / name).is_file() for name in LEXICON_FILES)
    served = MODEL.load(tmp_path)
    assert np.allclose(served.predict_proba(TEXTS), fitted.predict_proba(TEXTS), atol=1e-5)

    alone = json.loads((tmp_path / SETTINGS).read_text())
    del alone["lexicon_weight"]  # what a version trained before the blend has
    (tmp_path / SETTINGS).write_text(json.dumps(alone))
    model_only = MODEL.load(tmp_path).predict_proba(TEXTS)
    vader = VaderOpinion(tmp_path).proba(TEXTS)
    assert np.allclose(served.predict_proba(TEXTS), (model_only + vader) / 2, atol=1e-5)


def test_the_emoji_shortcut_scores_exactly_as_vader(corpus) -> None:
    """Our analyzer skips VADER's per-character emoji loop on texts without emoji; every
    score must stay VADER's own."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from tests.conftest import SHARED_DATA

    texts = corpus["text"].tolist()
    for name in ("sentiment140_sample_20k.csv", "tweeteval_validation.csv"):
        if (SHARED_DATA / name).is_file():
            texts += pd.read_csv(SHARED_DATA / name, encoding="latin-1")["text"].astype(
                str).tolist()
    texts += ["", "  😡 ", "I ❤ it", " lol ", "kind of good", "🇫🇷 flag", "so 😂😂"]
    reference, ours = SentimentIntensityAnalyzer(), VaderOpinion()._analyzer
    assert [ours.polarity_scores(t) for t in texts] == [reference.polarity_scores(t)
                                                        for t in texts]
    # Served blends go through it: the opinion equals VADER's compound as a probability.
    compound = np.array([reference.polarity_scores(t)["compound"] for t in texts[:500]])
    assert np.allclose(VaderOpinion().proba(texts[:500]), (compound + 1) / 2, atol=1e-6)
