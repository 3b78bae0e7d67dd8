"""Every model type on the Sentiment140 split, plus VADER, in one table.

Run: ``python -m bench.models [--types tfidf_logreg,bilstm,minilm]``. Each type is trained
through the real lifecycle (ingest, train: 90% fit / 10% early-stopping hold-out of the
80% part) in a temporary SENTIMENT_HOME and scored on the fixed 20% split (seed 42).
Single-prediction p50 is in-process over 200 calls after warm-up; batch rows/s is the
whole 20% split, median of 3 runs; size is the logged model folder on disk.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.common import isolated_home, latency_ms, median_seconds, sentiment140_split

PUBLISHED = {"tfidf_logreg": "TF-IDF + LR 0.76-0.82", "bilstm": "LSTM 0.78-0.835",
             "minilm": "DistilBERT fine-tuned 0.85", "vader": "-"}


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def vader_row(test) -> dict:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from sentiment.evaluate import compute_metrics

    analyzer = SentimentIntensityAnalyzer()
    texts = test["text"].tolist()

    def score(batch: list[str]) -> list[float]:
        return [(analyzer.polarity_scores(t)["compound"] + 1) / 2 for t in batch]

    metrics = compute_metrics(test["label"].to_numpy(), score(texts))
    p50, _ = latency_ms(lambda: score([texts[0]]), 200)
    seconds = median_seconds(lambda: score(texts), 3)
    return {"model": "vader (rules)", **metrics, "train_s": 0.0, "p50_ms": p50,
            "rows_s": len(texts) / seconds, "size_mb": 0.0}


def type_row(model_type: str, dataset_id: str, test, params: dict) -> dict:
    from sentiment import lifecycle, registry
    from sentiment.config import get_settings
    from sentiment.evaluate import compute_metrics

    settings = get_settings()
    trained = lifecycle.train(model_type, dataset_id, params=params)
    model = registry.load_model(trained["version"], settings)
    texts = test["text"].tolist()
    metrics = compute_metrics(test["label"].to_numpy(), model.predict_proba(texts))
    p50, _ = latency_ms(lambda: model.predict_proba(["my flight got cancelled again"]), 200)
    seconds = median_seconds(lambda: model.predict_proba(texts), 3)
    with tempfile.TemporaryDirectory() as tmp:
        size = folder_mb(registry.model_dir(trained["version"], settings, Path(tmp)))
    return {"model": model_type, **metrics, "train_s": trained["training_time_s"],
            "p50_ms": p50, "rows_s": len(texts) / seconds, "size_mb": size,
            "params": trained["params"], "history": trained["history"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--types", default="tfidf_logreg,bilstm,minilm")
    parser.add_argument("--params", default="{}", help='JSON: {"minilm": {"epochs": 1}}')
    args = parser.parse_args()
    isolated_home()
    from sentiment import lifecycle

    train, test = sentiment140_split()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s140_train.csv"
        train.to_csv(path, index=False)
        dataset_id = lifecycle.ingest(str(path), "training")["dataset_id"]
    overrides = json.loads(args.params)
    rows = [type_row(t, dataset_id, test, overrides.get(t, {})) for t in args.types.split(",")]
    rows.append(vader_row(test))
    print(f"\nSentiment140: {len(train):,} training rows (90% fit, 10% hold-out), "
          f"{len(test):,} test rows")
    print("\n| model | accuracy | F1 | ROC AUC | train time | p50 single | batch rows/s "
          "| size | published (seeds) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        published = PUBLISHED.get(r["model"].split()[0], "-")
        print(f"| {r['model']} | {r['accuracy']:.3f} | {r['f1']:.3f} | {r['roc_auc']:.3f} | "
              f"{r['train_s']:.0f} s | {r['p50_ms']:.2f} ms | {r['rows_s']:,.0f} | "
              f"{r['size_mb']:.1f} MB | {published} |")
    for r in rows:
        if "params" in r:
            print(f"\n{r['model']} params: {json.dumps(r['params'])}")


if __name__ == "__main__":
    main()
