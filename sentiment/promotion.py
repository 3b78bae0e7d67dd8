"""Promotion and rollback: the ``production`` alias and the status tags that go with it.

Invariant: the alias points to exactly one version, which has ``status = production``;
the version it replaced gets ``status = archivé``. A version that has not passed
validation is refused unless forced, and the force is recorded on the version.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.errors import RefusedError

_lock = threading.Lock()


def promote(version: str | int, force: bool = False, actor: str = "",
            settings: Settings | None = None) -> dict[str, Any]:
    """Make ``version`` the production version; refuse unvalidated ones unless ``force``."""
    settings = settings or get_settings()
    with _lock:
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
        tags = {"status": "production", "promoted_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        if not validated:
            tags.update({"forced_promotion": "true", "forced_by": actor or "admin"})
        _switch(current, version, tags, settings)
        history = [v for v in registry.production_history(settings) if v != version]
        registry.set_production_history(history + [version], settings)
    return {"production_version": version, "previous_version": current, "changed": True,
            "forced": not validated,
            "message": f"Version {version} is now in production"
                       + (f" (was {current})." if current else ".")}


def rollback(settings: Settings | None = None) -> dict[str, Any]:
    """Move ``production`` back to the version that was production before the current one."""
    settings = settings or get_settings()
    with _lock:
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
        _switch(current, previous, {"status": "production",
                                    "promoted_at": time.strftime("%Y-%m-%d %H:%M:%S")}, settings)
        registry.set_version_tags(current, {"rolled_back": "true"}, settings)
        registry.set_production_history(history, settings)
    return {"production_version": previous, "previous_version": current, "changed": True,
            "message": f"Rolled back: version {previous} is in production again "
                       f"(version {current} archived)."}


def _switch(old: str | None, new: str, new_tags: dict[str, str], settings: Settings) -> None:
    """Move the alias first (the atomic part), then fix the status tags around it."""
    registry.set_production_alias(new, settings)
    registry.set_version_tags(new, new_tags, settings)
    if old is not None:
        registry.set_version_tags(old, {"status": "archivé"}, settings)
    for row in registry.list_versions(settings, with_metrics=False):
        if row["version"] != new and row["tags"].get("status") == "production":
            registry.set_version_tags(row["version"], {"status": "archivé"}, settings)
