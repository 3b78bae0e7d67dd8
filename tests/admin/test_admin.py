"""The admin command line, run as a real subprocess like an operator would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def admin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "admin", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=dict(os.environ))


@pytest.mark.slow
def test_ingest_train_validate_promote_predict(train_csv: Path, val_csv: Path) -> None:
    out = admin("ingest", str(train_csv), "--role", "training")
    assert out.returncode == 0, out.stderr
    assert "1200 kept" in out.stdout and "jdd entrainement" in out.stdout
    train_id = out.stdout.split()[1]
    val = json.loads(admin("--json", "ingest", str(val_csv), "--role", "validation").stdout)
    trained = json.loads(admin("--json", "train", "--model-type", "tfidf_logreg", "--dataset",
                               train_id, "--param", "C=2").stdout)
    assert trained["version"] == "1" and trained["params"]["C"] == 2.0
    refused = admin("promote", "1")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: Version 1 has not passed validation")
    assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1
    checked = admin("validate", "1", "--dataset", val["dataset_id"], "--min-accuracy", "0.6",
                    "--auto-promote")
    assert checked.returncode == 0 and "PASSED" in checked.stdout
    models = admin("models")
    assert "production" in models.stdout
    predicted = admin("predict", "I love this airline", "worst flight ever")
    lines = predicted.stdout.strip().splitlines()
    assert lines[0].startswith("positive") and lines[1].startswith("negative")


def test_bad_file_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    out = admin("ingest", str(bad), "--role", "training")
    assert out.returncode == 1
    assert out.stderr.startswith("error: Could not find a text column")
    assert "Traceback" not in out.stderr
    assert admin("--json", "datasets").stdout.strip() == "[]"
