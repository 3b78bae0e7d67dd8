"""First start: the default corpus becomes a production model, once."""

import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.serving import ModelServer


@pytest.mark.slow
def test_bootstrap_then_idempotent() -> None:
    first = lifecycle.bootstrap(log=lambda m: None)
    assert first["changed"] and first["production_version"] == "1"
    assert first["accuracy"] >= 0.75
    datasets = lifecycle.datasets_table()
    assert sorted(d["dataset_type"] for d in datasets) == ["jdd entrainement", "jdd validation"]
    train = next(d for d in datasets if d["dataset_type"] == "jdd entrainement")
    val = next(d for d in datasets if d["dataset_type"] == "jdd validation")
    assert train["rows_kept"] + val["rows_kept"] == 22812
    assert abs(val["rows_kept"] / 22812 - 0.2) < 0.001
    server = ModelServer()
    labels = [p.label for p in server.predict(["I love this airline", "worst flight ever"])]
    assert labels == ["positive", "negative"]

    again = lifecycle.bootstrap(log=lambda m: None)
    assert not again["changed"] and again["production_version"] == "1"
    assert len(lifecycle.datasets_table()) == 2
    assert len(registry.list_versions(get_settings())) == 1
