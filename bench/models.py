"""Every model type on the Sentiment140 split, each way it can be served, plus VADER.

Run: ``python -m bench.models [--types tfidf_logreg,bilstm,minilm] [--params JSON]``.
Each type is trained through the real lifecycle (ingest, train: 90% fit / 10% early-
stopping hold-out of the 80% part, ONNX export) in a temporary SENTIMENT_HOME and scored
on the fixed 20% split (seed 42). Every serving path of a version is measured in the same
run: ONNX Runtime (float, and int8 for minilm) and the Keras path it replaced; for
tfidf_logreg the fast scorer and the scikit-learn pipeline; for the two GIL-bound types
also the served path of large batches, split across worker processes (sentiment.serving.fanout,
measured once the workers are up). Single-prediction p50 is
in-process over 200 calls after warm-up; batch rows/s is median of 3 runs over the 5,531
test texts and, for the fast types, over 100,000 rows (the test texts repeated); size is
the logged model folder; memory is the resident memory a fresh process gains by loading
the version. Each serving path is measured in a fresh process that only loads the
version, as a server would. The CPU's model and vector flags are printed: these machines
differ.
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
from sentiment.serving.fanout import FAN_FROM

PUBLISHED = {"tfidf_logreg": "TF-IDF + LR 0.76-0.82", "bilstm": "LSTM 0.78-0.835",
             "minilm": "DistilBERT fine-tuned 0.85", "vader": "-"}
BIG = 100_000
WORKERS = 2  # worker processes of the fanned-out rows (SENTIMENT_SERVING_PROCESSES)
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
    from sentiment.metrics import compute_metrics

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


def serving_ways(model_type: str, tags: dict) -> list[tuple[str, str, bool]]:
    """(label, backend, 100k rows too) for every way a version of this type can serve."""
    workers = f"{WORKERS} worker processes"
    if model_type == "tfidf_logreg":
        return [(f"fast scorer, {workers}", "fanout", True), ("fast scorer", "auto", True),
                ("scikit-learn pipeline", "pipeline", True)]
    fanned = [(f"ONNX float, {workers}", "fanout", True)] if model_type == "bilstm" else []
    ways = [*fanned, ("ONNX float", "onnx", model_type == "bilstm")]
    if tags.get("int8_accuracy"):
        ways.append(("ONNX int8", "onnx-int8", False))
    return [*ways, ("Keras", "keras", False)]


def measure_in_process(version: str, backend: str, label: str, big: bool) -> dict:
    """One serving path, measured in this (fresh) process: load, then time."""
    from sentiment import registry
    from sentiment.config import get_settings
    from sentiment.models import get_model_type

    settings = get_settings()
    tags = registry.get_version(version, settings)["tags"]
    kind = get_model_type(tags["model_type"])
    _, test = sentiment140_split()
    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.model_dir(version, settings, Path(tmp))
        if backend == "fanout":  # as the server does from FAN_FROM rows: steady state
            from sentiment.models.pyfunc import SentimentModel
            from sentiment.serving.fanout import Fanout

            model = SentimentModel()
            model.load_dir(folder)
            predictor = Fanout(model, folder, WORKERS)
            if not predictor.start(wait=True):
                raise RuntimeError("the batch workers did not start")
        else:
            predictor = kind.load(folder, backend=None if backend in ("auto", "pipeline")
                                  else backend)
        if backend == "pipeline":
            predictor.fast = None
        row = measure(f"{tags['model_type']}, {label}", predictor, test, big)
        if backend == "fanout":
            predictor.close()
    if tags["model_type"] == "tfidf_logreg":
        served = backend in ("auto", "fanout")
    else:
        served = backend == "fanout" or getattr(predictor, "backend", "") == tags.get("serving")
    note = " (served)" if served else ""
    if served and tags["model_type"] in ("tfidf_logreg", "bilstm"):  # split at FAN_FROM
        note = f" (served {'from' if backend == 'fanout' else 'below'} {FAN_FROM:,} rows)"
    return {**row, "model": row["model"] + note}


def fresh_process(version: str, backend: str, label: str, big: bool) -> dict:
    """Each serving path runs in its own process that only loads the version, as a server
    does (measured beside the training that had just run, ONNX int8 lost a third)."""
    job = json.dumps({"version": version, "backend": backend, "label": label, "big": big})
    done = subprocess.run([sys.executable, "-m", "bench.models", "--measure", job],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    line = next((x for x in done.stdout.splitlines() if x.startswith("ROW")), None)
    if line is None:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(line.removeprefix("ROW"))


def type_rows(model_type: str, dataset_id: str, params: dict) -> list[dict]:
    from sentiment import lifecycle, registry
    from sentiment.config import get_settings

    settings = get_settings()
    trained = lifecycle.train(model_type, dataset_id, params=params)
    version = trained["version"]
    tags = registry.get_version(version, settings)["tags"]
    with tempfile.TemporaryDirectory() as tmp:
        size = folder_mb(registry.model_dir(version, settings, Path(tmp)))
    rows = [{**fresh_process(version, backend, label, big),
             "train_s": trained["training_time_s"], "size_mb": size}
            for label, backend, big in serving_ways(model_type, tags)]
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
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one path, in a fresh process
    args = parser.parse_args()
    if args.measure:
        print("ROW" + json.dumps(measure_in_process(**json.loads(args.measure))))
        return
    isolated_home()
    from sentiment import lifecycle

    train, test = sentiment140_split()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s140_train.csv"
        train.to_csv(path, index=False)
        dataset_id = lifecycle.ingest(str(path), "training")["dataset_id"]
    overrides = json.loads(args.params)
    rows = [row for t in args.types.split(",")
            for row in type_rows(t, dataset_id, overrides.get(t, {}))]
    rows.append(vader_row(test))
    print_table(rows, len(train), len(test))


if __name__ == "__main__":
    main()
