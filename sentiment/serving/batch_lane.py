"""Batch files in their own lane: a child process per large file, one file per user.

Scoring a 200,000-row file in the serving process holds its interpreter for seconds (CSV
parsing, the model, logging, writing the result), so every user's single predictions
waited behind it (p95 from 0.2 s to 3.6 s with two such files). A file above
``SENTIMENT_BATCH_LANE_KB`` (512) is scored by ``python -m sentiment.serving.batch_lane``
instead: a fresh process at a lower priority, on one core (no fan-out workers of its own),
with the same settings, model registry and monitoring store, so its rows
are logged like any others.
Each user has at most one file in the lane at a time; a second is refused with a message.
Small files stay in-process, where starting a process would cost more than scoring them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sentiment.config import Settings, get_settings
from sentiment.errors import RefusedError, SentimentError
from sentiment.serving.service import SentimentService

TIMEOUT_S = 1800.0
NICE = 5
_running: set[str] = set()
_lock = threading.Lock()


def uses_lane(path: str, settings: Settings) -> bool:
    """Whether a file is large enough to be scored in the lane (512 KB: about 5,000
    tweets; below that, starting a process costs more than scoring in place)."""
    try:
        return Path(path).stat().st_size > settings.batch_lane_kb * 1024
    except OSError:
        return False


def score_in_lane(path: str, owner: str, settings: Settings) -> tuple[str, dict[str, Any]]:
    """Score a CSV in a child process; return (result CSV path, summary). Refuses a second
    file of the same ``owner`` while one runs; the child's own refusals (bad file) come
    back as the same messages."""
    del settings  # the child reads the same environment
    with _lock:
        if owner in _running:
            raise RefusedError("You already have a batch file being scored: wait for its "
                               "result before sending another.")
        _running.add(owner)
    try:
        env = {**os.environ, "SENTIMENT_SERVING_PROCESSES": "0"}
        done = subprocess.run([sys.executable, "-m", "sentiment.serving.batch_lane", path, owner],
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                              cwd=str(Path(__file__).resolve().parents[2]))
    except subprocess.TimeoutExpired as exc:
        raise SentimentError(f"The batch file took longer than {TIMEOUT_S:.0f} s and was "
                             "stopped.") from exc
    finally:
        with _lock:
            _running.discard(owner)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SentimentError(f"The batch process failed (exit {done.returncode}): "
                             f"{done.stderr.strip().splitlines()[-1:] or 'no output'}")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise SentimentError(answer["error"])
    return answer["path"], {**answer["summary"], "lane": "batch process"}


def main(argv: list[str]) -> int:
    """The child: score one file, print one JSON line (the result or the refusal)."""
    os.nice(NICE)
    path, owner = argv
    try:
        service = SentimentService(get_settings())
        service.server._watch = False  # one file, one version: no alias watcher
        out, summary, _ = service.predict_file(path, owner=owner)
    except SentimentError as exc:
        print(json.dumps({"error": str(exc)}))
        return 0
    print(json.dumps({"path": out, "summary": summary}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
