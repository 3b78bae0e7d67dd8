"""Training jobs: start, progress, per-epoch metrics, stop, for the UI and the CLI alike.

A job is a training in progress. Its record is a small JSON file under
``<SENTIMENT_HOME>/jobs/``, rewritten as it progresses, so any process on the home sees
it: the Train tab's timer, ``python -m admin jobs`` in a second terminal. Stopping a job
writes a stop file next to it; the training checks it between steps and ends its run
``KILLED`` with nothing registered, whichever process asked. A record whose process is
gone (a ``kill -9``) reads ``lost``. Finished records are kept for a day.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sentiment.config import Settings
from sentiment.errors import CancelledError, NotFoundError
from sentiment.infra import processes
from sentiment.models import ProgressFn

KEEP_FINISHED_S = 86400.0
RUNNING, DONE, STOPPED, FAILED, LOST = "running", "done", "stopped", "failed", "lost"


def _folder(settings: Settings) -> Path:
    folder = Path(settings.home) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write(path: Path, record: dict[str, Any]) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(record, default=str))
    partial.replace(path)  # readers never see half a record


class Job:
    """One training run by this process, with its record and its stop flag."""

    def __init__(self, settings: Settings, owner: str, model_type: str,
                 dataset_id: str) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.path = _folder(settings) / f"{self.id}.json"
        self.stop_path = self.path.with_suffix(".stop")
        self.record: dict[str, Any] = {
            "job": self.id, "owner": owner, "host": socket.gethostname(), "pid": os.getpid(),
            "model_type": model_type, "dataset_id": dataset_id, "started": time.time(),
            "state": RUNNING, "fraction": 0.0, "message": "starting", "epochs": [], "version": None}
        self._asked = threading.Event()
        self._written = 0.0
        _write(self.path, self.record)

    def report(self, fraction: float, message: str, metrics: dict | None = None) -> None:
        """Progress of the training; written at most twice a second, epochs always."""
        self.record.update(fraction=float(fraction), message=message)
        if metrics:
            self.record["epochs"].append(dict(metrics))
        now = time.monotonic()
        if metrics or now - self._written >= 0.5:
            self._written = now
            _write(self.path, self.record)

    def should_stop(self) -> bool:
        """Asked to stop here or from another process."""
        return self._asked.is_set() or self.stop_path.exists()

    def ask_stop(self) -> None:
        self._asked.set()

    def finish(self, state: str, **extra: Any) -> None:
        self.record.update(state=state, ended=time.time(), **extra)
        _write(self.path, self.record)
        self.stop_path.unlink(missing_ok=True)


_mine: dict[str, Job] = {}  # this process's running jobs, by id
_lock = threading.Lock()


def run(settings: Settings, model_type: str, dataset_id: str, base_version: str | None = None,
        params: Mapping[str, Any] | None = None, owner: str = "cli",
        progress: ProgressFn | None = None, on_start: Any = None) -> dict[str, Any]:
    """Train as a job: its record follows the training; a stop ends it ``stopped``
    (``status: stopped``, no version). ``on_start(job)`` gets the job once it exists."""
    from sentiment.pipeline.train import train  # MLflow's pyfunc: 2.5 s, only to train

    job = Job(settings, owner, model_type, dataset_id)
    with _lock:
        _mine[job.id] = job
    if on_start:
        on_start(job)

    def report(fraction: float, message: str, metrics: dict | None = None) -> None:
        job.report(fraction, message, metrics)
        if progress and metrics:
            progress(fraction, message, metrics)
        elif progress:
            progress(fraction, message)

    try:
        result = train(model_type, dataset_id, base_version, params, report, job.should_stop,
                       settings)
    except CancelledError:
        job.finish(STOPPED)
        return {"status": "stopped", "version": None, "job": job.id,
                "message": "Training stopped: its run ended KILLED and nothing was registered."}
    except BaseException as exc:
        job.finish(FAILED, error=str(exc)[:500])
        raise
    finally:
        with _lock:
            _mine.pop(job.id, None)
    job.finish(DONE, version=result.get("version"))
    return {**result, "job": job.id}


def list_jobs(settings: Settings, running_only: bool = False) -> list[dict[str, Any]]:
    """Every job on this home, newest first; a dead process's running job reads ``lost``;
    finished records older than a day are deleted."""
    rows = []
    for path in _folder(settings).glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # being replaced, or foreign
        if record.get("state") == RUNNING and record.get("host") == socket.gethostname() \
                and not processes.alive(int(record.get("pid", 0))):
            record["state"] = LOST
        if record.get("state") != RUNNING and \
                time.time() - float(record.get("ended") or record["started"]) > KEEP_FINISHED_S:
            path.unlink(missing_ok=True)
            continue
        if running_only and record["state"] != RUNNING:
            continue
        rows.append(record)
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def running_for(owner: str) -> dict[str, Any] | None:
    """The running job of ``owner`` (a UI session), if any."""
    with _lock:
        for job in _mine.values():
            if job.record["owner"] == owner:
                return dict(job.record)
    return None


def stop(settings: Settings, job_id: str) -> dict[str, Any]:
    """Ask job ``job_id`` to stop, from this process or any other on the home."""
    job_id = str(job_id).strip()
    with _lock:
        if job_id in _mine:
            _mine[job_id].ask_stop()
    path = _folder(settings) / f"{job_id}.json"
    if not job_id.isalnum() or not path.is_file():
        raise NotFoundError(f"No training job {job_id!r}; `python -m admin jobs` lists them.")
    record = json.loads(path.read_text())
    if record.get("state") != RUNNING:
        return {"job": job_id, "state": record.get("state"), "message":
                f"Job {job_id} is not running ({record.get('state')})."}
    path.with_suffix(".stop").touch()
    return {"job": job_id, "state": "stopping", "message":
            f"Stopping job {job_id}: its run ends KILLED, nothing is registered."}


def stop_owner(owner: str) -> int:
    """Ask every running job of ``owner`` (a UI session's Stop button) to stop."""
    with _lock:
        jobs = [job for job in _mine.values() if job.record["owner"] == owner]
    for job in jobs:
        job.ask_stop()
    return len(jobs)
