"""Human-readable rendering of the lifecycle results for the terminal."""

from __future__ import annotations

import time
from typing import Any

from sentiment import views
from sentiment.vocabulary import HEADLINE


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain aligned text table."""
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def metrics_line(metrics: dict[str, float]) -> str:
    """balanced_accuracy 0.861, accuracy 0.881, f1 0.79, ..."""
    line = ", ".join(f"{n} {metrics[n]:.4f}" for n in HEADLINE if n in metrics)
    if "recall_negative" in metrics:
        line += (f"\n  recall negative {metrics['recall_negative']:.4f} / positive "
                 f"{metrics['recall_positive']:.4f}; predicted positive "
                 f"{metrics['predicted_positive_rate']:.1%} (actual "
                 f"{metrics['actual_positive_rate']:.1%})")
    return line


def _tokens(result: Any) -> str:
    """A new token (its secret, once), a revocation, or the list of tokens."""
    def when(ts: float | None) -> str:
        return "" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
    if isinstance(result, dict) and "secret" in result:
        return (f"token {result['name']} ({result['role']}), expires "
                f"{when(result['expires']) or 'never'}\n{result['secret']}\n"
                "(shown once: keep it now; only its hash is stored)")
    if isinstance(result, dict):
        return f"token {result['revoked']} revoked"
    if not result:
        return "no API tokens"
    return table([{"name": r["name"], "role": r["role"], "state": r["state"],
                   "created": when(r["created"]), "expires": when(r["expires"]) or "never",
                   "last_used": when(r["last_used"]) or "never"} for r in result])


def describe(command: str, result: Any, datasets: list[dict[str, Any]] | None = None
             ) -> str:
    """Render one command's result (``datasets`` names the versions' training data)."""
    if command == "ingest":
        dropped = ", ".join(f"{v} {k}" for k, v in result["dropped"].items()) or "none"
        return (f"dataset_id {result['dataset_id']} ({result['dataset_type']})\n"
                f"format: {result['format']} ({result['encoding']})\n"
                f"rows: {result['rows_in']} read, {result['rows_kept']} kept, "
                f"{result['rows_dropped']} dropped ({dropped})\n"
                f"classes: {result['positive']} positive, {result['negative']} negative "
                f"({result['positive_rate']:.1%} positive)")
    if command == "token":
        return _tokens(result)
    if command == "train" and result.get("status") == "stopped":
        return f"job {result['job']}: {result['message']}"
    if command == "jobs":
        if not result:
            return "no training jobs"
        return table([{"job": r["job"], "state": r["state"], "model_type": r["model_type"],
                       "progress": f"{float(r['fraction']):.0%}", "message": r["message"],
                       "owner": r["owner"], "version": r.get("version") or ""}
                      for r in result])
    if command == "train":
        return (f"version {result['version']} ({result['model_type']}) registered as "
                f"'{result['status']}' in {result['training_time_s']} s\n"
                f"held-out: {metrics_line(result['metrics'])}")
    if command == "validate":
        verdict = "PASSED" if result["passed"] else "FAILED"
        lines = [f"version {result['version']}: {verdict} (gate metric {result['gate_metric']})"]
        for check in result["datasets"]:
            lines.append(f"{check['dataset']} ({check['dataset_id']}): "
                         f"{'passed' if check['passed'] else 'failed'}")
            lines.append("  " + metrics_line(check["metrics"]))
            lines += [f"  - {r}" for r in check["reasons"]]
        if result["promoted"]:
            lines.append(f"promoted: version {result['production_version']} is in production")
        return "\n".join(lines)
    if command == "datasets":  # the Data tab's table
        return table(views.datasets_view(result))
    if command == "models":  # the Models tab's table, and its note
        shown = table(views.versions_view(result, datasets or []))
        note = views.moved_note(result).replace("**", "")
        return shown + (f"\n{note}" if note else "")
    if command == "predict":
        return "\n".join(f"{r['label']:8} {r['confidence']:.3f}  {r['text']}" for r in result)
    if command == "score":
        return (f"{result['rows']:,} rows scored with version {result['version']} "
                f"({result['engine']}{', ' + result['master'] if result['master'] else ''}) in "
                f"{result['seconds']} s ({result['rows_per_second']:,} rows/s) -> "
                f"{result['output']}")
    return str(result.get("message", result))
