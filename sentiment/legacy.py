"""Old module paths, kept importable for what users already have on disk.

Models registered before the package was laid out along the lifecycle hold references to
the old flat modules: their MLflow entry file runs ``from sentiment.pyfunc_model import
SentimentModel``, and their pickled scikit-learn pipelines name classes of
``sentiment.features`` or ``sentiment.preprocess``. A registry must keep serving those
versions (a rollback may need one), so each old path is an alias of its new module: the
same module object, never a second copy. Only paths that no longer exist are listed;
``sentiment.data``, ``sentiment.serving`` and ``sentiment.monitoring`` are packages now.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

OLD_PATHS: dict[str, str] = {
    "sentiment.csvread": "sentiment.data.csvread",
    "sentiment.labels": "sentiment.data.labels",
    "sentiment.textcheck": "sentiment.data.textcheck",
    "sentiment.preprocess": "sentiment.models.preprocess",
    "sentiment.features": "sentiment.models.features",
    "sentiment.lexicon": "sentiment.models.lexicon",
    "sentiment.vader": "sentiment.models.vader",
    "sentiment.explain": "sentiment.models.explain",
    "sentiment.pyfunc_model": "sentiment.models.pyfunc",
    "sentiment.pyfunc_entry": "sentiment.models.pyfunc_entry",
    "sentiment.train": "sentiment.pipeline.train",
    "sentiment.evaluate": "sentiment.pipeline.evaluate",
    "sentiment.promotion": "sentiment.pipeline.promotion",
    "sentiment.bootstrap": "sentiment.pipeline.bootstrap",
    "sentiment.challenger": "sentiment.pipeline.challenger",
    "sentiment.reports": "sentiment.pipeline.reports",
    "sentiment.service": "sentiment.serving.service",
    "sentiment.fanout": "sentiment.serving.fanout",
    "sentiment.scoring": "sentiment.serving.scoring",
    "sentiment.batch_lane": "sentiment.serving.batch_lane",
    "sentiment.monitoring_schema": "sentiment.monitoring.schema",
    "sentiment.alerts": "sentiment.monitoring.alerts",
    "sentiment.dashboard": "sentiment.monitoring.dashboard",
    "sentiment.review": "sentiment.monitoring.review",
    "sentiment.locks": "sentiment.infra.locks",
    "sentiment.durable": "sentiment.infra.durable",
    "sentiment.relocate": "sentiment.infra.relocate",
    "sentiment.results": "sentiment.infra.results",
    "sentiment.csvsafe": "sentiment.infra.csvsafe",
}


class _Alias(importlib.abc.Loader):
    """Loads an old path as the new module itself."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module is already imported."""


class OldPaths(importlib.abc.MetaPathFinder):
    """Finds the old flat module paths and answers with their new modules."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        new = OLD_PATHS.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (importing ``sentiment`` does it)."""
    if not any(isinstance(finder, OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(OldPaths())
