"""Baseline benchmark: training time, quality on two data sets, latency and throughput.

Run: ``python -m bench.core``. Uses a temporary SENTIMENT_HOME and ../shared/data.
(a) the default corpus: trained on its training split, scored on its validation split;
(b) Sentiment140 samples: de-duplicated by id, fixed 80/20 split (seed 42).
Latency is in-process (ModelServer.predict_one), median of 500 calls after warm-up;
throughput is ModelServer.predict on 100,000 rows, median of 3 runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import isolated_home, latency_ms, median_seconds, print_table, sentiment140_split


def main() -> None:
    isolated_home()
    from sentiment import lifecycle
    from sentiment.config import get_settings
    from sentiment.metrics import compute_metrics
    from sentiment.registry import load_dataset
    from sentiment.serving.server import ModelServer

    boot = lifecycle.bootstrap(log=lambda m: None)
    settings = get_settings()
    version = boot["production_version"]
    runs = lifecycle.models_table()
    train_time = runs[0]["training_time_s"]
    val_frame, _ = load_dataset(boot["validation_dataset"], settings)
    server = ModelServer(settings)
    proba = server.snapshot().model.predict_proba(val_frame["text"].tolist())
    corpus = compute_metrics(val_frame["label"].to_numpy(), proba)

    train, test = sentiment140_split()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s140_train.csv"
        train.to_csv(path, index=False)
        dataset = lifecycle.ingest(str(path), "training")["dataset_id"]
    trained = lifecycle.train("tfidf_logreg", dataset)
    from sentiment import registry

    model = registry.load_model(trained["version"], settings)
    s140 = compute_metrics(test["label"].to_numpy(), model.predict_proba(test["text"].tolist()))

    p50, p95 = latency_ms(lambda: server.predict_one("worst flight ever, lost my bag"), 500)
    big = (test["text"].tolist() * (100_000 // len(test) + 1))[:100_000]
    seconds = median_seconds(lambda: server.predict(big), runs=3)
    rows = [
        ("bootstrap (empty home to production)", f"{boot['seconds']:.1f} s"),
        ("training time, default corpus (18,249 rows)", f"{train_time:.1f} s"),
        ("training time, Sentiment140 (22,151 rows)", f"{trained['training_time_s']:.1f} s"),
        ("default corpus validation split (4,563 rows): accuracy / F1 / ROC AUC",
         f"{corpus['accuracy']:.3f} / {corpus['f1']:.3f} / {corpus['roc_auc']:.3f}"),
        (f"Sentiment140 20% split ({len(test):,} rows): accuracy / F1 / ROC AUC",
         f"{s140['accuracy']:.3f} / {s140['f1']:.3f} / {s140['roc_auc']:.3f}"),
        ("single prediction in-process p50 / p95 (500 calls)", f"{p50:.2f} ms / {p95:.2f} ms"),
        ("batch throughput (100,000 rows, median of 3)", f"{100_000 / seconds:,.0f} rows/s"),
    ]
    print_table(f"tfidf_logreg baseline (production version {version})", rows)


if __name__ == "__main__":
    main()
