"""Shared benchmark helpers: the fixed Sentiment140 split, timing, and table printing."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SEED = 42


def isolated_home() -> Path:
    """Point SENTIMENT_HOME at a fresh temporary folder (benchmarks never touch real state)."""
    home = Path(tempfile.mkdtemp(prefix="sentiment-bench-"))
    os.environ["SENTIMENT_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    for key, value in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                       "HF_HUB_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}.items():
        os.environ[key] = value
    return home


def sentiment140_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both Sentiment140 samples, de-duplicated by tweet id, split 80/20 (stratified, seed 42)."""
    from sklearn.model_selection import train_test_split

    names = ["target", "ids", "date", "flag", "user", "text"]
    a = pd.read_csv(SHARED / "sentiment140_sample_20k.csv", encoding="latin-1")
    b = pd.read_csv(SHARED / "sentiment140_sample_10k_noheader.csv", encoding="latin-1",
                    header=None, names=names)
    both = pd.concat([a[names], b]).drop_duplicates("ids").drop_duplicates("text")
    both = both[both["target"].isin([0, 4])]
    frame = pd.DataFrame({"text": both["text"].astype(str).str.strip(),
                          "label": (both["target"] == 4).astype(int)}).reset_index(drop=True)
    train, test = train_test_split(frame, test_size=0.2, random_state=SEED,
                                   stratify=frame["label"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def latency_ms(fn: Callable[[], object], calls: int, warmup: int = 20) -> tuple[float, float]:
    """p50 and p95 latency of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def median_seconds(fn: Callable[[], object], runs: int = 3) -> float:
    """Median wall time of ``fn`` over ``runs`` runs."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a two-column Markdown table (ready for README)."""
    print(f"\n### {title}\n")
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
