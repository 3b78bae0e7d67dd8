"""Versions registered before the lifecycle layout keep serving (``sentiment.legacy``).

A registry made by an earlier release holds, for each version, an MLflow entry file that
imports ``sentiment.pyfunc_model`` and a pickled pipeline whose classes and functions are
named by the old flat paths (``sentiment.features``, ``sentiment.preprocess``, ...). The
test turns a real trained version into exactly that, then serves it from a fresh process.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from sentiment import legacy
from tests.conftest import ROOT

NEW_TO_OLD = {new: old for old, new in legacy.OLD_PATHS.items()}


def test_every_old_path_is_its_new_module() -> None:
    for old, new in legacy.OLD_PATHS.items():
        assert importlib.import_module(old) is importlib.import_module(new), old


def _old_named_pickle(path: Path) -> set[str]:
    """Re-pickle ``path`` with every object of a moved module named by its old path."""
    with pytest.MonkeyPatch.context() as patch:  # its own: undoing must not undo the home
        for new, old in NEW_TO_OLD.items():
            module = importlib.import_module(new)
            for _, obj in inspect.getmembers(module):
                if (inspect.isclass(obj) or inspect.isfunction(obj)) and \
                        obj.__module__ == new:
                    patch.setattr(obj, "__module__", old)
        joblib.dump(joblib.load(path), path)
    data = path.read_bytes()  # joblib's file: pickle frames with arrays between them
    return {name for name in (*legacy.OLD_PATHS, *legacy.OLD_PATHS.values())
            if name.encode() + b"\x94" in data or name.encode() + b"\n" in data}


@pytest.mark.slow
def test_a_version_with_the_old_module_paths_still_serves(trained: dict[str, str],
                                                          home: Path) -> None:
    entries = [p for p in home.rglob("*.py")
               if "from sentiment.models.pyfunc import SentimentModel" in p.read_text()]
    pickles = list(home.rglob("pipeline.joblib"))
    assert entries and pickles, "the trained version's entry file and pipeline were not found"
    for entry in entries:
        entry.write_text(entry.read_text().replace("from sentiment.models.pyfunc import",
                                                   "from sentiment.pyfunc_model import"))
    for path in pickles:
        refs = _old_named_pickle(path)
        assert refs & set(legacy.OLD_PATHS), refs  # the pickle names old paths now
        assert not refs & set(legacy.OLD_PATHS.values()), refs
    answer = subprocess.run(  # a fresh process: nothing of the new layout imported yet
        [sys.executable, "-m", "admin", "predict", "I love this airline", "worst flight ever"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert answer.returncode == 0, answer.stderr[-3000:]
    out = answer.stdout
    rows = json.loads(out[out.index("{"):]) if out.strip().startswith("{") else out
    assert "positive" in str(rows) and "negative" in str(rows), out
