"""Quality on texts the default model has never seen, against VADER, in one run.

Run: ``python -m bench.quality [--types bilstm] [--skip-bootstrap-challenger]``. In a
temporary SENTIMENT_HOME: the full first start (stage 1 baseline, stage 2 challenger,
each timed), then every other model type trained on the same default-corpus training
split with its defaults. Each model and VADER (``vaderSentiment``, compound >= 0 ->
positive) are scored on:

- ``tweeteval_validation.csv``: human-labelled SemEval tweets, positive/negative rows
  (1,131 rows, 72% positive): out of domain;
- the two Sentiment140 samples, de-duplicated by id (emoticon labels): out of domain;
- the default corpus's own validation split (in domain, what the gate sees).

Prints a Markdown table (accuracy, balanced accuracy, macro F1, predicted/actual positive
rate) and the bootstrap timings. Production is also scored without VADER's vote
(``lexicon_weight`` 0), so the table shows what the blend adds and what it costs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from bench.common import SHARED, isolated_home


def tweeteval() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(SHARED / "tweeteval_validation.csv")
    frame = frame[frame["label"].isin(["positive", "negative"])]
    return frame["text"].astype(str).tolist(), (frame["label"] == "positive").astype(int).to_numpy()


def sentiment140() -> tuple[list[str], np.ndarray]:
    names = ["target", "ids", "date", "flag", "user", "text"]
    a = pd.read_csv(SHARED / "sentiment140_sample_20k.csv", encoding="latin-1")
    b = pd.read_csv(SHARED / "sentiment140_sample_10k_noheader.csv", encoding="latin-1",
                    header=None, names=names)
    both = pd.concat([a[names], b]).drop_duplicates("ids")
    both = both[both["target"].isin([0, 4])]
    return both["text"].astype(str).tolist(), (both["target"] == 4).astype(int).to_numpy()


def vader_proba(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    # compound >= 0 -> positive, as the reference numbers use (0.5 is our threshold).
    return np.array([0.5 + analyzer.polarity_scores(t)["compound"] / 2 for t in texts])


def without_vote(model: object) -> object | None:
    """The same loaded model with VADER's vote removed (None when it has none)."""
    predictor = getattr(model, "predictor", None)
    if getattr(predictor, "opinion", None) is None:
        return None
    predictor.opinion = None
    return model


def served_by_keras(version: str, settings: object) -> object | None:
    """The same version through its Keras network (None when it is not ONNX-served), to
    show what the ONNX variant (int8 for minilm) changes on unseen texts."""
    import tempfile
    from pathlib import Path

    from sentiment import registry
    from sentiment.models import get_model_type

    tags = registry.get_version(version, settings)["tags"]
    if not tags.get("serving", "").startswith("onnx"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.model_dir(version, settings, Path(tmp))
        return get_model_type(tags["model_type"]).load(folder, backend="keras")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--types", default="bilstm",
                        help="other model types to train on the default corpus")
    parser.add_argument("--skip-bootstrap-challenger", action="store_true")
    args = parser.parse_args()
    isolated_home()
    import os

    if args.skip_bootstrap_challenger:
        os.environ["SENTIMENT_BOOTSTRAP_CHALLENGER"] = "none"
    from sentiment import lifecycle, registry
    from sentiment.config import get_settings
    from sentiment.metrics import compute_metrics
    from sentiment.pipeline.bootstrap import bootstrap_baseline, bootstrap_challenger

    settings = get_settings()
    started = time.perf_counter()
    stage1 = bootstrap_baseline(settings, log=lambda m: None)
    stage1_s = time.perf_counter() - started
    started = time.perf_counter()
    stage2 = bootstrap_challenger(settings, log=lambda m: None)
    stage2_s = time.perf_counter() - started
    corpus_val, _ = registry.load_dataset(stage1["validation_dataset"], settings)
    sets = {"tweeteval (1,131)": tweeteval(), "Sentiment140 (29,6xx)": sentiment140(),
            "default corpus validation split (4,563, in domain)":
                (corpus_val["text"].tolist(), corpus_val["label"].to_numpy())}
    sets = {name.replace("29,6xx", f"{len(v[1]):,}"): v for name, v in sets.items()}
    production = registry.production_version(settings)
    models = {f"v{v['version']} {v['tags']['model_type']}"
              + (f" [{v['tags']['serving']}]" if v["tags"].get("serving") else "")
              + (" (production)" if v["version"] == production else "")
              + (f" [stage {1 if v['tags'].get('bootstrap_stage') == 'baseline' else 2}]"):
              v["version"] for v in registry.list_versions(settings, with_metrics=False)}
    for kind in filter(None, args.types.split(",")):
        trained = lifecycle.train(kind, stage1["training_dataset"], settings=settings)
        models[f"v{trained['version']} {kind} (defaults, {trained['training_time_s']:.0f} s)"] = \
            trained["version"]
    print(f"\nstage 1 (baseline in production): {stage1_s:.1f} s; stage 2 "
          f"({settings.bootstrap_challenger}): {stage2_s:.1f} s; {stage2.get('message', '')}")
    print("\n| set | model | accuracy | balanced acc. | macro F1 | predicted / actual positive |")
    print("|---|---|---|---|---|---|")
    for set_name, (texts, labels) in sets.items():
        scored = {name: registry.load_model(v, settings).predict_proba(texts)
                  for name, v in models.items()}
        alone = without_vote(registry.load_model(production, settings))
        if alone is not None:  # what the blend adds: production's own model without VADER
            scored[f"v{production} without VADER's vote (lexicon_weight 0)"] = \
                alone.predict_proba(texts)
        keras = served_by_keras(production, settings)
        if keras is not None:
            scored[f"v{production} served by Keras instead"] = keras.predict_proba(texts)
        scored["VADER (compound >= 0)"] = vader_proba(texts)
        for name, proba in scored.items():
            m = compute_metrics(labels, proba)
            print(f"| {set_name} | {name} | {m['accuracy']:.3f} | {m['balanced_accuracy']:.3f} "
                  f"| {m['macro_f1']:.3f} | {m['predicted_positive_rate']:.2f} / "
                  f"{m['actual_positive_rate']:.2f} |")


if __name__ == "__main__":
    main()
