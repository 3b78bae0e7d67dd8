"""Large batches split across worker processes, one per core.

``tfidf_logreg`` and ONNX ``bilstm`` spend most of a batch in Python (normalisation,
n-gram lookup, VADER's vote), which holds the GIL: one process uses one core however
many threads it starts. For a batch of at least :data:`FAN_FROM` texts, a
:class:`Fanout` sends contiguous slices to worker processes, each pinned to one core
with its own copy of the version (loaded from the same model folder, so the same
answers), and joins their probabilities in order.

- Workers start in the background on the first large batch, which is still scored in
  this process; later large batches use them.
- A medium batch (:data:`LEND_FROM` texts or more: a REST request of 100 texts, say) goes
  whole to one worker, so concurrent requests are scored on several cores instead of
  taking turns on this process's GIL (with every worker busy it waits up to
  :data:`LEND_WAIT_S` for one, then is scored here). Medium batches start the workers
  only when two of them overlap: one after another, they gain nothing. Smaller batches
  (a single tweet) never leave the process: the trip would cost more than it saves.
- Texts travel as JSON and probabilities as raw float64 bytes: user data never reaches
  ``pickle``.
- Only one large batch uses the workers at a time (it waits for the medium ones to
  finish); a concurrent large one is scored here.
- A worker that dies or fails makes that batch fall back to this process (same answers,
  slower) and the workers are restarted on a later large batch, at most once a minute.
- ``minilm`` is not fanned out: ONNX Runtime already runs its texts on every core.
"""

from __future__ import annotations

import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

log = logging.getLogger(__name__)
FAN_FROM = 4096  # rows: below this, splitting a batch costs more than it saves
LEND_FROM = 64  # rows: from this, a batch may go whole to one idle worker
LEND_WAIT_S = 0.5  # every worker busy: wait this long for one, then score here
START_TIMEOUT = 180.0  # seconds for a worker to load the version
ANSWER_TIMEOUT = 600.0  # seconds for a worker to score its slice
RETRY_AFTER = 60.0
HEADER = struct.Struct("<Q")


def send(stream: BinaryIO, payload: bytes) -> None:
    """One frame: its length, then its bytes (a raw pipe may take them in parts)."""
    view = memoryview(HEADER.pack(len(payload)) + payload)
    while view:
        written = stream.write(view)
        view = view[written if written is not None else len(view):]
    stream.flush()


def receive(stream: BinaryIO, timeout: float | None = None) -> bytes:
    """One frame from an unbuffered pipe; EOFError when the other side is gone."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def exactly(size: int) -> bytes:
        chunks, left = [], size
        while left:
            if deadline is not None and not select.select(
                    [stream], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"no answer within {timeout:.0f} s")
            chunk = stream.read(left)
            if not chunk:
                raise EOFError("the other process closed its pipe")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    return exactly(HEADER.unpack(exactly(HEADER.size))[0])


def serve(directory: str, core: int | None, inbox: BinaryIO, outbox: BinaryIO) -> None:
    """One worker: pin to ``core``, load the version, score JSON batches until EOF."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})  # ONNX Runtime then sizes itself to one thread
    from sentiment.models.pyfunc import SentimentModel

    try:
        model = SentimentModel()
        model.load_dir(Path(directory))
        model.predict_proba(["warm up"])
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which serves alone
        send(outbox, b"ER" + repr(exc).encode())
        return
    send(outbox, b"OK")
    while True:
        try:
            texts = json.loads(receive(inbox))
        except EOFError:  # the parent closed the pipe or exited
            return
        try:
            proba = np.asarray(model.predict_proba(texts), dtype="<f8")
            send(outbox, b"OK" + proba.tobytes())
        except Exception as exc:  # noqa: BLE001 - the parent falls back for this batch
            send(outbox, b"ER" + repr(exc).encode())


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
    for process in processes:
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Fanout:
    """``model.predict_proba`` with large batches spread over ``processes`` workers.

    ``model`` is a loaded :class:`~sentiment.models.pyfunc.SentimentModel` and
    ``directory`` the folder it was loaded from (workers load their copy from it).
    """

    def __init__(self, model: Any, directory: Path, processes: int) -> None:
        self.model, self.directory, self.processes = model, Path(directory), processes
        self._busy = threading.Lock()  # held by the one large batch using the workers
        self._lent = [threading.Lock() for _ in range(processes)]  # one per worker
        self._state = threading.Lock()
        self._workers: list[subprocess.Popen] | None = None
        self._starting = False
        self._failed_at = 0.0
        self._finalizer: Any = None
        self.retry_after = RETRY_AFTER
        self.fanned = 0  # large batches answered by the workers (tests, monitoring)
        self.lent = 0  # medium batches answered by one worker
        self._overlap = 0  # medium batches being scored in this process now

    @property
    def ready(self) -> bool:
        return self._workers is not None

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities in input order; large batches go to the workers when ready."""
        if len(texts) < LEND_FROM or self.processes < 2:
            return self.model.predict_proba(texts)
        if len(texts) < FAN_FROM:
            return self._medium(list(texts))
        if not self.ready:
            self.start()
            return self.model.predict_proba(texts)
        if not self._busy.acquire(blocking=False):
            return self.model.predict_proba(texts)
        try:
            for lock in self._lent:  # the medium batches in flight finish first
                lock.acquire()
            try:
                return self._fan(list(texts))
            finally:
                for lock in self._lent:
                    lock.release()
        finally:
            self._busy.release()

    def _medium(self, texts: list[str]) -> np.ndarray:
        """A medium batch: to a worker when they run; else here, and the workers start
        once two medium batches overlap (concurrent requests: then they pay)."""
        if self.ready:
            return self._lend(texts)
        with self._state:
            self._overlap += 1
            overlapping = self._overlap > 1
        try:
            if overlapping:
                self.start()
            return self.model.predict_proba(texts)
        finally:
            with self._state:
                self._overlap -= 1

    def _lend(self, texts: list[str]) -> np.ndarray:
        """The whole batch to the first idle worker, or here when none is idle."""
        order = list(enumerate(self._lent))
        order += [order[threading.get_ident() % len(order)]]  # all busy: wait for one
        for turn, (index, lock) in enumerate(order):
            if not lock.acquire(timeout=LEND_WAIT_S if turn == len(order) - 1 else -1,
                                blocking=turn == len(order) - 1):
                continue
            try:
                processes = self._workers
                if processes is None or index >= len(processes):
                    break
                try:
                    send(processes[index].stdin, json.dumps(texts).encode())
                    proba = self._answer(processes[index], len(texts))
                except (OSError, EOFError, RuntimeError, TimeoutError) as exc:
                    log.warning("a batch worker failed (%s); this batch is scored "
                                "in-process", exc)
                    self.close(failed=True)
                    break
                self.lent += 1
                return proba
            finally:
                lock.release()
        return self.model.predict_proba(texts)

    def start(self, wait: bool = False) -> bool:
        """Start the workers (in a background thread unless ``wait``); True when ready."""
        with self._state:
            if self._workers is not None or self._starting or \
                    time.monotonic() - self._failed_at < self.retry_after:
                return self._workers is not None
            self._starting = True
        if wait:
            self._launch()
        else:
            threading.Thread(target=self._launch, daemon=True, name="fanout-start").start()
        return self.ready

    def _launch(self) -> None:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        processes: list[subprocess.Popen] = []
        try:
            for i in range(self.processes):
                core = cores[i % len(cores)] if len(cores) >= self.processes else None
                # A fresh interpreter, not fork (the server has threads) nor
                # multiprocessing (it would re-import app.py and pickle the texts).
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "sentiment.serving.fanout", str(self.directory),
                     "" if core is None else str(core)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                    cwd=Path(__file__).resolve().parents[2]))
            for process in processes:
                answer = receive(process.stdout, START_TIMEOUT)
                if not answer.startswith(b"OK"):
                    raise RuntimeError(answer[2:].decode(errors="replace"))
        except (OSError, EOFError, RuntimeError, TimeoutError) as exc:
            log.warning("batch workers did not start (%s); large batches stay in-process",
                        exc)
            _stop(processes)
            with self._state:
                self._starting, self._failed_at = False, time.monotonic()
            return
        with self._state:
            self._workers, self._starting = processes, False
            self._finalizer = weakref.finalize(self, _stop, processes)
        log.info("%d batch workers serving %s", len(processes), self.directory.name)

    def _fan(self, texts: list[str]) -> np.ndarray:
        processes = self._workers or []
        bounds = np.linspace(0, len(texts), len(processes) + 1).astype(int)
        slices = list(zip(processes, bounds, bounds[1:]))
        try:
            for process, low, high in slices:
                send(process.stdin, json.dumps(texts[low:high]).encode())
            parts = [self._answer(process, high - low) for process, low, high in slices]
        except (OSError, EOFError, RuntimeError, TimeoutError) as exc:
            log.warning("a batch worker failed (%s); this batch is scored in-process", exc)
            self.close(failed=True)
            return self.model.predict_proba(texts)
        self.fanned += 1
        return np.concatenate(parts)

    @staticmethod
    def _answer(process: subprocess.Popen, rows: int) -> np.ndarray:
        answer = receive(process.stdout, ANSWER_TIMEOUT)
        if not answer.startswith(b"OK"):
            raise RuntimeError(answer[2:].decode(errors="replace"))
        proba = np.frombuffer(answer, dtype="<f8", offset=2)
        if len(proba) != rows:
            raise RuntimeError(f"a worker answered {len(proba)} rows for {rows}")
        return proba

    def close(self, failed: bool = False) -> None:
        """Stop the workers (they restart on a later large batch)."""
        with self._state:
            finalizer, self._workers, self._finalizer = self._finalizer, None, None
            if failed:
                self._failed_at = time.monotonic()
        if finalizer is not None:
            finalizer()

    def __getattr__(self, name: str) -> Any:  # the wrapped model's other attributes
        return getattr(self.__dict__["model"], name)


def fanout(model: Any, processes: int) -> Any:
    """``model`` wrapped in a :class:`Fanout` when its type gains from workers (its
    predictor says ``fans_out``) and ``processes`` >= 2; else ``model`` itself."""
    directory = getattr(model, "directory", None)
    if processes < 2 or directory is None or \
            not getattr(model.predictor, "fans_out", False):
        return model
    return Fanout(model, directory, processes)


def main() -> None:
    """``python -m sentiment.serving.fanout FOLDER [CORE]``: one worker on stdin/stdout."""
    from sentiment.config import apply_offline_defaults

    apply_offline_defaults()
    inbox, outbox = sys.stdin.buffer, os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the frames
    core = sys.argv[2] if len(sys.argv) > 2 else ""
    serve(sys.argv[1], int(core) if core else None, inbox, outbox)


if __name__ == "__main__":
    main()
