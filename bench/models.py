"""Every model type on the Sentiment140 split, each way it can be served, plus VADER.

Run: ``python -m bench.models [--types tfidf_logreg,bilstm,minilm] [--params JSON]``.
Each type is trained through the real lifecycle (ingest, train: 90% fit / 10% early-
stopping hold-out of the 80% part, ONNX export) in a temporary SENTIMENT_HOME and scored
on the fixed 20% split (seed 42). Every serving path of a version is measured in the same
run: ONNX Runtime (float, and int8 for minilm) and the Keras path it replaced; for
tfidf_logreg the fast scorer and the scikit-learn pipeline. Single-prediction p50 is
in-process over 200 calls after warm-up; batch rows/s is median of 3 runs over the 5,531
test texts and, for the fast types, over 100,000 rows (the test texts repeated); size is
the logged model folder; memory is the resident memory a fresh process gains by loading
the version. The CPU's model and vector flags are printed: these machines differ.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, isolated_home, latency_ms, median_seconds, sentiment140_split

PUBLISHED = {"tfidf_logreg": "TF-IDF + LR 0.76-0.82", "bilstm": "LSTM 0.78-0.835",
             "minilm": "DistilBERT fine-tuned 0.85", "vader": "-"}
BIG = 100_000
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8")


def cpu() -> str:
    """The CPU's model name and the vector extensions that matter for these kernels."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "unknown CPU")
    flags = next((set(line.split(":", 1)[1].split()) for line in info.splitlines()
                  if line.startswith("flags")), set())
    present = [f for f in FLAGS if f in flags]
    return f"{name}, {os.cpu_count()} cores, flags: {', '.join(present) or 'none of ' + str(FLAGS)}"


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def loaded_mb(version: str, backend: str) -> float:
    """Resident memory (MB) a fresh Python process gains by loading the version."""
    script = ("import os, sys\n"
              "def rss():\n"
              "    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf("
              "'SC_PAGE_SIZE') / 1e6\n"
              "import mlflow, numpy, pandas\n"
              "from sentiment import registry\n"
              "from sentiment.config import get_settings\n"
              "before = rss()\n"
              "m = registry.load_model(sys.argv[1], get_settings())\n"
              "m.predict_proba(['warm up the session'])\n"
              "print('RSS', rss() - before)\n")
    env = {**os.environ, "SENTIMENT_SERVING_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, version], capture_output=True,
                          text=True, env=env, timeout=600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RSS")), None)
    return float(line.split()[1]) if line else float("nan")


def measure(name: str, predictor, test, big: bool) -> dict:
    from sentiment.evaluate import compute_metrics

    texts = test["text"].tolist()
    metrics = compute_metrics(test["label"].to_numpy(), predictor.predict_proba(texts))
    p50, _ = latency_ms(lambda: predictor.predict_proba(["my flight got cancelled again"]), 200)
    seconds = median_seconds(lambda: predictor.predict_proba(texts), 3)
    row = {"model": name, **metrics, "p50_ms": p50, "rows_s": len(texts) / seconds}
    if big:
        many = (texts * (BIG // len(texts) + 1))[:BIG]
        row["big_rows_s"] = BIG / median_seconds(lambda: predictor.predict_proba(many), 3)
    return row


def vader_row(test) -> dict:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    class Vader:
        def predict_proba(self, batch: list[str]) -> list[float]:
            return [(analyzer.polarity_scores(t)["compound"] + 1) / 2 for t in batch]

    return {**measure("vader (rules)", Vader(), test, big=False), "train_s": 0.0,
            "size_mb": 0.0}


def type_rows(model_type: str, dataset_id: str, test, params: dict) -> list[dict]:
    from sentiment import lifecycle, registry
    from sentiment.config import get_settings
    from sentiment.models import get_model_type
    from sentiment.models.tfidf_logreg import TfidfPredictor

    settings = get_settings()
    trained = lifecycle.train(model_type, dataset_id, params=params)
    version = trained["version"]
    tags = registry.get_version(version, settings)["tags"]
    kind = get_model_type(model_type)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.model_dir(version, settings, Path(tmp))
        size = folder_mb(folder)
        if model_type == "tfidf_logreg":
            fast = kind.load(folder)
            pipeline = TfidfPredictor(fast.pipeline)
            pipeline.fast = None
            ways = [("fast scorer", fast, True), ("scikit-learn pipeline", pipeline, True)]
        else:
            ways = [(f"ONNX {v}", kind.load(folder, backend=b), model_type == "bilstm")
                    for v, b in (("float", "onnx"), ("int8", "onnx-int8"))
                    if b == "onnx" or tags.get("int8_accuracy")]
            ways.append(("Keras", kind.load(folder, backend="keras"), False))
        for label, predictor, big in ways:
            is_served = (predictor.fast is not None if model_type == "tfidf_logreg"
                         else predictor.backend == tags.get("serving"))
            served = " (served)" if is_served else ""
            rows.append({**measure(f"{model_type}, {label}{served}", predictor, test, big),
                         "train_s": trained["training_time_s"], "size_mb": size})
    if model_type == "minilm":
        rows[0]["memory"] = {b: loaded_mb(version, b) for b in ("auto", "keras")}
    rows[0]["tags"] = {k: v for k, v in tags.items() if k.startswith(("serving", "int8"))}
    rows[0]["params"] = trained["params"]
    return rows


def print_table(rows: list[dict], train_rows: int, test_rows: int) -> None:
    print(f"\nCPU: {cpu()}")
    print(f"Sentiment140: {train_rows:,} training rows (90% fit, 10% hold-out), "
          f"{test_rows:,} test rows; 100k = the test texts repeated")
    print("\n| model, serving path | accuracy | F1 | ROC AUC | train time | p50 single "
          "| batch rows/s (5,531) | batch rows/s (100k) | size | published (seeds) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        published = PUBLISHED.get(r["model"].split(",")[0].split()[0], "-")
        big = f"{r['big_rows_s']:,.0f}" if "big_rows_s" in r else "-"
        print(f"| {r['model']} | {r['accuracy']:.3f} | {r['f1']:.3f} | {r['roc_auc']:.3f} | "
              f"{r['train_s']:.0f} s | {r['p50_ms']:.2f} ms | {r['rows_s']:,.0f} | {big} | "
              f"{r['size_mb']:.1f} MB | {published} |")
    for r in rows:
        for key in ("memory", "tags", "params"):
            if key in r:
                print(f"\n{r['model'].split(',')[0]} {key}: {json.dumps(r[key])}")


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
    rows = [row for t in args.types.split(",")
            for row in type_rows(t, dataset_id, test, overrides.get(t, {}))]
    rows.append(vader_row(test))
    print_table(rows, len(train), len(test))


if __name__ == "__main__":
    main()
