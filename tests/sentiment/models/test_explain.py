"""Why this label: exact weights for the baseline, occlusion for the neural types."""

from __future__ import annotations

import math

import numpy as np
import pytest

TEXTS = ["I love this airline, the crew was amazing :)",
         "Worst flight ever. Lost my bag AGAIN!! @united http://t.co/x",
         "not bad at all", "😡 delayed again #fail", "ok"]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_tfidf_weights_add_up_to_the_served_log_odds(trained: dict[str, str]) -> None:
    from sentiment.serving.service import SentimentService

    service = SentimentService()
    for text in TEXTS:
        result = service.explain(text)
        assert result["method"].startswith("exact")
        served = service.predict(text)["proba_positive"]
        assert abs(result["proba_positive"] - served) < 1e-9
        total = sum(result["weights"]) + result["rest"]
        assert abs(total - _logit(served)) < 1e-6, text
        # The pieces rebuild the normalised text; every token has a weight.
        assert "".join(piece for piece, _ in result["pieces"]) == result["text"]
        assert len(result["words"]) == len(result["tokens"])


def test_tfidf_weights_point_the_right_way(trained: dict[str, str]) -> None:
    from sentiment.serving.service import SentimentService

    words = {w["word"]: w["weight"] for w in
             SentimentService().explain("the crew was amazing but the food was awful")["words"]}
    assert words["amazing"] > 0 > words["awful"]
    assert abs(words["amazing"]) > abs(words["the"])


def test_explain_refuses_bad_input_and_logs_nothing(trained: dict[str, str]) -> None:
    from sentiment.errors import InvalidInputError
    from sentiment.monitoring import dashboard
    from sentiment.serving.service import SentimentService

    service = SentimentService()
    before = dashboard.summary()["predictions"]
    with pytest.raises(InvalidInputError, match="empty"):
        service.explain("   ")
    with pytest.raises(InvalidInputError, match="limit"):
        service.explain("a" * (service.settings.max_text_chars + 1))
    service.explain("fine")
    assert dashboard.summary()["predictions"] == before


def test_occlusion_measures_each_word(trained: dict[str, str]) -> None:
    """Occlusion on any model: removing a word changes the log-odds by its weight."""
    from sentiment.models.explain import occlusion
    from sentiment.serving.service import SentimentService

    model = SentimentService().server.snapshot().model
    text = "great crew terrible food"
    result = occlusion(model, text)
    assert result["tokens"] == text.split()
    without_great = float(model.predict_proba(["crew terrible food"])[0])
    full = float(model.predict_proba([text])[0])
    assert result["weights"][0] == pytest.approx(_logit(full) - _logit(without_great), abs=1e-9)
    assert result["weights"][0] > 0 > result["weights"][2]


@pytest.mark.slow
def test_neural_model_is_explained_by_occlusion(datasets: dict[str, str]) -> None:
    from sentiment import lifecycle
    from sentiment.serving.service import SentimentService

    version = lifecycle.train("bilstm", datasets["training"], params={"epochs": 1})["version"]
    lifecycle.promote(version, force=True, actor="test")
    service = SentimentService()
    result = service.explain("I love it, wonderful crew")
    assert result["model_type"] == "bilstm" and result["method"].startswith("occlusion")
    assert len(result["weights"]) == 5 and np.isfinite(result["weights"]).all()
