"""First start, stage 2: a challenger fine-tuned on the default corpus, promoted if it wins.

After stage 1 has put the balanced baseline in production, the challenger type
(``SENTIMENT_BOOTSTRAP_CHALLENGER``, default ``minilm``; ``none`` skips this stage) is
trained on the same training split with a recipe sized for a 2-core CPU, validated
against production on the same validation split, and promoted only when its gate metric
is strictly better.

Restart-safe: runs and versions carry the tag ``bootstrap_stage=challenger``. At start a
run of a dead earlier attempt still marked RUNNING is ended KILLED (with ``end_reason``);
a challenger registered but not yet validated is validated (resumed) rather than trained
again; a validated one means the stage is done. Progress goes to a small JSON file in
SENTIMENT_HOME, which the Models tab and ``/models`` read from any process.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sentiment import registry
from sentiment.config import Settings
from sentiment.errors import SentimentError
from sentiment.infra import locks
from sentiment.pipeline.promotion import validate_and_promote
from sentiment.pipeline.train import train

STAGE_TAG = "bootstrap_stage"
STAGE = "challenger"
STATE_FILE = "challenger.json"
LOCK = "challenger"
# Over each type's defaults, sized for stage 2 to finish within 15 minutes on 2 cores
# (bench/quality.py measures it); other types train with their defaults.
RECIPES: dict[str, dict[str, Any]] = {"minilm": {"epochs": 1}}


def _state_path(settings: Settings) -> Path:
    return settings.home / STATE_FILE


def _write_state(settings: Settings, **state: Any) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    path = _state_path(settings)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**state, "updated": time.time(), "pid": os.getpid()}))
    os.replace(tmp, path)


def _lock_is_held(settings: Settings) -> bool:
    """Whether some live process (on any replica) is running stage 2 now."""
    return locks.is_held(settings, LOCK)


def status(settings: Settings) -> dict[str, Any] | None:
    """Stage 2's last known state, or None if it never started here.

    A state left at ``training``/``validating`` by a process that is gone reads
    ``interrupted`` (the next start resumes or restarts it).
    """
    try:
        state = json.loads(_state_path(settings).read_text())
    except (OSError, ValueError):
        return None
    if state.get("status") in ("training", "validating") and not _lock_is_held(settings):
        state["status"] = "interrupted"
        state["message"] = "interrupted; it resumes or restarts at the next start"
    return state


def _challenger_versions(settings: Settings) -> list[dict[str, Any]]:
    return [v for v in registry.list_versions(settings, with_metrics=False)
            if v["tags"].get(STAGE_TAG) == STAGE]


def run(settings: Settings, training_id: str, validation_id: str, log: Any = print,
        params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train (or resume) and validate the challenger; promote it only if it wins."""
    kind = settings.bootstrap_challenger
    if kind == "none":
        return {"changed": False, "message": "No challenger (SENTIMENT_BOOTSTRAP_CHALLENGER=none)."}
    with ExitStack() as stack:
        try:
            stack.enter_context(locks.hold(settings, LOCK, wait_s=0))
        except locks.LockBusy:
            return {"changed": False, "message": "The challenger is being trained by another "
                                                 "process (or replica) of this registry."}
        return _run_locked(kind, settings, training_id, validation_id, log, params)


def _run_locked(kind: str, settings: Settings, training_id: str, validation_id: str,
                log: Any, params: dict[str, Any] | None) -> dict[str, Any]:
    versions = _challenger_versions(settings)
    done = next((v for v in versions if v["tags"].get("validation_status")), None)
    if done is not None:
        return {"changed": False, "challenger_version": done["version"],
                "message": f"The challenger (version {done['version']}) was already validated."}
    stale = registry.reconcile_runs(settings)
    if stale:
        log(f"Ended {len(stale)} interrupted run(s) as KILLED: "
            f"{', '.join(r['run_id'] for r in stale)}")
    recipe = {**RECIPES.get(kind, {}), **settings.bootstrap_challenger_params, **(params or {})}
    try:
        version = versions[0]["version"] if versions else _train(kind, recipe, settings,
                                                                  training_id, log)
        return _validate(version, settings, validation_id, log)
    except SentimentError as exc:
        _write_state(settings, status="failed", model_type=kind, message=str(exc))
        raise


def _train(kind: str, recipe: dict[str, Any], settings: Settings, training_id: str,
           log: Any) -> str:
    started, last = time.time(), [0.0]

    def progress(fraction: float, message: str, metrics: dict | None = None) -> None:
        if time.monotonic() - last[0] >= 1.0 or fraction >= 1.0:
            last[0] = time.monotonic()
            _write_state(settings, status="training", model_type=kind, progress=fraction,
                         message=message, started=started)
            log(f"  challenger [{fraction:4.0%}] {message}")

    log(f"Stage 2: training a {kind} challenger on the default corpus ({recipe})...")
    progress(0.0, "starting")
    result = train(kind, training_id, params=recipe, progress=progress, settings=settings,
                   extra_tags={STAGE_TAG: STAGE})
    log(f"Challenger version {result['version']} trained in {result['training_time_s']} s.")
    return str(result["version"])


def _validate(version: str, settings: Settings, validation_id: str, log: Any) -> dict[str, Any]:
    _write_state(settings, status="validating", model_type=settings.bootstrap_challenger,
                 version=version, progress=1.0, message=f"validating version {version}")
    checked = validate_and_promote(version, validation_id, auto_promote=True, settings=settings,
                               must_beat=True)
    metric = settings.gate_metric
    mine = checked["metrics"][metric]
    theirs = (checked["production_metrics"] or {}).get(metric)
    outcome = ("promoted: it is in production" if checked["promoted"] else
               "kept out of production: " + "; ".join(checked["reasons"]))
    message = (f"Challenger version {version}: {metric} {mine:.4f}"
               + (f" vs production {theirs:.4f}" if theirs is not None else "")
               + f"; {outcome}.")
    _write_state(settings, status="done", model_type=settings.bootstrap_challenger,
                 version=version, promoted=checked["promoted"], progress=1.0, message=message)
    log(message)
    return {"changed": checked["promoted"], "challenger_version": version,
            "promoted": checked["promoted"], "production_version": checked["production_version"],
            "metrics": checked["metrics"], "message": message}
