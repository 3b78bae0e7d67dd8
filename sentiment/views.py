"""Tables for people, shaped once: the Data and Models tabs show them, and
``python -m admin datasets|models`` prints the same ones. Rows in, rows out (plain dicts);
the raw tables (``/datasets``, ``/models``, ``--json``) keep every column."""

from __future__ import annotations

from typing import Any

from sentiment.vocabulary import COMPARED, ROLE_WORDS

VERSION_COLUMNS = ("version", "production", "model_type", "status", "serving", "progress",
                   "validation_metric", "validation_score", "val_balanced_accuracy",
                   "training_dataset", "created")


def datasets_view(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each dataset by name: role, rows kept and dropped, balance, origin, file, date."""
    return [{"name": r["name"], "role": ROLE_WORDS.get(r["dataset_type"], r["dataset_type"]),
             "rows": r["rows_kept"], "dropped": r["rows_dropped"],
             "positive": f"{(r['positive_rate'] or 0):.0%}",
             "origin": r.get("origin") or "upload", "file": r["source"],
             "created": r["created"], "dataset_id": r["dataset_id"]} for r in rows]


def versions_view(rows: list[dict[str, Any]], datasets: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Each version: production starred, its training dataset by name, the columns
    people read (:data:`VERSION_COLUMNS` present in the rows)."""
    names = {d["dataset_id"]: d["name"] for d in datasets}
    present = [c for c in VERSION_COLUMNS if any(c in r for r in rows)]
    view = []
    for row in rows:
        shown = {c: row.get(c) for c in present}
        if "training_dataset" in shown:
            shown["training_dataset"] = names.get(shown["training_dataset"],
                                                  shown["training_dataset"])
        shown["production"] = "★ production" if row.get("production") else ""
        view.append(shown)
    return view


def moved_note(rows: list[dict[str, Any]]) -> str:
    """A line when the production version was put there outside the app (MLflow UI)."""
    for row in rows:
        if row.get("production") and row.get("moved_outside_app"):
            return (f"**Version {row['version']} was put in production outside the app "
                    f"(MLflow UI) on {row['moved_outside_app']}.** Tags and history follow "
                    "the alias; check its validation score, and promote or roll back here to "
                    "choose again.")
    return ""


def comparison_view(result: dict[str, Any], datasets: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    """A validation's metrics beside production's on the same data, per dataset."""
    names = {d["dataset_id"]: d["name"] for d in datasets}
    rows = []
    for check in result.get("datasets", []):
        prod = check.get("production_metrics") or {}
        shown = names.get(check.get("dataset_id"), check["dataset"])
        for name in COMPARED:
            rows.append({"dataset": shown, "metric": name,
                         f"v{result['version']}": round(check["metrics"][name], 4),
                         "production": round(prod[name], 4) if name in prod else None,
                         "gate": "yes" if name == result.get("gate_metric") else ""})
    return rows
