"""Monitoring: prediction log, feedback, burst alerts over a real SMTP server and webhook."""

import csv
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.monitoring import dashboard
from sentiment.monitoring import store as monitoring
from sentiment.monitoring.store import SQLStore, get_store
from sentiment.serving.service import SentimentService
from tests.conftest import Inbox, free_port

WRONG = ["my flight was great", "best crew ever", "lovely seats", "so happy today",
         "thank you united", "amazing service", "perfect landing"]


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch):
    box = Inbox()
    box.controller.start()
    monkeypatch.setenv("SENTIMENT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SENTIMENT_SMTP_PORT", str(box.port))
    monkeypatch.setenv("SENTIMENT_ALERT_TO", "ops@example.com")
    monkeypatch.setenv("SENTIMENT_ALERT_FROM", "sentiment@example.com")
    yield box
    box.controller.stop()


def report_wrong(service: SentimentService, texts: list[str]) -> list[dict]:
    results = []
    for text in texts:
        prediction = service.predict(text)
        results.append(service.feedback(text, prediction["label"], False,
                                        prediction_id=prediction["prediction_id"]))
    return results


@pytest.mark.slow
def test_one_email_per_burst_then_quiet_then_another(trained, inbox, monkeypatch) -> None:
    monkeypatch.setenv("SENTIMENT_ALERT_COOLDOWN_SECONDS", "3")
    service = SentimentService(get_settings())
    report_wrong(service, WRONG[:2])
    time.sleep(1.0)
    assert inbox.messages == [], "2 wrong reports must not alert"
    third = report_wrong(service, WRONG[2:3])[0]
    assert third["alert_raised"]
    inbox.wait_for(1)
    assert len(inbox.messages) == 1
    assert "3 wrong predictions" in inbox.messages[0]
    assert f"model version {trained['version']}" in inbox.messages[0]
    assert all(text in inbox.messages[0] for text in WRONG[:3])
    assert not any(r["alert_raised"] for r in report_wrong(service, WRONG[3:6]))
    time.sleep(1.0)
    assert len(inbox.messages) == 1, "quiet during the cool-down"
    time.sleep(2.5)
    assert report_wrong(service, WRONG[6:7])[0]["alert_raised"]
    inbox.wait_for(2)
    assert len(inbox.messages) == 2
    alerts = dashboard.alerts()
    assert alerts["status"].tolist() == ["sent", "sent"]


def test_window_slides(home: Path) -> None:
    store = SQLStore(f"sqlite:///{home / 'm.db'}")
    store.log_predictions([(text, "positive", 0.9, "1", 1.0, "api") for text in WRONG[:3]])
    for text in WRONG[:2]:
        store.add_feedback(None, text, "positive", False)
    assert store.claim_alert(3, 300, 600, now=time.time()) is None
    # Two reports now, the third 10 minutes later: outside a 5-minute window.
    assert store.claim_alert(3, 300, 600, now=time.time() + 600) is None
    store.add_feedback(None, WRONG[2], "positive", False)
    alert = store.claim_alert(3, 300, 600)
    assert alert is not None and alert["n_wrong"] == 3
    assert store.claim_alert(3, 300, 600) is None  # the same reports never alert twice


class Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        Receiver.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
def test_webhook_receives_one_json_post(trained, monkeypatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.bodies = []
    monkeypatch.setenv("SENTIMENT_ALERT_WEBHOOK",
                       f"http://127.0.0.1:{server.server_address[1]}/hook")
    try:
        report_wrong(SentimentService(get_settings()), WRONG[:4])
        deadline = time.monotonic() + 10
        while not Receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        server.shutdown()
    assert len(Receiver.bodies) == 1
    body = Receiver.bodies[0]
    assert body["event"] == "wrong_prediction_burst" and body["n_wrong"] == 3
    assert body["texts"] == WRONG[:3] and body["model_versions"] == [trained["version"]]


@pytest.mark.slow
def test_dead_smtp_port_changes_nothing_for_predictions(trained, monkeypatch) -> None:
    monkeypatch.setenv("SENTIMENT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SENTIMENT_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("SENTIMENT_ALERT_TO", "ops@example.com")
    service = SentimentService(get_settings())
    service.predict("warm up")  # the model's first load is not what this test times
    started = time.perf_counter()
    results = report_wrong(service, WRONG[:3])
    assert results[-1]["alert_raised"]
    # A generous bound: a delivery on the request path would wait for the SMTP attempt.
    assert time.perf_counter() - started < 3, "delivery must happen off the request path"
    assert service.predict("I love this airline")["label"] == "positive"
    deadline = time.monotonic() + 15
    while dashboard.alerts()["status"].iloc[0] == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
    alert = dashboard.alerts().iloc[0]
    assert alert["status"] == "failed" and "ConnectionRefusedError" in alert["detail"]


@pytest.mark.slow
def test_eight_threads_predicting_and_reporting(trained) -> None:
    service = SentimentService(get_settings())
    seen: list[int] = [service.predict("warm up")["prediction_id"]]
    errors: list[BaseException] = []
    stop = time.monotonic() + 10

    def work(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            try:
                result = service.predict(f"thread {n} tweet {i} about my flight")
                seen.append(result["prediction_id"])
                service.feedback(f"thread {n} tweet {i}", result["label"], i % 5 != 0,
                                 prediction_id=result["prediction_id"])
            except BaseException as exc:  # noqa: BLE001 - any error fails the test below
                errors.append(exc)
            i += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    store = get_store(get_settings())
    logged = store.query("SELECT id, text FROM predictions WHERE source = 'api'")
    assert len(seen) > 100
    assert sorted(seen) == sorted(logged["id"].tolist())  # every one, exactly once
    assert logged["text"].is_unique
    feedback = store.query("SELECT COUNT(*) AS n FROM feedback").iloc[0]["n"]
    assert feedback == len(seen) - 1


def test_exports_are_formula_safe_and_corrections_ingest(trained) -> None:
    service = SentimentService(get_settings())
    texts = ["=cmd|' /C calc'!A0", "+33 great flight", "I love it", "lost bag", "@delta meh",
             "\r=1+1", "\t@SUM(A1)", "\u00a0-2+3"]  # issue 9.11: control chars first
    for text in texts:
        prediction = service.predict(text)
        service.feedback(text, prediction["label"], False,
                         prediction_id=prediction["prediction_id"])
    log = pd.read_csv(dashboard.export_predictions(), dtype=str)
    assert log["text"].iloc[0] == "'=cmd|' /C calc'!A0"
    assert not log["text"].str.match(r"^[=+\-@]").any()
    corrections = dashboard.export_corrections()
    frame = pd.read_csv(corrections, dtype=str)
    assert set(frame["label"]) <= {"positive", "negative"} and len(frame) == 8
    for path in (dashboard.export_predictions(), corrections):
        with open(path, newline="", encoding="utf-8") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        visible = [cell.lstrip(" \t\r\n\u00a0\x00") for cell in cells]
        assert not [c for c in visible if c[:1] in ("=", "+", "-", "@")], path
    summary = lifecycle.ingest(corrections, "training")
    assert summary["rows_kept"] == 8 and summary["dataset_type"] == "jdd entrainement"
    stored, _ = registry.load_dataset(summary["dataset_id"], get_settings())
    assert "=cmd|' /C calc'!A0" in set(stored["text"])  # the guard is undone on the way in


def test_drift_flags_a_shift(trained) -> None:
    service = SentimentService(get_settings())
    assert dashboard.drift()["status"] == "not enough data"
    for i in range(60):
        service.predict(f"I love this airline, the best flight of my life number {i}! " * 3)
    report = dashboard.drift(window=60)
    assert report["status"] == "drift"
    measures = {m["measure"]: m for m in report["measures"]}
    assert measures["positive_rate"]["recent"] > 0.9 and measures["positive_rate"]["drift"]
    assert measures["mean_text_length"]["drift"]


def test_summary_and_accuracy_per_version(trained) -> None:
    service = SentimentService(get_settings())
    for i, correct in enumerate([True, True, False, True]):
        prediction = service.predict(f"tweet number {i}")
        service.feedback(f"tweet number {i}", prediction["label"], correct,
                         prediction_id=prediction["prediction_id"])
    summary = dashboard.summary()
    assert summary["predictions"] == 4 and summary["feedback"] == 4 and summary["wrong"] == 1
    assert summary["accuracy_from_feedback"] == 0.75
    per_version = dashboard.accuracy_by_version()
    assert per_version.to_dict(orient="records") == [
        {"model_version": trained["version"], "feedback": 4, "correct": 3, "accuracy": 0.75}]
    assert dashboard.timeseries()["predictions"].sum() == 4
    # Feedback through /feedback names only the text: it is linked to that text's prediction.
    service.feedback("tweet number 0", "positive", False)
    versions = dashboard.accuracy_by_version()["model_version"].tolist()
    assert versions == [trained["version"]]


# ---- issue 9.1: the monitoring store never takes prediction down ------------------------


def test_a_corrupt_store_at_start_is_moved_aside_and_predictions_served(trained, home) -> None:
    (home / "monitoring.db").write_bytes(b"this is not a database " * 100)
    monitoring._stores.clear()  # a fresh process
    service = SentimentService(get_settings())
    answers = [service.predict(f"flight {i} was great") for i in range(12)]
    assert all(a["label"] == "positive" and a["logging"] == "ok" for a in answers)
    aside = list(home.glob("monitoring.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    assert int(service.store.query("SELECT COUNT(*) AS n FROM predictions")["n"][0]) == 12


def test_a_store_deleted_while_running_is_recreated(trained, home) -> None:
    service = SentimentService(get_settings())
    service.predict("before the delete")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{home / 'monitoring.db'}{suffix}").unlink(missing_ok=True)
    answers = []
    threads = [threading.Thread(target=lambda i=i: answers.append(
        service.predict(f"after the delete {i}"))) for i in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 9 and all(a["logging"] == "ok" for a in answers)
    logged = service.store.query("SELECT text FROM predictions")["text"].tolist()
    assert sorted(logged) == sorted(f"after the delete {i}" for i in range(9))
    assert (home / "monitoring.db").is_file()


def test_threads_healing_a_deleted_store_lose_no_row(tmp_path: Path) -> None:
    """Threads that all find the file deleted heal it once. Before, they took turns
    reopening it, one wrote before the new file had its tables, read that as corruption
    and moved the new file aside with rows already logged in it (8 of 80 runs lost rows,
    and CI once lost one in the test above)."""
    import random

    for trial in range(15):
        path = tmp_path / f"trial{trial}" / "monitoring.db"
        store = SQLStore(f"sqlite:///{path}")
        store.log_predictions([("before", "positive", 0.9, "1", 1.0, "api")])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        start = threading.Barrier(12)

        def log_one(i: int, store: SQLStore = store, start: threading.Barrier = start) -> None:
            start.wait()
            time.sleep(random.random() * 0.02)  # noqa: S311 - jitter, not security
            store.log_predictions([(f"after {i}", "positive", 0.9, "1", 1.0, "api")])

        threads = [threading.Thread(target=log_one, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        logged = store.query("SELECT text FROM predictions")["text"].tolist()
        assert sorted(logged) == sorted(f"after {i}" for i in range(12)), trial
        assert not list(path.parent.glob("*.corrupt-*")), trial  # nothing moved aside


def test_an_unusable_store_degrades_logging_only(trained, home) -> None:
    service = SentimentService(get_settings())
    service.predict("logged")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{home / 'monitoring.db'}{suffix}").unlink(missing_ok=True)
    (home / "monitoring.db").mkdir()  # a directory where the file was: cannot be opened
    answers = [service.predict(f"still served {i}") for i in range(5)]
    assert all(a["label"] == "positive" or a["label"] == "negative" for a in answers)
    assert all(a["logging"].startswith("degraded") and a["prediction_id"] is None
               for a in answers)
    state = dashboard.summary()["logging"]
    assert state.startswith("degraded: 5 predictions served but not logged"), state
    (home / "monitoring.db").rmdir()  # the operator fixes it: logging comes back by itself
    assert service.predict("logged again")["logging"] == "ok"
    assert dashboard.summary()["predictions"] == 1


def test_feedback_must_refer_to_a_served_prediction(trained) -> None:
    """Issue 9.15: made-up reports are kept apart: no alert, no export, no accuracy."""
    service = SentimentService(get_settings())
    for i in range(4):
        made_up = service.feedback(f"never predicted {i}", "positive", False)
        assert made_up["verified"] is False and made_up["alert_raised"] is False
    served = service.predict("I love this airline")
    wrong_label = service.feedback("I love this airline", "negative", False)
    assert wrong_label["verified"] is False  # not the label that was served
    first = service.feedback("I love this airline", served["label"], False)
    again = service.feedback("I love this airline", served["label"], False)
    assert first["verified"] is True and again["verified"] is False  # no stacking
    summary = dashboard.summary()
    assert summary["wrong"] == 1 and summary["unverified_feedback"] == 6
    assert summary["alerts"] == 0
    corrections = pd.read_csv(dashboard.export_corrections(), dtype=str)
    assert corrections["text"].tolist() == ["I love this airline"]


OLD_SCHEMA = """
CREATE TABLE predictions (id INTEGER PRIMARY KEY, ts REAL NOT NULL, text TEXT NOT NULL,
    text_length INTEGER NOT NULL, label TEXT NOT NULL, proba_positive REAL NOT NULL,
    model_version TEXT NOT NULL, latency_ms REAL NOT NULL, source TEXT NOT NULL);
CREATE TABLE feedback (id INTEGER PRIMARY KEY, ts REAL NOT NULL, prediction_id INTEGER,
    text TEXT NOT NULL, predicted_label TEXT NOT NULL, is_correct INTEGER NOT NULL,
    corrected_label TEXT, comment TEXT, model_version TEXT);
CREATE TABLE alerts (id INTEGER PRIMARY KEY, ts REAL NOT NULL, n_wrong INTEGER NOT NULL,
    window_s INTEGER NOT NULL, model_versions TEXT NOT NULL, texts TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT);
INSERT INTO predictions VALUES (7, 1.0, 'old text', 8, 'positive', 0.9, '1', 1.0, 'api');
INSERT INTO feedback VALUES (1, 2.0, 7, 'old text', 'positive', 0, 'negative', NULL, '1');
INSERT INTO alerts VALUES (1, 3.0, 3, 300, '1', '["old text"]', 'sent', NULL);
"""


def test_an_unversioned_store_is_migrated_and_keeps_its_rows(home: Path) -> None:
    """Issue 10.3: stores of earlier releases gain the schema version, the verified column
    and the index, with every row kept; a store newer than the code is refused."""
    import sqlite3

    from sentiment.monitoring.schema import LATEST

    path = home / "old.db"
    home.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    store = SQLStore(f"sqlite:///{path}")
    assert store.health["status"] == "ok"
    assert int(store.query("SELECT MAX(version) AS v FROM schema_version")["v"][0]) == LATEST
    rows = store.query("SELECT id, text, verified FROM feedback")
    assert rows.to_dict(orient="records") == [{"id": 1, "text": "old text", "verified": 1}]
    kinds = store.query("SELECT id, kind, payload FROM alerts").to_dict(orient="records")
    assert kinds == [{"id": 1, "kind": "wrong_prediction_burst", "payload": None}]
    assert store.mark_handled(7, "carla")[0]  # the triage table exists too
    new_id = store.add_feedback(7, "old text", "positive", False)
    assert new_id == 2 and store.feedback_verified(new_id) is False  # one report per prediction
    assert store.log_predictions([("new", "negative", 0.1, "2", 1.0, "api")]) == [8]
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    newer = SQLStore(f"sqlite:///{path}")
    assert newer.health["status"] == "degraded" and "upgrade" in newer.health["reason"]


def test_logged_batches_get_their_own_ids_under_concurrent_writers() -> None:
    """SQLite logs a batch with the driver's executemany and derives its ids from the last
    one (the writer lock makes them follow): every id names its own text, also while
    another thread and rows pruned meanwhile interleave."""

    from sentiment.monitoring.store import LoggedPrediction, get_store

    store = get_store(get_settings())
    store.log_predictions([LoggedPrediction("old", "positive", 0.9, "1", 1.0, "ui")],
                          ts=0.0)
    store.prune(max_age_days=1, max_rows=10**6)  # the oldest row leaves a gap behind
    answers: dict[str, list[int]] = {}

    def write(worker: str) -> None:
        ids = []
        for batch in range(20):
            texts = [f"{worker}-{batch}-{i}" for i in range(1 + batch % 7)]
            ids += zip(store.log_predictions([LoggedPrediction(
                t, "negative", 0.2, "1", 1.0, "rest") for t in texts]), texts)
        answers[worker] = ids
    threads = [threading.Thread(target=write, args=(w,)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logged = dict(store.query("SELECT id, text FROM predictions").itertuples(index=False))
    pairs = answers["a"] + answers["b"]
    assert len(pairs) == len(logged) == 2 * sum(1 + b % 7 for b in range(20))
    assert all(logged[pid] == text for pid, text in pairs)
