"""The review queue: what needs a label, labelling, and labels becoming a dataset."""

from __future__ import annotations

import pytest


def _serve(texts: list[str]) -> list[dict]:
    from sentiment.serving.service import SentimentService

    service = SentimentService()
    return [service.predict(t) for t in texts]


def test_queue_lists_reported_wrong_first_then_least_confident(trained: dict[str, str]) -> None:
    from sentiment.monitoring import review
    from sentiment.serving.service import SentimentService

    served = _serve(["I love this crew, amazing!", "worst airline ever, awful", "ok then",
                     "the flight was a flight", "thanks a lot for nothing"])
    wrong = served[0]
    SentimentService().feedback("I love this crew, amazing!",
                                wrong["label"], False, prediction_id=wrong["prediction_id"])
    frame = review.queue()
    assert frame["prediction_id"].iloc[0] == wrong["prediction_id"]
    assert frame["reason"].iloc[0] == "reported wrong"
    rest = frame["confidence"].iloc[1:].tolist()
    assert rest == sorted(rest) and len(frame) == 5


def test_labelled_rows_leave_the_queue_and_become_a_dataset(trained: dict[str, str]) -> None:
    from sentiment import lifecycle, registry
    from sentiment.config import get_settings
    from sentiment.monitoring import review

    served = _serve(["love it, great service", "terrible, never again", "fine I guess"])
    ids = [s["prediction_id"] for s in served]
    assert review.label(ids[0], "positive")["status"] == "labelled"
    assert review.label(str(ids[1]), "Negative")["status"] == "labelled"
    assert review.label(ids[1], "negative")["status"] == "relabelled"
    assert set(review.queue()["prediction_id"]) == {ids[2]}
    before = len(lifecycle.datasets_table())
    summary = review.to_dataset("reviewed tweets, week 48")
    assert summary["rows_kept"] == 2 and summary["origin"] == "review queue"
    info = registry.get_dataset(summary["dataset_id"], get_settings())
    assert info["name"] == "reviewed tweets, week 48" and info["origin"] == "review queue"
    assert info["dataset_type"] == "jdd entrainement"
    assert len(lifecycle.datasets_table()) == before + 1
    frame, _ = registry.load_dataset(summary["dataset_id"], get_settings())
    assert sorted(frame["label"].tolist()) == [0, 1]
    # Each label is used once: nothing left to turn into a dataset, and a used row is kept.
    assert review.labelled().empty
    with pytest.raises(Exception, match="No labelled rows"):
        review.to_dataset("again")
    with pytest.raises(Exception, match="already in dataset"):
        review.label(ids[0], "negative")


def test_bad_labels_and_one_class_change_nothing(trained: dict[str, str]) -> None:
    from sentiment import lifecycle
    from sentiment.errors import InvalidInputError
    from sentiment.monitoring import review

    served = _serve(["love it", "like it a lot"])
    with pytest.raises(InvalidInputError, match="label must be one of"):
        review.label(served[0]["prediction_id"], "meh")
    with pytest.raises(InvalidInputError, match="no prediction"):
        review.label(999_999, "positive")
    with pytest.raises(InvalidInputError, match="number"):
        review.label("abc", "positive")
    for s in served:
        review.label(s["prediction_id"], "positive")
    before = len(lifecycle.datasets_table())
    with pytest.raises(InvalidInputError, match="Only one class"):
        review.to_dataset("all positive")
    with pytest.raises(InvalidInputError, match="name"):
        review.to_dataset("  ")
    assert len(lifecycle.datasets_table()) == before
    assert len(review.labelled()) == 2  # still there, to complete with a negative


def test_datasets_have_names(train_csv, val_csv) -> None:
    from sentiment import lifecycle

    first = lifecycle.ingest(str(train_csv), "training")
    second = lifecycle.ingest(str(val_csv), "validation", name="  Holdout   November ")
    assert first["name"] == "train" and second["name"] == "Holdout November"
    names = {row["dataset_id"]: row["name"] for row in lifecycle.datasets_table()}
    assert names == {first["dataset_id"]: "train", second["dataset_id"]: "Holdout November"}
    renamed = lifecycle.rename_dataset(first["dataset_id"], "tweets sample")
    assert renamed["name"] == "tweets sample"
    with pytest.raises(Exception, match="No dataset"):
        lifecycle.rename_dataset("nope", "x")
