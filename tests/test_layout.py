"""The package reads as the lifecycle, and imports run one way: down the stages.

``sentiment`` never imports gradio or the app's face (``ui``); a stage imports only stages
below it (vocabulary -> config -> infra -> registry -> data, models -> pipeline ->
monitoring -> serving -> the lifecycle facade). The one import against that order is
``registry.log_model`` reading the pyfunc signature, inside the function: it runs only
while a model is logged and keeps ``import sentiment.registry`` free of model code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

RANK = {"vocabulary": 0, "errors": 0, "config": 1, "metrics": 1, "legacy": 1, "infra": 2,
        "registry": 3, "data": 4, "models": 4, "pipeline": 5, "monitoring": 6, "serving": 7,
        "lifecycle": 8, "views": 8, "startup": 9, "__init__": 10}
LAZY_ONLY = {("registry", "models")}
STAGES = ("data", "models", "pipeline", "serving", "monitoring", "infra")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, inside a function) for each import of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = ([f"{node.module}.{a.name}" for a in node.names]
                     if node.module == "sentiment" else [node.module])
            found += [(name, node.col_offset > 0) for name in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.col_offset > 0) for a in node.names]
    return found


def _unit(path: Path) -> str:
    """The stage (subpackage) or top-level module a file of sentiment/ belongs to."""
    parts = path.relative_to(ROOT / "sentiment").with_suffix("").parts
    return parts[0]


def test_the_tree_is_the_lifecycle() -> None:
    package = ROOT / "sentiment"
    for stage in STAGES:
        assert (package / stage / "__init__.py").is_file(), stage
    flat = {p.stem for p in package.glob("*.py")}
    assert flat <= {"__init__", "config", "errors", "vocabulary", "metrics", "registry",
                    "lifecycle", "legacy", "views", "startup"}, flat


def test_imports_run_down_the_stages_and_never_reach_the_face() -> None:
    wrong = []
    for path in (ROOT / "sentiment").rglob("*.py"):
        unit = _unit(path)
        for module, lazy in _imports(path):
            top = module.split(".")[0]
            if top in ("gradio", "ui", "app", "admin"):
                wrong.append(f"{path.name} imports {module}")
            if top != "sentiment" or module.count(".") == 0:
                continue
            target = module.split(".")[1]
            if target == unit or target not in RANK:
                continue
            if RANK[target] > RANK[unit] and not ((unit, target) in LAZY_ONLY and lazy):
                wrong.append(f"{path.relative_to(ROOT)} ({unit}) imports {module} ({target})")
    assert not wrong, "\n".join(wrong)


def test_every_test_folder_mirrors_the_package() -> None:
    for stage in STAGES:
        assert (ROOT / "tests" / "sentiment" / stage).is_dir(), stage
    loose = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    assert loose == {"test_layout.py"}, loose


def test_mlflow_is_called_from_the_registry_module_only() -> None:
    """Every MLflow call is in ``sentiment/registry.py``. The model's own files
    (``models/pyfunc.py``, ``models/pyfunc_entry.py``) import MLflow's base class and
    signature types: MLflow loads them as the model, they call nothing."""
    allowed = {"sentiment/registry.py", "sentiment/models/pyfunc.py",
               "sentiment/models/pyfunc_entry.py"}
    faces = [*(ROOT / "sentiment").rglob("*.py"), *(ROOT / "ui").glob("*.py"),
             *(ROOT / "admin").glob("*.py"), ROOT / "app.py"]
    wrong = [str(p.relative_to(ROOT)) for p in faces
             if str(p.relative_to(ROOT)) not in allowed
             and any(m.split(".")[0] == "mlflow" for m, _ in _imports(p))]
    assert not wrong, wrong


def test_the_faces_change_the_lifecycle_only_through_the_facade() -> None:
    """``ui/``, ``admin/`` and ``app.py`` make every lifecycle step (ingest, train,
    validate, promote, rollback, jobs, first start) through ``sentiment.lifecycle``; they
    never reach the registry or the pipeline's steps themselves. Read-side stage APIs
    (predictions, the dashboard, the review queue, the model-type table, report figures)
    are called directly: they are already shaped for their callers."""
    steps = ("sentiment.registry", "sentiment.pipeline.train", "sentiment.pipeline.evaluate",
             "sentiment.pipeline.promotion", "sentiment.pipeline.bootstrap",
             "sentiment.pipeline.challenger", "sentiment.pipeline.jobs")
    faces = [*(ROOT / "ui").glob("*.py"), *(ROOT / "admin").glob("*.py"), ROOT / "app.py"]
    wrong = [f"{p.relative_to(ROOT)} imports {m}" for p in faces for m, _ in _imports(p)
             if m.startswith(steps) or m in ("sentiment.registry", "sentiment.pipeline")]
    assert not wrong, wrong
