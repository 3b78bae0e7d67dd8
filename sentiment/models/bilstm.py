"""``bilstm``: a Keras 3 bidirectional LSTM trained from scratch on raw strings.

``TextVectorization`` sits inside the model (vocabulary learnt from the training data),
then an embedding, a bidirectional LSTM, max pooling over time and a sigmoid head.
Texts are normalised with :mod:`sentiment.models.preprocess` first, in training and serving
alike. Classes are weighted to balance by default, and early stopping watches the
held-out accuracy weighted the same way (the balanced accuracy). Warm start continues
from the base version's weights and keeps its vocabulary. The served probability blends
in VADER's with ``lexicon_weight`` (see :mod:`sentiment.models.vader`).

Serving: a logged version also carries the network after its ``TextVectorization`` as
ONNX (:mod:`onnx_serving`) with the vocabulary beside it, and is served by ONNX Runtime
(:class:`BiLSTMOnnxPredictor`: the vocabulary lookup in Python, the rest in the graph);
the Keras predictor serves versions logged before that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.models import (
    CLASS_WEIGHT,
    LEXICON,
    FitResult,
    HyperParam,
    Predictor,
    ProgressFn,
    StopFn,
    check_stop,
    class_weights,
    onnx_serving,
    sample_weights,
)
from sentiment.models.keras_common import (
    history_rows,
    keras,
    length_batches,
    progress_callback,
    scatter,
)
from sentiment.models.minilm_encoder import load_tokenizer, pad, wheel_dir
from sentiment.models.preprocess import normalize_many
from sentiment.models.vader import LEXICON_WEIGHT, blend, blend_while, opinion_for

FILE = "model.keras"
CONFIG = "bilstm.json"
VOCABULARY = "vocabulary.json"
BATCH = 256
OOV = 1  # TextVectorization: 0 is padding, 1 the out-of-vocabulary token


class BiLSTMPredictor:
    """A trained Keras model (+ VADER's vote); ``predict_proba`` takes raw texts.

    ``lexicon_dir`` holds the VADER files of a saved model (None: the installed package's).
    """

    backend = "keras"

    def __init__(self, model: Any, config: dict[str, Any],
                 lexicon_dir: Path | None = None) -> None:
        import tensorflow as tf

        self.model, self.config = model, config
        self.opinion = opinion_for(config, lexicon_dir)
        self._call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        import tensorflow as tf

        normalized = normalize_many(texts)
        batches = length_batches([len(t) for t in normalized], BATCH)
        outputs = [self._call(tf.constant([normalized[i] for i in idx])).numpy()
                   for idx in batches]
        return blend(scatter(batches, outputs, len(texts)), list(texts), self.opinion)

    def save(self, directory: Path) -> None:
        self.model.save(directory / FILE)
        (directory / CONFIG).write_text(json.dumps(self.config))
        if self.opinion is not None:
            self.opinion.save(directory)


class BiLSTMOnnxPredictor:
    """The same network served by ONNX Runtime from a logged model folder.

    ``TextVectorization`` is a whitespace split and a vocabulary lookup, truncated to
    ``max_len``: done here with a dict, then the ids go through the graph.
    """

    backend = "onnx-float"
    fans_out = True  # normalisation, lookup and VADER hold the GIL: workers gain

    def __init__(self, directory: Path, variant: str = "float") -> None:
        self.config = json.loads((directory / CONFIG).read_text())
        vocabulary = json.loads((directory / VOCABULARY).read_text())
        self.index = {word: i for i, word in enumerate(vocabulary)}
        self.max_len = int(self.config["max_len"])
        self.opinion = opinion_for(self.config, directory)
        self.session = onnx_serving.session(directory / onnx_serving.FILES[variant])

    def _run(self, sequences: list[list[int]]) -> np.ndarray:
        ids, mask = pad(sequences)
        lengths = mask.sum(axis=1, dtype=np.int32)
        return self.session.run(None, {"ids": ids, "lengths": lengths})[0]

    def _network(self, texts: list[str]) -> np.ndarray:
        get, limit = self.index.get, self.max_len
        # normalize() leaves single spaces only, so this is TextVectorization's split.
        sequences = [[get(word, OOV) for word in text.split(" ") if word][:limit]
                     for text in normalize_many(texts)]
        batches = length_batches([len(s) for s in sequences], BATCH)
        return scatter(batches, [self._run([sequences[i] for i in idx]) for idx in batches],
                       len(texts))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        return blend_while(lambda: self._network(texts), texts, self.opinion)


def minilm_word_vectors(vocabulary: list[str]) -> np.ndarray:
    """One 384-wide vector per word: the mean of its MiniLM WordPiece embeddings.

    Pretrained word vectors are what the published LSTM results on Sentiment140 start
    from; here they come from the MiniLM wheel already installed (no download).
    """
    from safetensors.numpy import load_file

    folder = wheel_dir()
    table = load_file(str(folder / "model.safetensors"))
    table = {k.removeprefix("bert."): v for k, v in table.items()}
    pieces = table["embeddings.word_embeddings.weight"]
    tokenizer = load_tokenizer(folder / "tokenizer.json")
    rng = np.random.default_rng(42)
    vectors = rng.normal(0, 0.05, (len(vocabulary), pieces.shape[1])).astype("float32")
    vectors[0] = 0.0  # padding
    encodings = tokenizer.encode_batch(vocabulary[2:], add_special_tokens=False)
    for row, encoding in enumerate(encodings, start=2):
        if encoding.ids:
            vectors[row] = pieces[encoding.ids].mean(axis=0)
    return vectors


def build(params: Mapping[str, Any], texts: list[str]) -> Any:
    """A fresh model whose vocabulary is adapted to ``texts`` (already normalised)."""
    k = keras()
    vectorize = k.layers.TextVectorization(
        max_tokens=int(params["vocab_size"]), output_sequence_length=int(params["max_len"]),
        standardize=None, split="whitespace", name="vectorize")
    vectorize.adapt(np.asarray(texts, dtype=object), batch_size=1024)
    vocabulary = vectorize.get_vocabulary()
    pretrained = params["init_embeddings"] == "minilm"
    embedding = k.layers.Embedding(
        len(vocabulary), 384 if pretrained else int(params["embedding_dim"]), mask_zero=True,
        name="embedding")
    inputs = k.Input(shape=(1,), dtype="string", name="text")
    x = embedding(vectorize(inputs))
    if pretrained:
        embedding.set_weights([minilm_word_vectors(vocabulary)])
    x = k.layers.SpatialDropout1D(float(params["dropout"]))(x)
    x = k.layers.Bidirectional(k.layers.LSTM(int(params["units"]), return_sequences=True),
                               name="bilstm")(x)
    x = k.layers.GlobalMaxPooling1D()(x)
    x = k.layers.Dropout(float(params["dropout"]))(x)
    outputs = k.layers.Dense(1, activation="sigmoid", name="head")(x)
    return k.Model(inputs, outputs, name="bilstm")


class BiLSTM:
    """Model type ``bilstm``."""

    name = "bilstm"
    title = "Bidirectional LSTM (Keras, from scratch)"
    description = ("TextVectorization inside the model, word embeddings (initialised from "
                   "MiniLM's or random), BiLSTM trained from scratch, max pooling; early "
                   "stopping on the held-out split. Under a minute to a few minutes on CPU.")
    pip_requirements = ("tensorflow-cpu", "keras", "numpy", "pandas", "vaderSentiment",
                        "onnxruntime")
    hyperparams = (
        HyperParam("epochs", 4, "Maximum epochs (early stopping may end sooner)", 1, 50),
        HyperParam("batch_size", 64, "Training batch size", 8, 1024),
        HyperParam("learning_rate", 0.002, "Adam learning rate", 1e-5, 0.1),
        HyperParam("vocab_size", 15000, "Vocabulary size", 1000, 200000),
        HyperParam("max_len", 48, "Tokens kept per text", 8, 256),
        HyperParam("embedding_dim", 96, "Embedding width (384 with minilm init)", 8, 512),
        HyperParam("init_embeddings", "minilm", "Initial word vectors: 'minilm' (averaged "
                   "MiniLM WordPiece embeddings) or 'random'", choices=("minilm", "random")),
        HyperParam("units", 64, "LSTM units per direction", 4, 512),
        HyperParam("dropout", 0.5, "Dropout rate", 0.0, 0.8),
        HyperParam("patience", 1, "Early-stopping patience (epochs)", 0, 10),
        CLASS_WEIGHT,
        LEXICON,
        LEXICON_WEIGHT,
    )

    def fit(self, texts: list[str], labels: np.ndarray, val_texts: list[str],
            val_labels: np.ndarray, params: Mapping[str, Any], base: Predictor | None,
            progress: ProgressFn, should_stop: StopFn) -> FitResult:
        import tensorflow as tf

        k = keras()
        k.utils.set_random_seed(42)
        progress(0.0, "building the vocabulary")
        from sentiment.models.lexicon import with_word_examples  # training only (scikit-learn)

        texts, labels = with_word_examples(texts, labels, str(params["lexicon"]))
        train_x, val_x = normalize_many(texts), normalize_many(val_texts)
        check_stop(should_stop)
        # Warm start: the base model itself (same vocabulary), trained further.
        model = base.model if isinstance(base, BiLSTMPredictor) else build(params, train_x)
        model.compile(optimizer=k.optimizers.Adam(float(params["learning_rate"])),
                      loss="binary_crossentropy", weighted_metrics=["accuracy"])
        batch = int(params["batch_size"])
        epochs = int(params["epochs"])
        callbacks = [
            k.callbacks.EarlyStopping(monitor="val_accuracy", patience=int(params["patience"]),
                                      restore_best_weights=True, mode="max"),
            progress_callback(epochs, -(-len(train_x) // batch), progress, should_stop),
        ]
        weighting = str(params["class_weight"])
        history = model.fit(tf.constant(train_x), np.asarray(labels, dtype="float32"),
                            class_weight=class_weights(labels, weighting),
                            validation_data=(tf.constant(val_x),
                                             np.asarray(val_labels, dtype="float32"),
                                             sample_weights(val_labels, weighting)),
                            epochs=epochs, batch_size=batch, callbacks=callbacks, verbose=0)
        check_stop(should_stop)
        return FitResult(BiLSTMPredictor(model, dict(params)), history_rows(history.history))

    def load(self, directory: Path, backend: str | None = None) -> Predictor:
        """The served predictor: ONNX when the version has it (unless ``backend`` or
        ``SENTIMENT_SERVING_BACKEND`` says keras), else the Keras model."""
        variant = onnx_serving.choose(directory, backend)
        if variant is not None:
            return BiLSTMOnnxPredictor(directory, "float")
        model = keras().saving.load_model(directory / FILE, compile=False)
        return BiLSTMPredictor(model, json.loads((directory / CONFIG).read_text()),
                               lexicon_dir=directory)

    def export_serving(self, predictor: Predictor, directory: Path, texts: list[str],
                       labels: np.ndarray) -> dict[str, Any]:
        """Write the ONNX graph and the vocabulary of a saved predictor into
        ``directory`` and record its held-out scores (no int8: the LSTM is small)."""
        from sentiment.models.onnx_export import bilstm_graph

        if not isinstance(predictor, BiLSTMPredictor):
            raise TypeError("ONNX export needs the Keras predictor of a training")
        vocabulary = predictor.model.get_layer("vectorize").get_vocabulary()
        (directory / VOCABULARY).write_text(json.dumps(vocabulary, ensure_ascii=False))
        graph = bilstm_graph(predictor.model, int(predictor.config["max_len"]))
        return onnx_serving.export_variants(
            directory, graph, lambda variant: BiLSTMOnnxPredictor(directory, variant), texts,
            labels, quantize=False)


MODEL = BiLSTM()
