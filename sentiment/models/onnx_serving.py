"""Serving the Keras model types with ONNX Runtime: sessions, variants and the choice.

Training stays in Keras; serving does not have to. When a ``minilm`` or ``bilstm``
version is logged, its inference graph is exported beside the Keras weights
(:mod:`onnx_export`): ``model.onnx`` (float) and, for ``minilm``, ``model.int8.onnx``
(dynamically quantised). Both are scored on the version's held-out validation split, as
served (VADER's vote included), and ``serving.json`` records each variant's accuracy and
balanced accuracy and the one chosen: int8 when it costs at most
:data:`MAX_INT8_LOSS` (half a point) of both, else float. A version logged before this
has no ONNX files and is served by Keras, as before.

``SENTIMENT_SERVING_BACKEND`` overrides the choice for every version: ``auto`` (the
recorded choice), ``onnx`` (float), ``onnx-int8`` (int8 where the version has it), or
``keras``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.config import serving_backend, usable_cores
from sentiment.metrics import compute_metrics
from sentiment.models import onnx_export

FILES = {"float": "model.onnx", "int8": "model.int8.onnx"}
RECORD = "serving.json"
MAX_INT8_LOSS = 0.005
# ONNX Runtime 1.32 fuses Add + LayerNormalization into SkipLayerNormalization after
# quantisation, and that kernel is 5x slower here than the two it replaces (measured:
# 781 ms vs 154 ms per 2,000 tweets on one core), so that one fusion is turned off.
DISABLED_FUSIONS = ["SkipLayerNormFusion"]


def session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime session on the CPU, one intra-op thread per usable core unless
    ``threads`` says otherwise."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or usable_cores()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=DISABLED_FUSIONS)


def one_by_one(sequences: list[list[int]], run: Callable[[list[int]], np.ndarray]
               ) -> np.ndarray:
    """``run`` on each sequence alone, one per core at a time, in the input order.

    Dynamic int8 quantises activations with one scale per call: in a batch, a text's
    answer would move with its neighbours (up to 0.05 in probability, measured), so the
    same tweet could read positive alone and negative in a file. Alone, it cannot.
    """
    if len(sequences) <= 1:
        return np.asarray([float(np.asarray(run(s)).reshape(-1)[0]) for s in sequences])
    with ThreadPoolExecutor(usable_cores()) as pool:
        return np.asarray([float(np.asarray(out).reshape(-1)[0])
                           for out in pool.map(run, sequences)])


def read_record(directory: Path) -> dict[str, Any] | None:
    """The variants recorded when the version was logged (None: no ONNX export)."""
    path = directory / RECORD
    if not path.is_file() or not (directory / FILES["float"]).is_file():
        return None
    return json.loads(path.read_text())


def choose(directory: Path, requested: str | None = None) -> str | None:
    """The variant to serve (``float`` or ``int8``), or None for the Keras path.

    ``requested`` is a ``SENTIMENT_SERVING_BACKEND`` value (read from the environment
    when None).
    """
    requested = requested or serving_backend()
    record = read_record(directory)
    if requested == "keras" or record is None:
        return None
    if requested == "onnx":
        return "float"
    has_int8 = (directory / FILES["int8"]).is_file()
    if requested == "onnx-int8":
        return "int8" if has_int8 else "float"
    chosen = record.get("chosen", "float")
    return chosen if chosen != "int8" or has_int8 else "float"


def measure(proba: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy and balanced accuracy, as the gate computes them."""
    metrics = compute_metrics(labels, proba)
    return {m: float(metrics[m]) for m in ("accuracy", "balanced_accuracy")}


def decide(scores: dict[str, dict[str, float]]) -> tuple[str, str]:
    """(chosen variant, why): int8 when it loses at most MAX_INT8_LOSS on both measures."""
    if "int8" not in scores:
        return "float", "no int8 variant for this model type"
    losses = {m: scores["float"][m] - scores["int8"][m] for m in ("accuracy",
                                                                   "balanced_accuracy")}
    worst = max(losses.values())
    if worst <= MAX_INT8_LOSS:
        return "int8", f"int8 loses {worst * 100:.2f} points at most (limit 0.5)"
    return "float", f"int8 would lose {worst * 100:.2f} points (limit 0.5)"


def export_variants(directory: Path, graph: Any, load: Callable[[str], Any],
                    texts: list[str], labels: np.ndarray, quantize: bool) -> dict[str, Any]:
    """Write the float (and int8) graphs, score each as served, record the choice.

    ``load(variant)`` builds the ONNX predictor of ``directory`` for one variant.
    """
    onnx_export.save(graph, directory / FILES["float"])
    variants = ["float"]
    if quantize:
        onnx_export.quantize_int8(directory / FILES["float"], directory / FILES["int8"])
        variants.append("int8")
    scores = {v: measure(load(v).predict_proba(texts), labels) for v in variants}
    chosen, reason = decide(scores)
    record = {"variants": scores, "chosen": chosen, "reason": reason, "rows": len(texts),
              "measured_on": "the training run's held-out validation split"}
    (directory / RECORD).write_text(json.dumps(record, indent=1))
    return record
