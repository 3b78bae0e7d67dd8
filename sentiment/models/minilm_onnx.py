"""``minilm`` served by ONNX Runtime from a logged model folder, without TensorFlow.

The folder holds the tokenizer, the settings, the VADER files and the ONNX graphs that
:mod:`onnx_export` wrote when the version was logged; :mod:`onnx_serving` says which
variant serves. Texts go through the same normalisation and tokenizer as in Keras.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sentiment.models import onnx_serving
from sentiment.models.minilm_encoder import (
    batched,
    load_tokenizer,
    pad,
    read_config,
    token_ids,
)
from sentiment.models.vader import blend_while, opinion_for

SETTINGS = "minilm.json"
ONNX_BATCH = 16  # ONNX Runtime is fastest on small length-sorted batches here (16-64 tried)


class MiniLMOnnxPredictor:
    """The same classifier served by ONNX Runtime (``variant``: float or int8), from the
    files of a logged model folder; TensorFlow is not imported.

    Float runs length-sorted batches of 16 on all cores. int8 runs each text alone on
    one core, the cores in parallel (:func:`onnx_serving.one_by_one`): its answer to a
    text is then the same alone, in a file or on Spark, at 19% less throughput than
    batches of 16 (measured in bench.models).
    """

    def __init__(self, directory: Path, variant: str) -> None:
        self.params = json.loads((directory / SETTINGS).read_text())
        self.tokenizer = load_tokenizer(directory / "tokenizer.json")
        self.config, self.source = read_config(directory), directory
        self.opinion = opinion_for(self.params, directory)
        self.per_text = variant == "int8"
        self.session = onnx_serving.session(directory / onnx_serving.FILES[variant],
                                            threads=1 if self.per_text else None)
        self.backend = f"onnx-{variant}"

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of the normalised texts (what the model sees)."""
        return token_ids(self.tokenizer, texts)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def _run_one(self, sequence: list[int]) -> np.ndarray:
        return self._run(*pad([sequence]))

    def _network(self, texts: list[str]) -> np.ndarray:
        sequences = self.token_ids(texts)
        if self.per_text:
            return onnx_serving.one_by_one(sequences, self._run_one)
        return batched(sequences, self._run, 1, ONNX_BATCH)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        return blend_while(lambda: self._network(texts), texts, self.opinion)
