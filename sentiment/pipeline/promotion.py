"""Promotion and rollback: the ``production`` alias and the status tags that go with it.

Invariant: the alias points to exactly one version, which has ``status = production``;
every other version that had it gets ``status = archivé``. A version that has not passed
validation is refused unless forced, and the force is recorded on the version.

Every switch holds the ``promotion`` lock (:mod:`sentiment.infra.locks`), which spans replicas
when they share a PostgreSQL ``SENTIMENT_DATABASE_URL``: the alias is read, moved and
recorded in the production history by one holder at a time, and the status tags are
then derived from the alias, so they can never disagree with it. The history lists the
versions that were in production, oldest first.
"""

from __future__ import annotations

import time
from typing import Any

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import RefusedError
from sentiment.infra import locks
from sentiment.pipeline.evaluate import validate_version
from sentiment.vocabulary import ARCHIVED, PRODUCTION

LOCK = "promotion"
WAIT_S = 120.0


def promote(version: str | int, force: bool = False, actor: str = "",
            settings: Settings | None = None) -> dict[str, Any]:
    """Make ``version`` the production version; refuse unvalidated ones unless ``force``."""
    settings = settings or get_settings()
    with locks.hold(settings, LOCK, WAIT_S):
        info = registry.get_version(version, settings)
        version = info["version"]
        current = registry.production_version(settings)
        if current == version:
            return {"production_version": version, "previous_version": None, "changed": False,
                    "message": f"Version {version} is already in production."}
        validated = info["tags"].get("validation_status") == "passed"
        if not validated and not force:
            state = info["tags"].get("validation_status", "not validated")
            raise RefusedError(f"Version {version} has not passed validation ({state}); "
                               "validate it first, or force the promotion as an admin.")
        tags = {"status": PRODUCTION, "promoted_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        if not validated:
            tags.update({"forced_promotion": "true", "forced_by": actor or "admin"})
        history = registry.production_history(settings)
        if current is not None and history[-1:] != [current]:
            history = _push(history, current)  # moved outside this service (MLflow UI)
        _switch(version, tags, settings)
        registry.set_production_history(_push(history, version), settings)
    return {"production_version": version, "previous_version": current, "changed": True,
            "forced": not validated,
            "message": f"Version {version} is now in production"
                       + (f" (was {current})." if current else ".")}


def rollback(settings: Settings | None = None) -> dict[str, Any]:
    """Move ``production`` back to the version that was production before the current one."""
    settings = settings or get_settings()
    with locks.hold(settings, LOCK, WAIT_S):
        current = registry.production_version(settings)
        history = registry.production_history(settings)
        if current is None:
            raise RefusedError("There is no production version to roll back from.")
        if history and history[-1] == current:
            history = history[:-1]
        previous = next((v for v in reversed(history) if v != current), None)
        if previous is None:
            raise RefusedError(f"Version {current} is the only version that has been in "
                               "production; there is nothing to roll back to.")
        registry.get_version(previous, settings)  # still registered (NotFoundError if not)
        _switch(previous, {"status": PRODUCTION,
                           "promoted_at": time.strftime("%Y-%m-%d %H:%M:%S")}, settings)
        registry.set_version_tags(current, {"rolled_back": "true"}, settings)
        registry.set_production_history(history, settings)
    return {"production_version": previous, "previous_version": current, "changed": True,
            "message": f"Rolled back: version {previous} is in production again "
                       f"(version {current} archived)."}


def _push(history: list[str], version: str) -> list[str]:
    """The history with ``version`` as its latest entry (an earlier entry of it dropped)."""
    return [v for v in history if v != version] + [version]


def _switch(new: str, new_tags: dict[str, str], settings: Settings) -> None:
    """Move the alias (the atomic part), then derive every status tag from it."""
    registry.set_production_alias(new, settings)
    registry.set_version_tags(new, {**new_tags, MOVED_OUTSIDE_TAG: ""}, settings)
    derive_status(settings)


MOVED_OUTSIDE_TAG = "moved_outside_app"


def reconcile(settings: Settings | None = None) -> dict[str, Any]:
    """Make the registry agree with its ``production`` alias, whatever happened: a
    process killed in the middle of a switch (the alias moved, the tags or the history
    not yet), or the alias moved in the MLflow UI. The alias is the truth: its target
    reads ``production``, every other version that did reads ``archivé``, and the history
    ends with the target. A move the app did not make is recorded on the version (tag
    ``moved_outside_app``) and said in the result, so the Models tab can show it.
    Run at every start (app and CLI) and whenever the app sees the alias move."""
    settings = settings or get_settings()
    with locks.hold(settings, LOCK, WAIT_S):
        target = registry.production_version(settings)
        history = registry.production_history(settings)
        if target is None:
            return {"production_version": None, "moved_outside": False,
                    "versions": len(registry.list_versions(settings, with_metrics=False)),
                    "history": history}
        before = {r["version"]: r["tags"].get("status")
                  for r in registry.list_versions(settings, with_metrics=False)}
        moved = history[-1:] != [target]
        if moved:
            registry.set_production_history(_push(history, target), settings)
            registry.set_version_tags(target, {
                MOVED_OUTSIDE_TAG: time.strftime("%Y-%m-%d %H:%M:%S")}, settings)
        derive_status(settings)
        after = {r["version"]: r["tags"].get("status")
                 for r in registry.list_versions(settings, with_metrics=False)}
    return {"production_version": target, "moved_outside": moved,
            "retagged": sorted(v for v in after if after[v] != before.get(v)),
            "history": _push(history, target)}


def derive_status(settings: Settings) -> str | None:
    """Make the ``status`` tags agree with the alias: its target reads ``production``,
    any other version that reads ``production`` becomes ``archivé``. Returns the target."""
    target = registry.production_version(settings)
    for row in registry.list_versions(settings, with_metrics=False):
        status = row["tags"].get("status")
        if row["version"] == target and status != PRODUCTION:
            registry.set_version_tags(row["version"], {"status": PRODUCTION}, settings)
        elif row["version"] != target and status == PRODUCTION:
            registry.set_version_tags(row["version"], {"status": ARCHIVED}, settings)
    return target


def validate_and_promote(version: str | int, dataset_id: str | list[str],
                         min_accuracy: float | None = None, auto_promote: bool = False,
                         settings: Settings | None = None, must_beat: bool = False
                         ) -> dict[str, Any]:
    """Validate ``version`` (:func:`~sentiment.pipeline.evaluate.validate_version`) and,
    when asked and it passed on every dataset, promote it; ``promoted`` says whether."""
    settings = settings or get_settings()
    result = validate_version(version, dataset_id, min_accuracy, settings, must_beat)
    if result["passed"] and auto_promote and result["production_version"] != result["version"]:
        result["promoted"] = True
        result["production_version"] = promote(result["version"],
                                                settings=settings)["production_version"]
    return result
