"""Batch scoring throughput: ``python -m admin score`` in-process vs on Spark (local[*]).

    python -m bench.scoring [ROWS]

A fresh home gets a ``tfidf_logreg`` production version trained on the Sentiment140
training split; the input is the Sentiment140 test-split texts repeated to ROWS rows
(default 100,000) as a CSV. Each engine scores it 3 times (median); Spark's time
includes its job but not the JVM start (a warm-up run starts it). Labels are compared.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.common import ROOT, isolated_home, print_table, sentiment140_split


def _production_version() -> str:
    from sentiment import lifecycle

    train, _ = sentiment140_split()
    folder = Path(tempfile.mkdtemp())
    train.to_csv(folder / "train.csv", index=False)
    dataset = lifecycle.ingest(str(folder / "train.csv"), "training")["dataset_id"]
    version = lifecycle.train("tfidf_logreg", dataset)["version"]
    lifecycle.promote(version, force=True, actor="bench")
    return version


def _spark_seconds(source: Path, folder: Path, runs: int) -> tuple[float, pd.DataFrame]:
    """Score in one Spark session (started once), timing each job."""
    from sentiment.config import get_settings
    from sentiment.serving.scoring import score

    times = []
    for run in range(runs + 1):  # the first run starts the JVM and the Python workers
        started = time.perf_counter()
        score(str(source), str(folder / f"spark{run}.csv"), "spark", settings=get_settings())
        if run:
            times.append(time.perf_counter() - started)
    parts = sorted((folder / f"spark{runs}.csv").glob("part-*.csv"))
    frame = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts])
    return statistics.median(times), frame


def main(rows: int = 100_000) -> None:
    isolated_home()
    version = _production_version()
    _, test = sentiment140_split()
    folder = Path(tempfile.mkdtemp())
    source = folder / "input.csv"
    texts = (test["text"].tolist() * (rows // len(test) + 1))[:rows]
    pd.DataFrame({"id": range(rows), "text": texts}).to_csv(source, index=False)
    local_times = []
    for run in range(3):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "admin", "score", str(source),
                               str(folder / f"local{run}.csv")], cwd=ROOT, env=os.environ,
                              capture_output=True, text=True, check=True)
        local_times.append(time.perf_counter() - started)
        print(done.stdout.strip())
    spark_s, spark_frame = _spark_seconds(source, folder, 3)
    local = pd.read_csv(folder / "local2.csv", dtype=str, keep_default_na=False)
    same = local["label"].tolist() == spark_frame["label"].tolist()
    local_s = statistics.median(local_times)
    print_table(f"Batch scoring, {rows:,} rows, tfidf_logreg v{version}, {os.cpu_count()} cores "
                "(median of 3)", [
                    ("in-process (`admin score`, whole command incl. start)",
                     f"{local_s:.1f} s, {rows / local_s:,.0f} rows/s"),
                    ("Spark local[*] (`--engine spark`, job only, JVM warm)",
                     f"{spark_s:.1f} s, {rows / spark_s:,.0f} rows/s"),
                    ("same labels both ways", "yes" if same else "NO")])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
