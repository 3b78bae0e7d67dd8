"""What the TensorFlow/Keras model types share: threads, progress, cancel, batched serving.

Serving calls the model directly inside one ``tf.function`` (no ``model.predict``, whose
per-call set-up costs about 50 ms for one text) over length-sorted batches, so short
texts are not padded to the longest text of the whole request.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from sentiment.models import ProgressFn, StopFn, check_stop

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def keras() -> Any:
    """Import Keras (TensorFlow backend) lazily: listing model types never pays for it."""
    import keras as keras_module

    return keras_module


def progress_callback(epochs: int, steps_per_epoch: int, progress: ProgressFn,
                      should_stop: StopFn) -> Any:
    """A Keras callback that reports progress per batch and stops on cancel."""
    k = keras()

    class Progress(k.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            check_stop(should_stop)
            if batch % 20 == 0:
                done = (self.epoch + batch / max(steps_per_epoch, 1)) / epochs
                progress(done, f"epoch {self.epoch + 1}/{epochs}, batch {batch}")

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()
                       if isinstance(v, (int, float, np.floating))}
            progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs} done",
                     {"epoch": epoch + 1, **metrics})

    return Progress()


def history_rows(history: dict[str, list[float]]) -> list[dict[str, float]]:
    """Keras history (metric -> per-epoch values) as one dict per epoch."""
    epochs = max((len(v) for v in history.values()), default=0)
    return [{k: float(v[i]) for k, v in history.items() if i < len(v)} for i in range(epochs)]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length (for inference)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def scatter(batches: list[np.ndarray], outputs: list[np.ndarray], total: int,
            width: int = 1) -> np.ndarray:
    """Put per-batch outputs back in the original order: shape (total,) or (total, width)."""
    result = np.zeros((total, width), dtype=np.float32)
    for index, values in zip(batches, outputs):
        result[index] = np.asarray(values).reshape(len(index), width)
    return result[:, 0] if width == 1 else result


