"""The TensorFlow/Keras model types on ~500 real tweets: train, log, reload, warm start."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.errors import CancelledError, RefusedError
from tests.conftest import FAST_DEEP, write_sample

pytestmark = pytest.mark.slow
TEXTS = ["I love this airline", "worst flight ever", "thanks for the upgrade :)",
         "lost my bag again", "ok", "", "😡😡😡"]
FAST = FAST_DEEP


@pytest.fixture
def small(corpus: pd.DataFrame, tmp_path: Path) -> dict[str, str]:
    """~540 training and 200 validation tweets of the default corpus, ingested."""
    train = write_sample(corpus, tmp_path / "train.csv", 600, seed=3)
    other = corpus.sample(frac=1.0, random_state=9).iloc[-3000:]
    val = write_sample(other, tmp_path / "val.csv", 200, seed=4)
    return {"training": lifecycle.ingest(str(train), "training")["dataset_id"],
            "validation": lifecycle.ingest(str(val), "validation")["dataset_id"]}


def fresh_process_predict(version: str, texts: list[str]) -> list[dict]:
    script = ("import json, sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]);"
              "m = mlflow.pyfunc.load_model(f'models:/tweet-sentiment/{sys.argv[2]}');"
              "out = m.predict(json.loads(sys.argv[3]));"
              "print('RESULT' + out.to_json(orient='records'))")
    done = subprocess.run([sys.executable, "-c", script, get_settings().tracking_uri, version,
                           json.dumps(texts)], capture_output=True, text=True, timeout=300,
                          cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line.removeprefix("RESULT"))


def weights(version: str) -> list[np.ndarray]:
    """The Keras weights of a version (it is served by ONNX; training continues in Keras)."""
    import tempfile

    from sentiment.models import get_model_type

    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.model_dir(version, get_settings(), Path(tmp))
        kind = get_model_type(registry.get_version(version, get_settings())["tags"]["model_type"])
        return kind.load(folder, backend="keras").model.get_weights()


@pytest.mark.parametrize("model_type", ["bilstm", "minilm"])
def test_train_log_reload_and_warm_start(model_type: str, small: dict[str, str]) -> None:
    steps: list[float] = []
    epochs: list[dict] = []  # the per-epoch metrics the Train tab plots live
    first = lifecycle.train(model_type, small["training"], params=FAST[model_type],
                            progress=lambda f, m, *extra: (steps.append(f), epochs.extend(extra)))
    assert first["status"] == "à valider" and steps == sorted(steps) and steps[-1] == 1.0
    assert epochs and epochs[0]["epoch"] == 1 and "loss" in epochs[0]
    run = registry.client(get_settings()).get_run(first["run_id"])
    assert "val_accuracy" in run.data.metrics and run.data.params["model_type"] == model_type
    history = registry.client(get_settings()).get_metric_history(first["run_id"], "loss")
    assert len(history) >= 1
    # A fresh process, only the registry: N rows in, N rows out, from raw strings.
    rows = fresh_process_predict(first["version"], TEXTS)
    assert len(rows) == len(TEXTS)
    assert all(r["label"] in ("positive", "negative") and 0 <= r["proba_positive"] <= 1
               for r in rows)
    if model_type == "minilm":  # pretrained: well above chance after one short epoch
        checked = lifecycle.validate(first["version"], small["validation"], min_accuracy=0.0)
        assert checked["metrics"]["accuracy"] > 0.65, checked["metrics"]

    warm = lifecycle.train(model_type, small["training"], base_version=first["version"],
                           params=FAST[model_type])
    info = registry.get_version(warm["version"], get_settings())
    assert info["tags"]["base_version"] == first["version"]
    parent = registry.client(get_settings()).get_run(info["run_id"]).data.tags
    assert parent["mlflow.parentRunId"] == first["run_id"]
    before, after = weights(first["version"]), weights(warm["version"])
    assert len(before) == len(after)
    assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_logged_minilm_tokenizer_matches_the_wheel(small: dict[str, str]) -> None:
    from tokenizers import Tokenizer

    from sentiment.models.minilm_encoder import MAX_TOKENS, wheel_dir

    version = lifecycle.train("minilm", small["training"],
                              params={**FAST["minilm"], "mode": "frozen"})["version"]
    model = registry.load_model(version, get_settings())
    reference = Tokenizer.from_file(str(wheel_dir() / "tokenizer.json"))
    reference.enable_truncation(max_length=MAX_TOKENS)
    reference.no_padding()  # tokenizer.json pads to 128; the model pads per batch, with id 0
    texts = ["I LOVE this airline!!", "delayed 3h in Zürich, merci bien", "ok"]
    assert model.predictor.token_ids(texts) == [
        reference.encode(t).ids for t in
        ["i love this airline !!", "delayed 3h in zürich, merci bien", "ok"]]
    assert model.predictor.token_ids(["ok"])[0][0] == 101  # [CLS]


def test_other_type_base_is_refused(small: dict[str, str]) -> None:
    base = lifecycle.train("tfidf_logreg", small["training"])["version"]
    with pytest.raises(RefusedError, match="cannot warm-start"):
        lifecycle.train("bilstm", small["training"], base_version=base)
    assert [m["version"] for m in lifecycle.models_table()] == [base]


def test_cancel_leaves_no_version_and_a_killed_run(small: dict[str, str]) -> None:
    calls = {"n": 0}

    def stop_soon() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(CancelledError):
        lifecycle.train("bilstm", small["training"], params={"epochs": 3},
                        should_stop=stop_soon)
    assert lifecycle.models_table() == []
    settings = get_settings()
    runs = registry.client(settings).search_runs(
        [registry.experiment_id(settings, "training")])
    assert [r.info.status for r in runs] == ["KILLED"]  # issue 9.3: cancelled, not failed


@pytest.mark.parametrize("model_type", ["bilstm", "minilm"])
def test_balanced_class_weights_reach_the_keras_types(model_type: str, corpus: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    """On 85% negative training tweets, balanced weighting recalls more positives."""
    negatives = corpus[corpus["label"] == 0].sample(n=510, random_state=13)
    positives = corpus[corpus["label"] == 1].sample(n=90, random_state=13)
    pd.concat([negatives, positives]).to_csv(tmp_path / "skewed.csv", index=False)
    other = corpus.sample(frac=1.0, random_state=14).iloc[-3000:]
    val = write_sample(other, tmp_path / "val.csv", 300, seed=15)
    train_id = lifecycle.ingest(str(tmp_path / "skewed.csv"), "training")["dataset_id"]
    val_id = lifecycle.ingest(str(val), "validation")["dataset_id"]
    base = {**FAST[model_type], "lexicon": "none", "lexicon_weight": 0.0}  # the model alone
    if model_type == "bilstm":  # from scratch on 540 rows: it needs a few epochs to learn
        base.update(epochs=8, patience=8, learning_rate=0.005)
    recall = {}
    for weighting in ("none", "balanced"):
        trained = lifecycle.train(model_type, train_id, params={**base,
                                                                "class_weight": weighting})
        assert trained["params"]["class_weight"] == weighting
        if model_type == "bilstm":  # early stopping watched the (weighted) held-out accuracy
            assert "val_accuracy" in trained["history"][0]
        checked = lifecycle.validate(trained["version"], val_id, min_accuracy=0.0)
        recall[weighting] = checked["metrics"]["recall_positive"]
    assert recall["balanced"] > recall["none"] + 0.05, recall
