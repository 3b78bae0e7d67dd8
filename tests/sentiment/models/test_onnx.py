"""ONNX serving of the Keras model types: same answers as Keras, honest int8, fallback.

Every test uses a real (small, one-epoch) model trained on real tweets of the default
corpus, through the real lifecycle and registry, and compares on real tweets. Tests that
only need *a* trained model share one per type (``trained_minilm``, ``trained_bilstm``);
tests that change how it is trained train their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.models import get_model_type, onnx_serving
from sentiment.pipeline import train
from tests.conftest import FAST_DEEP, SHARED_DATA, training_sample

pytestmark = pytest.mark.slow
FAST = FAST_DEEP
EDGE = ["", "   ", "😡😡😡", "ok", "I LOVE this airline!!! :)", "word " * 80,
        "delayed 3h in Zürich, merci bien &amp; thanks @united http://t.co/x #fail"]


@pytest.fixture
def training_id(corpus: pd.DataFrame, tmp_path: Path) -> str:
    """~540 real training tweets of the default corpus (60 held out by training): the
    sample the shared ``trained_*`` homes train on."""
    train_csv = training_sample(corpus, tmp_path, rows=600, seed=3)
    return lifecycle.ingest(str(train_csv), "training")["dataset_id"]


def real_tweets(corpus: pd.DataFrame, rows: int = 1000) -> list[str]:
    """Sentiment140 tweets when ../shared/data is there (never seen in training), else
    corpus tweets; plus the edge cases."""
    path = SHARED_DATA / "sentiment140_sample_20k.csv"
    if path.is_file():
        texts = pd.read_csv(path, encoding="latin-1")["text"].astype(str).tolist()[:rows]
    else:
        texts = corpus["text"].sample(n=rows, random_state=5).tolist()
    return texts + EDGE


def model_folder(version: str, tmp_path: Path) -> Path:
    return registry.model_dir(version, get_settings(), tmp_path / f"v{version}")


def model_alone(predictor):
    """The network's own probability (VADER's vote off), so differences are not halved."""
    predictor.opinion = None
    return predictor


@pytest.mark.parametrize("model_type", ["bilstm", "minilm"])
def test_onnx_float_gives_the_keras_probabilities(model_type: str, corpus: pd.DataFrame,
                                                  tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    version = request.getfixturevalue(f"trained_{model_type}")["version"]
    tags = registry.get_version(version, get_settings())["tags"]
    assert tags["serving"] in ("onnx-float", "onnx-int8")
    assert lifecycle.models_table()[0]["serving"] == tags["serving"]  # /models shows it
    folder = model_folder(version, tmp_path)
    kind = get_model_type(model_type)
    keras_side = model_alone(kind.load(folder, backend="keras"))
    onnx_side = model_alone(kind.load(folder, backend="onnx"))
    assert (keras_side.backend, onnx_side.backend) == ("keras", "onnx-float")
    texts = real_tweets(corpus)
    expected = keras_side.predict_proba(texts)
    got = onnx_side.predict_proba(texts)
    assert got.shape == (len(texts),)
    assert np.abs(got - expected).max() < 1e-4
    # The served model (pyfunc, registry) is the ONNX one, and agrees with Keras blended.
    served = registry.load_model(version, get_settings())
    assert served.predictor.backend == tags["serving"]
    blended_keras = kind.load(folder, backend="keras").predict_proba(texts)
    tolerance = 1e-4 if tags["serving"] == "onnx-float" else 0.1  # int8: see the next test
    assert np.abs(served.predict_proba(texts) - blended_keras).max() < tolerance


def test_int8_record_matches_a_remeasurement(trained_minilm: dict, tmp_path: Path) -> None:
    trained, training_id = trained_minilm, trained_minilm["training"]
    version = trained["version"]
    tags = registry.get_version(version, get_settings())["tags"]
    folder = model_folder(version, tmp_path)
    record = json.loads((folder / onnx_serving.RECORD).read_text())
    # The held-out split the training measured on, rebuilt (stratified, fixed seed).
    frame, _ = registry.load_dataset(training_id, get_settings())
    _, held_out = train.split(frame)
    assert record["rows"] == len(held_out)
    int8 = get_model_type("minilm").load(folder, backend="onnx-int8")
    assert int8.backend == "onnx-int8"
    again = onnx_serving.measure(int8.predict_proba(held_out["text"].tolist()),
                                 held_out["label"].to_numpy())
    one_row = 1.0 / len(held_out)
    for metric in ("accuracy", "balanced_accuracy"):
        assert abs(float(tags[f"int8_{metric}"]) - again[metric]) <= one_row + 1e-9
        assert record["variants"]["int8"][metric] == pytest.approx(float(tags[f"int8_{metric}"]),
                                                                   abs=1e-6)
    # The rule: int8 serves only when it loses at most half a point on both measures.
    worst = max(float(tags["int8_accuracy_loss"]), float(tags["int8_balanced_accuracy_loss"]))
    assert tags["serving"] == ("onnx-int8" if worst <= 0.005 else "onnx-float")
    # int8 quantises activations per call: each text runs alone, so its answer is the
    # same alone as in any batch (batches of 16 moved it by up to 0.05).
    texts = held_out["text"].tolist()[:40]
    together = int8.predict_proba(texts)
    assert np.abs(np.array([int8.predict_proba([t])[0] for t in texts]) - together).max() \
        < 1e-6
    assert np.abs(int8.predict_proba(texts[::-1])[::-1] - together).max() < 1e-6
    run = registry.client(get_settings()).get_run(trained["run_id"]).data.metrics
    assert run["onnx_int8_accuracy"] == pytest.approx(float(tags["int8_accuracy"]), abs=1e-6)
    assert "onnx_float_balanced_accuracy" in run


def test_the_rule_prefers_int8_only_within_half_a_point() -> None:
    float_scores = {"accuracy": 0.900, "balanced_accuracy": 0.880}
    assert onnx_serving.decide({"float": float_scores,
                                "int8": {"accuracy": 0.896, "balanced_accuracy": 0.876}}
                               )[0] == "int8"
    assert onnx_serving.decide({"float": float_scores,
                                "int8": {"accuracy": 0.899, "balanced_accuracy": 0.870}}
                               )[0] == "float"
    assert onnx_serving.decide({"float": float_scores})[0] == "float"


def test_a_version_without_onnx_is_served_by_keras(trained_bilstm: dict, home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    version = trained_bilstm["version"]
    texts = ["I love this airline", "worst flight ever", ""]
    onnx_answer = registry.load_model(version, get_settings()).predict_proba(texts)
    monkeypatch.setenv("SENTIMENT_SERVING_BACKEND", "keras")  # the operator's override
    forced = registry.load_model(version, get_settings())
    assert forced.predictor.backend == "keras"
    monkeypatch.delenv("SENTIMENT_SERVING_BACKEND")
    # A version logged before ONNX serving existed: its folder has no ONNX files.
    exported = [*home.rglob("*.onnx"), *home.rglob(onnx_serving.RECORD)]
    assert exported
    for path in exported:
        path.unlink()
    older = registry.load_model(version, get_settings())
    assert older.predictor.backend == "keras"
    assert np.abs(older.predict_proba(texts) - onnx_answer).max() < 1e-4


def test_a_failed_export_keeps_the_version_on_keras(training_id: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from sentiment.models import onnx_export

    def broken(*args, **kwargs):
        raise RuntimeError("exporter bug")

    monkeypatch.setattr(onnx_export, "bilstm_graph", broken)  # a fault injected on purpose
    version = lifecycle.train("bilstm", training_id, params=FAST["bilstm"])["version"]
    tags = registry.get_version(version, get_settings())["tags"]
    assert tags["serving"] == "keras" and "exporter bug" in tags["serving_export_error"]
    model = registry.load_model(version, get_settings())
    assert model.predictor.backend == "keras"
    assert model.predict(None, ["I love this airline"])["label"].tolist() == ["positive"]


def test_logged_minilm_serves_raw_strings_with_only_its_pip_requirements(
        trained_minilm: dict, tmp_path: Path) -> None:
    """A fresh virtual environment with the logged model's requirements.txt and nothing
    else (not even this project): the model loads, serves ONNX without TensorFlow."""
    import mlflow

    version = trained_minilm["version"]
    settings = get_settings()
    registry.fluent(settings)
    uri = f"models:/{settings.model_name}/{version}"
    requirements = Path(mlflow.pyfunc.get_model_dependencies(uri))
    assert any(line.startswith("onnxruntime==") for line in requirements.read_text().split())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", "-r",
                                str(requirements)], capture_output=True, text=True,
                               timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    script = ("import json, sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]);"
              "m = mlflow.pyfunc.load_model(sys.argv[2]);"
              "out = m.predict(['I love this airline', 'worst flight ever', '']);"
              "p = m.unwrap_python_model().predictor;"
              "print('RESULT' + json.dumps({'rows': out.to_dict('records'),"
              " 'backend': p.backend, 'tensorflow': 'tensorflow' in sys.modules}))")
    done = subprocess.run([str(python), "-c", script, settings.tracking_uri, uri],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
    result = json.loads(line.removeprefix("RESULT"))
    assert result["backend"].startswith("onnx-") and result["tensorflow"] is False
    assert [r["label"] for r in result["rows"]][:2] == ["positive", "negative"]
    here = registry.load_model(version, settings).predict_proba(
        ["I love this airline", "worst flight ever", ""])
    assert np.abs(np.array([r["proba_positive"] for r in result["rows"]]) - here).max() < 1e-4
