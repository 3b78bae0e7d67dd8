"""Batch scoring of whole files: in-process and on Spark give the same labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, shared_file


def admin(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "admin", "--json", *args], cwd=ROOT,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_score_in_process_csv_and_parquet(trained, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": ["1", "2", "3"], "tweet": ["I love this airline", "=1+2 worst flight",
                                                  "lost my bag, again"]}).to_csv(source,
                                                                                 index=False)
    result = admin("score", str(source), str(tmp_path / "out.csv"))
    assert result["rows"] == 3 and result["version"] == trained["version"]
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert out["label"].tolist() == ["positive", "negative", "negative"]
    assert out["tweet"][1] == "'=1+2 worst flight"  # formula-safe
    admin("score", str(source), str(tmp_path / "out.parquet"))
    parquet = pd.read_parquet(tmp_path / "out.parquet")
    assert parquet["label"].tolist() == out["label"].tolist()


@pytest.mark.slow
def test_spark_scoring_equals_in_process_on_the_shared_20k(trained, tmp_path: Path) -> None:
    pytest.importorskip("pyspark", reason="pip install -r requirements-spark.txt (CI does)")
    source = shared_file("sentiment140_sample_20k.csv")
    local = admin("score", str(source), str(tmp_path / "local.csv"))
    spark = admin("score", str(source), str(tmp_path / "spark.csv"), "--engine", "spark",
                  "--master", "local[2]")
    assert local["rows"] == spark["rows"] == 20_000
    expected = pd.read_csv(tmp_path / "local.csv", dtype=str, keep_default_na=False)
    parts = sorted((tmp_path / "spark.csv").glob("part-*.csv"))
    got = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts],
                    ignore_index=True)
    assert got["text"].tolist() == expected["text"].tolist()
    assert got["label"].tolist() == expected["label"].tolist()
    difference = (got["proba_positive"].astype(float)
                  - expected["proba_positive"].astype(float)).abs().max()
    assert difference < 1e-6


@pytest.mark.slow
def test_spark_udf_serves_a_minilm_version_through_onnx(corpus, trained_minilm: dict,
                                                        tmp_path: Path, monkeypatch) -> None:
    """mlflow.pyfunc.spark_udf loads the ONNX-served minilm in Spark's Python workers."""
    pytest.importorskip("pyspark", reason="pip install -r requirements-spark.txt (CI does)")
    version = trained_minilm["version"]
    source = tmp_path / "tweets.csv"
    corpus.sample(n=400, random_state=17)[["text"]].to_csv(source, index=False)
    for backend in ("onnx", "onnx-int8"):
        monkeypatch.setenv("SENTIMENT_SERVING_BACKEND", backend)  # reaches Spark's workers
        local = admin("score", str(source), str(tmp_path / f"{backend}.csv"), "--version",
                      version)
        spark = admin("score", str(source), str(tmp_path / f"{backend}-spark.csv"),
                      "--engine", "spark", "--master", "local[2]", "--version", version)
        assert local["rows"] == spark["rows"] == 400
        expected = pd.read_csv(tmp_path / f"{backend}.csv", dtype=str, keep_default_na=False)
        parts = sorted((tmp_path / f"{backend}-spark.csv").glob("part-*.csv"))
        got = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts],
                        ignore_index=True)
        assert got["text"].tolist() == expected["text"].tolist()
        difference = (got["proba_positive"].astype(float)
                      - expected["proba_positive"].astype(float)).abs()
        # Spark groups rows differently; int8 runs each text alone, so that cannot matter.
        assert difference.max() < 1e-5, (backend, difference.max())
        assert got["label"].tolist() == expected["label"].tolist()
