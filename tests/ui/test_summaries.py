"""Results for people, and the interface's words, in English and French."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


def test_language_follows_the_browser() -> None:
    from ui.summaries import language

    assert language("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert language("en-GB,fr;q=0.5") == "en"
    assert language("de-DE,fr;q=0.4") == "fr"  # the first language we speak
    assert language(None) == language("de-DE") == "en"


def test_summaries_say_the_numbers_in_both_languages() -> None:
    from ui import summaries

    upload = {"name": "November", "role": "validation", "rows_kept": 1200, "rows_dropped": 3,
              "dropped": {"neutral": 2, "empty text": 1}, "positive": 300, "negative": 900,
              "positive_rate": 0.25}
    assert summaries.upload(upload) == (
        "**Dataset “November”** recorded as validation data: **1,200 rows kept**, 3 dropped "
        "(2 neutral, 1 empty text). Balance: 300 positive (25%), 900 negative.")
    assert "1,200 lignes gardées" in summaries.upload(upload, "fr")
    metrics = {"balanced_accuracy": 0.81, "recall_negative": 0.9, "recall_positive": 0.7}
    failed = {"version": "3", "passed": False, "reasons": ["balanced_accuracy 0.61 < 0.75"],
              "gate_metric": "balanced_accuracy", "metrics": metrics, "min_accuracy": 0.75,
              "production_version": "1", "production_metrics": {"balanced_accuracy": 0.8}}
    text = summaries.validate(failed)
    assert "**Version 3 failed** the gate: balanced_accuracy 0.61 < 0.75." in text
    assert "Recall: 90% of negatives, 70% of positives." in text
    assert "Production (v1) on the same data: balanced_accuracy 0.800." in text
    assert "échoue" in summaries.validate(failed, "fr")
    assert summaries.switch({"production_version": "2", "previous_version": "1",
                             "changed": True, "forced": True}) == (
        "**Version 2 now serves** (was v1). Forced without a passed validation: recorded on "
        "the version.")
    assert "rien n'a changé" in summaries.switch({"production_version": "2",
                                                  "changed": False}, "fr")


def test_both_languages_have_every_sentence() -> None:
    from ui import text as ui_text
    from ui.summaries import TEXT

    assert set(TEXT["en"]) == set(TEXT["fr"])
    assert set(ui_text.EN) == set(ui_text.FR)
    assert all(ui_text.FR[k] != ui_text.EN[k] for k in ui_text.EN if k not in
               ("sentiment", "version", "export", "details", "tab_api")), \
        "an untranslated French text"
    tabs = [p for p in sorted((ROOT / "ui").glob("*.py")) if p.name != "text.py"]
    layout = [ROOT / "app.py", *tabs]
    used = {key for path in layout for key in re.findall(r'\bt\("([a-z_]+)"\)', path.read_text())}
    assert used and used <= set(ui_text.EN)  # every key the layout uses exists
    with pytest.raises(KeyError):
        ui_text.t("no_such_text")
