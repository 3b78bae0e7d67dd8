"""The ``admin`` command line: every lifecycle step, human-readable or ``--json``.

Expected failures (bad input, refused action) print one line on stderr and exit 1, with
no traceback; unexpected errors keep their traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from admin.format import describe
from sentiment import lifecycle
from sentiment.config import SettingsError, get_settings
from sentiment.errors import SentimentError
from sentiment.infra import durable
from sentiment.models import available_types


def _hyper(values: list[str]) -> dict[str, str]:
    params = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise SentimentError(f"--param takes NAME=VALUE, got {item!r}")
        params[name.strip()] = value.strip()
    return params


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m admin", description=__doc__)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bootstrap", help="first start: the default corpus -> the baseline in "
                   "production (stage 1), then the challenger, promoted if it wins (stage 2)")
    ingest = sub.add_parser("ingest", help="ingest a labelled CSV")
    ingest.add_argument("file")
    ingest.add_argument("--role", choices=["training", "validation"], required=True)
    sub.add_parser("datasets", help="list ingested datasets")
    train = sub.add_parser("train", help="train a model version")
    train.add_argument("--model-type", required=True, choices=available_types())
    train.add_argument("--dataset", required=True)
    train.add_argument("--base-version")
    train.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a hyperparameter, repeatable (e.g. --param C=2)")
    validate = sub.add_parser("validate", help="validate a version on a validation dataset")
    validate.add_argument("version")
    validate.add_argument("--dataset", required=True, action="append",
                          help="a validation dataset id; repeat it (or separate ids with "
                               "commas) to validate on several: the gate holds on each")
    validate.add_argument("--min-accuracy", type=float)
    validate.add_argument("--auto-promote", action="store_true")
    promote = sub.add_parser("promote", help="promote a validated version to production")
    promote.add_argument("version")
    promote.add_argument("--force", action="store_true", help="promote even if not validated")
    sub.add_parser("rollback", help="move production back to the previous version")
    sub.add_parser("models", help="list model versions")
    jobs = sub.add_parser("jobs", help="list training jobs (from any terminal)")
    jobs.add_argument("--running", action="store_true", help="only the running ones")
    stop = sub.add_parser("stop", help="stop a training job (its run ends KILLED)")
    stop.add_argument("job", help="the job id that `jobs` lists")
    predict = sub.add_parser("predict", help="predict the sentiment of texts")
    predict.add_argument("texts", nargs="+")
    score = sub.add_parser("score", help="score a CSV or Parquet file with the production "
                           "version, in-process or on Spark")
    score.add_argument("input", help="a .csv (with a header line) or .parquet file")
    score.add_argument("output", help="a .csv or .parquet path (a folder of part files with "
                       "--engine spark, as Spark writes)")
    score.add_argument("--engine", choices=["local", "spark"], default="local")
    score.add_argument("--master", help="Spark master URL (default local[*])")
    score.add_argument("--column", help="the text column (default: text, tweet, review, ...)")
    score.add_argument("--version", help="a version instead of production")
    token = sub.add_parser("token", help="API tokens for programs (REST, MCP)")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a token; its secret is printed once")
    create.add_argument("name")
    create.add_argument("--role", choices=["viewer", "admin"], default="viewer")
    create.add_argument("--expires", type=float, metavar="DAYS",
                        help="days until it expires (default: never)")
    actions.add_parser("list", help="every token: role, state, last use (no secrets)")
    revoke = actions.add_parser("revoke", help="revoke a token (refused from then on)")
    revoke.add_argument("name")
    return parser


def _token(args: argparse.Namespace) -> Any:
    from sentiment.monitoring.store import get_store
    from sentiment.serving import access

    store = get_store(get_settings())
    if args.action == "create":
        return access.create(store, args.name, args.role, args.expires, by="cli")
    if args.action == "revoke":
        access.revoke(store, args.name)
        return {"revoked": args.name.strip()}
    return access.tokens(store)


def _run(args: argparse.Namespace) -> Any:
    commands: dict[str, Callable[[], Any]] = {
        "bootstrap": lambda: lifecycle.bootstrap(log=lambda m: print(m, file=sys.stderr)),
        "ingest": lambda: lifecycle.ingest(args.file, args.role),
        "datasets": lifecycle.datasets_table,
        "train": lambda: _train(args),
        "jobs": lambda: lifecycle.list_jobs(args.running),
        "stop": lambda: lifecycle.stop_job(args.job),
        "validate": lambda: lifecycle.validate(args.version, args.dataset, args.min_accuracy,
                                               args.auto_promote),
        "promote": lambda: lifecycle.promote(args.version, force=args.force, actor="cli"),
        "rollback": lifecycle.rollback,
        "models": lifecycle.models_table,
        "predict": lambda: lifecycle.predict_texts(args.texts),
        "token": lambda: _token(args),
        "score": lambda: lifecycle.score(args.input, args.output, args.engine, args.master,
                                         args.column, args.version),
    }
    return commands[args.command]()


def _train(args: argparse.Namespace) -> dict[str, Any]:
    """Train as a job in a thread, so Ctrl-C stops it cleanly: the run ends KILLED and
    nothing is registered, instead of a run left RUNNING by an interrupted library. Ctrl-C
    only asks the job to stop (no KeyboardInterrupt is raised into the training)."""
    started: list[Any] = []
    asked = threading.Event()
    outcome: dict[str, Any] = {}

    def begin(job: Any) -> None:
        started.append(job)
        if asked.is_set():
            job.ask_stop()

    def on_ctrl_c(signum: int, frame: Any) -> None:
        print("stopping the training (Ctrl-C)...", file=sys.stderr)
        asked.set()
        for job in started:
            job.ask_stop()

    def work() -> None:
        try:
            outcome["result"] = lifecycle.train_job(
                args.model_type, args.dataset, args.base_version, _hyper(args.param),
                owner="cli", progress=_progress, on_start=begin)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, re-raised
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="train")
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        worker.start()
        worker.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _progress(fraction: float, message: str, metrics: dict | None = None) -> None:
    extra = "  " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()) if metrics else ""
    print(f"  [{fraction:4.0%}] {message}{extra}", file=sys.stderr)


def _reconcile(settings: Any) -> None:
    """Every command starts from a registry whose tags agree with its alias (a process
    killed mid-promotion, or an alias moved in the MLflow UI, is repaired first). A local
    registry that does not exist yet has nothing to repair and is not created here."""
    uri = str(settings.tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return
    try:
        with contextlib.redirect_stdout(sys.stderr):
            state = lifecycle.reconcile(settings)
    except SentimentError as exc:
        print(f"warning: the registry could not be checked ({exc})", file=sys.stderr)
        return
    if state.get("moved_outside"):
        print(f"note: version {state['production_version']} was put in production outside "
              "the app; its tags and history now say so.", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
        durable.restore(settings)  # a wiped local disk gets its databases back first
        _reconcile(settings)
        with contextlib.redirect_stdout(sys.stderr):  # MLflow prints run links: stdout
            result = _run(args)                        # holds only the result (--json)
        durable.save(settings)
    except (SentimentError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, default=str, ensure_ascii=False, indent=2))
    else:
        names = lifecycle.datasets_table() if args.command == "models" else None
        print(describe(args.command, result, names))
    stopped = args.command == "train" and result.get("status") == "stopped"
    return 130 if stopped else 0  # 130: what a shell reports for Ctrl-C
