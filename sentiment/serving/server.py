"""Serving: the production model, loaded once, swapped atomically after a promotion.

:class:`ModelServer` keeps ``(version, model)`` in one immutable snapshot. A request
uses the snapshot it read, so it never sees a half-loaded model, and never calls the
registry after the first load: a background watcher follows the ``production`` alias,
loads a new version beside the old one and swaps the snapshot in a single assignment.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.data.textcheck import has_content
from sentiment.errors import InvalidInputError, NoProductionError, NotFoundError
from sentiment.models.preprocess import well_formed
from sentiment.registry import RegistryUnavailable
from sentiment.serving.fanout import fanout

log = logging.getLogger(__name__)
_servers: weakref.WeakSet[ModelServer] = weakref.WeakSet()


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
    """Thread-safe access to the current production model, following the alias.

    After the first load a background watcher reads the alias every
    ``reload_check_seconds`` (also when no request arrives). When it moved, the new
    version loads in the watcher's thread while the old one keeps serving, and is
    installed in one assignment, and only if the alias still points to it: a slow load
    that the alias has meanwhile left behind is dropped, so an older model never replaces
    a newer one. When the registry cannot be reached, requests keep the model they have
    and :meth:`registry_status` says since when the registry has been unreachable.
    """

    def __init__(self, settings: Settings | None = None, watch: bool = True) -> None:
        self.settings = settings or get_settings()
        self._snapshot: Snapshot | None = None
        self._load_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._target: str | None = None  # the alias target at the latest lookup
        self._registry: dict[str, Any] = {"reachable": True, "since": None, "error": None,
                                          "checked": None}
        self._watch = watch
        self._watcher: threading.Thread | None = None
        self._stopped = threading.Event()
        # Called (previous, new) after each swap: the app repairs the registry's tags
        # when the alias was moved outside it.
        self.on_move: Callable[[str | None, str], None] | None = None
        _servers.add(self)

    def snapshot(self) -> Snapshot:
        """The model to use for this request (loads synchronously the very first time)."""
        current = self._snapshot
        if current is not None:
            return current
        version = self._observe()
        if version is None:
            raise NoProductionError("No production model yet: train, validate and promote a "
                                "version (or run `python -m admin bootstrap`).")
        self._install(version)
        self._start_watcher()
        if self._snapshot is None:  # the alias moved during the very first load
            return self.snapshot()
        return self._snapshot

    def _load(self, version: str) -> Snapshot:
        model = fanout(registry.load_model(version, self.settings),
                       self.settings.serving_processes)
        model.predict_proba(["warm up"])  # first call builds lazy state off the hot path
        return Snapshot(version, model.model_type, model)

    def _observe(self) -> str | None:
        """Read the alias; remember the target and whether the registry answered."""
        try:
            version = registry.production_version(self.settings)
        except RegistryUnavailable as exc:
            with self._state_lock:
                if self._registry["reachable"]:
                    self._registry.update(reachable=False, since=time.time())
                    log.error("model registry unreachable: %s; serving from memory", exc)
                self._registry["error"] = str(exc)
            raise
        with self._state_lock:
            if not self._registry["reachable"]:
                log.warning("model registry reachable again")
            self._registry.update(reachable=True, since=None, error=None,
                                  checked=time.time())
            self._target = version
        return version

    def _install(self, version: str) -> bool:
        """Load ``version`` and serve it if the alias still points to it afterwards."""
        with self._load_lock:
            current = self._snapshot
            if current is not None and current.version == version:
                return False
            snapshot = self._load(version)
            with self._state_lock:
                if self._target != version:  # the alias moved on while this one loaded
                    log.info("version %s loaded after the alias moved to %s: dropped",
                             version, self._target)
                    return False
                previous = current.version if current else None
                self._snapshot = snapshot  # one assignment: the atomic swap
        log.info("serving version %s", version)
        if self.on_move is not None:
            try:
                self.on_move(previous, version)
            except Exception:  # noqa: BLE001 - serving the new version matters more
                log.exception("after the move to version %s, on_move failed", version)
        return True

    def check(self) -> str | None:
        """One watcher step: read the alias, swap if it moved; return the version served."""
        try:
            version = self._observe()
        except RegistryUnavailable:
            return self.version
        if version is not None:
            self._install(version)
        return self.version

    def _start_watcher(self) -> None:
        with self._state_lock:
            if not self._watch or self._watcher is not None:
                return
            self._watcher = threading.Thread(target=self._run_watcher, daemon=True,
                                             name="alias-watcher")
        self._watcher.start()

    def _run_watcher(self) -> None:
        while not self._stopped.wait(max(self.settings.reload_check_seconds, 0.05)):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one failure
                log.exception("alias check failed; still serving version %s", self.version)

    def stop(self) -> None:
        """Stop the watcher (tests and shutdown)."""
        self._stopped.set()

    @property
    def loaded(self) -> bool:
        """Whether a production model is loaded and serving (readiness)."""
        return self._snapshot is not None

    @property
    def version(self) -> str | None:
        current = self._snapshot
        return current.version if current else None

    def registry_status(self) -> dict[str, Any]:
        """Whether the registry answered the latest lookup, since when it does not."""
        with self._state_lock:
            return {**self._registry, "serving": self.version}

    def refresh(self) -> str:
        """Check the alias now and load synchronously if it moved; return the version."""
        version = self._observe()
        if version is None:
            raise NotFoundError("No production model.")
        self._install(version)
        self._start_watcher()
        return self.version or version

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Predict a batch of texts (each within the size limit) with one model snapshot."""
        limit = self.settings.max_text_chars
        texts = [well_formed(t) for t in texts]
        for text in texts:
            if len(text) > limit:
                raise InvalidInputError(f"A text is {len(text)} characters; the limit is {limit}.")
        snap = self.snapshot()
        proba = np.asarray(snap.model.predict_proba(list(texts)), dtype=float)
        return [Prediction(t, "positive" if p >= 0.5 else "negative", float(p), snap.version,
                           snap.model_type) for t, p in zip(texts, proba)]

    def predict_one(self, text: str) -> Prediction:
        """Predict one non-empty text."""
        if not has_content(text):
            raise InvalidInputError("Type a text to analyse (it is empty, or only invisible "
                                    "characters).")
        return self.predict([text])[0]


def stop_all() -> None:
    """Stop the watcher of every server of this process (tests switch homes)."""
    for server in list(_servers):
        server.stop()
