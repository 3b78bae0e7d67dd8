"""Serving: the production model, loaded once, swapped atomically after a promotion.

:class:`ModelServer` keeps ``(version, model)`` in one immutable snapshot. A request
uses the snapshot it read, so it never sees a half-loaded model. At most every
``reload_check_seconds`` one request does a cheap alias lookup; when the alias moved,
the new version loads in a background thread while the old one keeps serving, and the
snapshot is replaced in a single assignment once loading finished.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """A loaded version; replaced whole, never mutated."""

    version: str
    model_type: str
    model: Any


@dataclass(frozen=True)
class Prediction:
    """One answer: label, probability of positive, and who answered."""

    text: str
    label: str
    proba_positive: float
    version: str
    model_type: str

    @property
    def confidence(self) -> float:
        return self.proba_positive if self.label == "positive" else 1.0 - self.proba_positive


class ModelServer:
    """Thread-safe access to the current production model."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._snapshot: Snapshot | None = None
        self._load_lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._last_check = 0.0
        self._loading: str | None = None

    def snapshot(self) -> Snapshot:
        """The model to use for this request (loads synchronously the very first time)."""
        current = self._snapshot
        if current is None:
            with self._load_lock:
                if self._snapshot is None:
                    version = registry.production_version(self.settings)
                    if version is None:
                        raise NotFoundError("No production model yet: train, validate and "
                                            "promote a version (or run `python -m admin "
                                            "bootstrap`).")
                    self._snapshot = self._load(version)
                    self._last_check = time.monotonic()
            return self._snapshot
        self._maybe_check(current)
        return current

    def _load(self, version: str) -> Snapshot:
        model = registry.load_model(version, self.settings)
        model.predict_proba(["warm up"])  # first call builds lazy state off the hot path
        return Snapshot(version, model.model_type, model)

    def _maybe_check(self, current: Snapshot) -> None:
        if time.monotonic() - self._last_check < self.settings.reload_check_seconds:
            return
        if not self._check_lock.acquire(blocking=False):
            return
        try:
            self._last_check = time.monotonic()
            version = registry.production_version(self.settings)
            if version and version != current.version and self._loading != version:
                self._loading = version
                threading.Thread(target=self._swap, args=(version,), daemon=True).start()
        finally:
            self._check_lock.release()

    def _swap(self, version: str) -> None:
        try:
            with self._load_lock:
                snapshot = self._load(version)
                self._snapshot = snapshot  # one assignment: the atomic swap
            log.info("serving version %s", version)
        except Exception:  # noqa: BLE001 - keep serving the old model, log why
            log.exception("could not load version %s; still serving the previous one", version)
        finally:
            self._loading = None

    def refresh(self) -> str:
        """Check the alias now and load synchronously if it moved; return the version."""
        version = registry.production_version(self.settings)
        if version is None:
            raise NotFoundError("No production model.")
        with self._load_lock:
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._load(version)
        self._last_check = time.monotonic()
        return version

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Predict a batch of texts (each within the size limit) with one model snapshot."""
        limit = self.settings.max_text_chars
        for text in texts:
            if len(text) > limit:
                raise InvalidInputError(f"A text is {len(text)} characters; the limit is {limit}.")
        snap = self.snapshot()
        proba = np.asarray(snap.model.predict_proba(list(texts)), dtype=float)
        return [Prediction(t, "positive" if p >= 0.5 else "negative", float(p), snap.version,
                           snap.model_type) for t, p in zip(texts, proba)]

    def predict_one(self, text: str) -> Prediction:
        """Predict one non-empty text."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("Type a text to analyse (it is empty).")
        return self.predict([text])[0]
