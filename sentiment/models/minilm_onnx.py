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
from sentiment.models.minilm_encoder import batched, load_tokenizer, read_config, token_ids
from sentiment.vader import blend_while, opinion_for

SETTINGS = "minilm.json"
ONNX_BATCH = 16  # ONNX Runtime is fastest on small length-sorted batches here (16-64 tried)


class MiniLMOnnxPredictor:
    """The same classifier served by ONNX Runtime (``variant``: float or int8), from the
    files of a logged model folder; TensorFlow is not imported."""

    def __init__(self, directory: Path, variant: str) -> None:
        self.params = json.loads((directory / SETTINGS).read_text())
        self.tokenizer = load_tokenizer(directory / "tokenizer.json")
        self.config, self.source = read_config(directory), directory
        self.opinion = opinion_for(self.params, directory)
        self.session = onnx_serving.session(directory / onnx_serving.FILES[variant])
        self.backend = f"onnx-{variant}"

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of the normalised texts (what the model sees)."""
        return token_ids(self.tokenizer, texts)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        return blend_while(lambda: batched(self.token_ids(texts), self._run, 1, ONNX_BATCH),
                           texts, self.opinion)
