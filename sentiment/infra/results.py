"""Result files handed to users (batch predictions, exports, report images) expire.

Each file lives under ``<tmp>/sentiment-<uid>/results/<owner>/`` where the owner is the user
(or browser session) who asked. Every new file first sweeps: files older than
``SENTIMENT_RESULT_TTL_SECONDS`` go, then the owner's oldest files go until their total
stays under ``SENTIMENT_RESULT_QUOTA_MB``. So 20 batch calls cannot fill the disk, and one
user's files never push out another's.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sentiment.config import Settings

_lock = threading.Lock()


def private_root() -> Path:
    """``<system temp>/sentiment-<uid>``, readable by this user only: the result files,
    Gradio's upload cache and (in the app) the libraries' temporary files, each in a
    subfolder, so that the app serves files from these folders and no other."""
    tmp = Path(tempfile.gettempdir())
    name = f"sentiment-{os.getuid()}"
    base = tmp.parent if tmp.name == "tmp" and tmp.parent.name == name else tmp / name
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)  # PermissionError: another user's folder, never shared
    return base


def root() -> Path:
    """The folder of every result file of this machine."""
    return private_root() / "results"


def _owner_dir(owner: str) -> Path:
    digest = hashlib.sha256(owner.encode()).hexdigest()[:16]  # no user text in paths
    return root() / digest


def _files(folder: Path) -> list[tuple[float, int, Path]]:
    found = []
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                stat = path.stat()
                found.append((stat.st_mtime, stat.st_size, path))
        except FileNotFoundError:  # swept by another thread meanwhile
            continue
    return sorted(found)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    for parent in path.parents:
        if parent == root() or not parent.is_relative_to(root()):
            break
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break


def sweep(settings: Settings, owner: str | None = None, incoming: int = 0) -> int:
    """Delete expired files (everyone's) and, for ``owner``, the oldest files beyond the
    quota once ``incoming`` more bytes arrive. Returns how many files were deleted."""
    deleted, now = 0, time.time()
    with _lock:
        if not root().is_dir():
            return 0
        for mtime, _, path in _files(root()):
            if now - mtime > settings.result_ttl_seconds:
                _remove(path)
                deleted += 1
        if owner is not None:
            quota = settings.result_quota_mb * 1024 * 1024
            mine = _files(_owner_dir(owner))
            total = sum(size for _, size, _ in mine) + incoming
            for _, size, path in mine:
                if total <= quota:
                    break
                _remove(path)
                total -= size
                deleted += 1
    return deleted


def stable_dir(settings: Settings, owner: str, key: str) -> Path:
    """A folder of ``owner`` named by ``key`` (after a sweep), the same on every call
    until it expires, so that files already there are reused (report images)."""
    sweep(settings, owner)
    return _owner_dir(owner) / re.sub(r"[^\w.\-]+", "_", key)[:100]


def new_path(settings: Settings, owner: str, name: str) -> Path:
    """A fresh path for a result file of ``owner`` named ``name`` (after a sweep)."""
    sweep(settings, owner)
    safe = re.sub(r"[^\w.\-]+", "_", name)[:100] or "result"
    folder = _owner_dir(owner) / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder / safe
