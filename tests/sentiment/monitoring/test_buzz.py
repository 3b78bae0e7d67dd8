"""The bad-buzz detector and the triage list, on a replayed stream of real tweets.

The stream is the Sentiment140 and airline tweets of ../shared/data, logged into a real
monitoring store at chosen times with their human labels as the predicted label (what
the detector reads is the prediction log; no model is needed to write one). The clock is
the test's: every check is given its ``now``. Alerts go to a real SMTP server and a real
HTTP webhook.
"""

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.config import get_settings
from sentiment.errors import InvalidInputError
from sentiment.monitoring import dashboard, triage
from sentiment.monitoring.buzz import BuzzDetector, sentence, terms
from sentiment.monitoring.store import SQLStore
from tests.conftest import Inbox, shared_file

T0 = 1_780_000_000.0  # the replay's "now" when the steady day ends (a fixed clock)
RATE = 300  # texts an hour
HOUR = 3600.0


def _tweets() -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """(text, label) pairs of steady traffic, and negative airline complaints by reason,
    kept apart from it."""
    names = ["target", "ids", "date", "flag", "user", "text"]
    s140 = pd.read_csv(shared_file("sentiment140_sample_20k.csv"), encoding="latin-1")[names]
    airline = pd.read_csv(shared_file("airline_tweets.csv"))
    airline = airline[airline["airline_sentiment"].isin(["positive", "negative"])]
    themed = airline["negativereason"].isin(["Cancelled Flight", "Lost Luggage"])
    steady = [(str(t), "positive" if y == 4 else "negative")
              for t, y in zip(s140["text"], s140["target"], strict=True)]
    steady += [(str(t), str(y)) for t, y in zip(airline["text"][~themed],
                                                airline["airline_sentiment"][~themed],
                                                strict=True)]
    bursts = {reason: airline["text"][airline["negativereason"] == reason].astype(str).tolist()
              for reason in ("Cancelled Flight", "Lost Luggage")}
    return steady, bursts


def replay(store: SQLStore, pool: list[tuple[str, str]], start: float, end: float,
           rate: float, rng: np.random.Generator, source: str = "api") -> None:
    """Poisson traffic at ``rate`` texts an hour from ``pool`` between two times."""
    n = rng.poisson(rate * (end - start) / HOUR)
    times = np.sort(rng.uniform(start, end, n))
    picks = rng.integers(0, len(pool), n)
    rows = [(pool[i][0], pool[i][1], 0.2 if pool[i][1] == "negative" else 0.8, "1", 1.0,
             source) for i in picks]
    for chunk in range(0, n, 500):
        store.log_predictions(rows[chunk:chunk + 500], ts=times[chunk:chunk + 500].tolist())


def burst(store: SQLStore, texts: list[str], start: float, minutes: float,
          rng: np.random.Generator, version: str = "1") -> None:
    times = np.sort(rng.uniform(start, start + minutes * 60, len(texts))).tolist()
    store.log_predictions([(t, "negative", 0.05, version, 1.0, "ui") for t in texts],
                          ts=times)


@pytest.fixture(scope="module")
def tweets():
    return _tweets()


@pytest.fixture(scope="module")
def steady_day(tweets, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding a day and a half of steady traffic ending at T0 (built once)."""
    path = tmp_path_factory.mktemp("buzz") / "steady.db"
    store = SQLStore(f"sqlite:///{path}")
    replay(store, tweets[0], T0 - 36 * HOUR, T0, RATE, np.random.default_rng(1))
    store.engine.dispose()
    return path


@pytest.fixture
def store(steady_day: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SQLStore:
    copy = tmp_path / "monitoring.db"
    shutil.copy(steady_day, copy)
    monkeypatch.setenv("SENTIMENT_DATABASE_URL", f"sqlite:///{copy}")
    return SQLStore(f"sqlite:///{copy}")


def checks(detector: BuzzDetector, start: float, end: float, every: float = 60.0) -> list:
    """Run the detector once a simulated ``every`` seconds; the alerts raised."""
    raised = []
    for now in np.arange(start + every, end + 1e-6, every):
        alert = detector.check(now=float(now), background=False)
        if alert is not None:
            raised.append(alert)
    return raised


class Hook(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        Hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_terms_leave_out_stop_words_links_and_handles() -> None:
    found = terms("@united Lost my BAGS again!!! 3 hours at the gate http://t.co/x #fail")
    assert {"lost", "bag", "lost bag", "hour", "gate", "fail"} <= found
    assert not found & {"united", "my", "the", "again", "http", "t.co", "3"}


def test_steady_traffic_raises_no_alert(store: SQLStore) -> None:
    """A day of real tweets at 300 an hour, checked every 5 minutes for 12 hours: quiet."""
    detector = BuzzDetector(store, get_settings())
    assert checks(detector, T0 - 12 * HOUR, T0, every=300) == []
    assert detector.evaluate(now=T0) is None
    assert store.query("SELECT COUNT(*) AS n FROM alerts")["n"].iloc[0] == 0


def test_a_burst_raises_one_alert_with_its_words_and_examples(store, tweets,
                                                              monkeypatch) -> None:
    inbox = Inbox()
    inbox.controller.start()
    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    Hook.bodies = []
    monkeypatch.setenv("SENTIMENT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SENTIMENT_SMTP_PORT", str(inbox.port))
    monkeypatch.setenv("SENTIMENT_ALERT_TO", "care@example.com")
    monkeypatch.setenv("SENTIMENT_ALERT_WEBHOOK", f"http://127.0.0.1:{hook.server_address[1]}/")
    rng = np.random.default_rng(2)
    complaints = list(rng.choice(tweets[1]["Cancelled Flight"], 40, replace=False))
    replay(store, tweets[0], T0, T0 + HOUR, RATE, rng)
    burst(store, complaints, T0 + 600, 10, rng)
    try:
        raised = checks(BuzzDetector(store, get_settings()), T0, T0 + HOUR)
    finally:
        hook.shutdown()
        inbox.controller.stop()
    assert len(raised) == 1, [a["summary"] for a in raised]
    alert = raised[0]
    assert T0 + 600 < alert["ts"] <= T0 + 1500, "within the burst's window"
    assert "cancel" in alert["terms"][0], alert["terms"]
    assert len(alert["examples"]) == 3 and set(alert["examples"]) <= set(complaints)
    assert alert["negative_share"] > alert["baseline_share"]
    assert alert["summary"] == sentence(alert) and "usually" in alert["summary"]
    assert Hook.bodies and Hook.bodies[0]["event"] == "bad_buzz"
    body = Hook.bodies[0]
    for key in ("negative_share", "baseline_share", "texts", "since", "terms", "examples"):
        assert key in body, key
    assert body["terms"] == alert["terms"] and body["examples"] == alert["examples"]
    assert len(inbox.messages) == 1 and "bad buzz" in inbox.messages[0]
    assert alert["examples"][0][:40] in inbox.messages[0].replace("\n", " ")
    shown = dashboard.buzz_alerts(get_settings())
    assert shown["id"].tolist() == [alert["id"]] and shown["status"].iloc[0] == "sent"
    detail = dashboard.buzz_detail(alert["id"], get_settings())
    assert detail["examples"] == alert["examples"] and detail["delivery"] == "sent"


def test_the_cool_down_holds_then_a_new_buzz_alerts_again(store, tweets,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("SENTIMENT_BUZZ_COOLDOWN_SECONDS", "3600")
    rng = np.random.default_rng(3)
    detector = BuzzDetector(store, get_settings())
    replay(store, tweets[0], T0, T0 + 4 * HOUR, RATE, rng)
    cancelled, luggage = tweets[1]["Cancelled Flight"], tweets[1]["Lost Luggage"]
    burst(store, list(rng.choice(cancelled, 40, replace=False)), T0 + 600, 10, rng)
    burst(store, list(rng.choice(luggage, 40, replace=False)), T0 + 2400, 10, rng)
    first = checks(detector, T0, T0 + 2 * HOUR)
    assert len(first) == 1, "the second burst falls within the cool-down"
    burst(store, list(rng.choice(luggage, 40, replace=False)), T0 + 2.5 * HOUR, 10, rng)
    later = checks(detector, T0 + 2 * HOUR, T0 + 4 * HOUR)
    assert len(later) == 1 and later[0]["ts"] - first[0]["ts"] >= 3600
    assert any(w in later[0]["terms"][0] for w in ("bag", "luggage", "lost"))


def test_two_replicas_count_together_and_raise_one_alert(store, tweets, tmp_path) -> None:
    """Each replica logs half of the traffic and half of the burst; both detectors see
    all of it (the shared log) and, checking at the same moment, record one alert."""
    url = str(store.url)
    other = SQLStore(url)  # a second process's store on the same database
    settings = get_settings()
    rng = np.random.default_rng(4)
    replay(store, tweets[0], T0, T0 + 1200, RATE / 2, rng)
    replay(other, tweets[0], T0, T0 + 1200, RATE / 2, rng)
    complaints = list(rng.choice(tweets[1]["Cancelled Flight"], 30, replace=False))
    burst(store, complaints[:15], T0 + 300, 10, rng, version="1")
    burst(other, complaints[15:], T0 + 300, 10, rng, version="1")
    replicas = [BuzzDetector(store, settings), BuzzDetector(other, settings)]
    found = {}
    now = T0 + 1200
    barrier = threading.Barrier(2)

    def run(i: int) -> None:
        barrier.wait()
        found[i] = replicas[i].check(now=now, background=False)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a is not None for a in found.values()) == 1, found
    assert int(store.query("SELECT COUNT(*) AS n FROM alerts WHERE kind = 'bad_buzz'"
                           )["n"].iloc[0]) == 1
    alert = next(a for a in found.values() if a is not None)
    assert alert["negative_texts"] >= 30 and "cancel" in alert["terms"][0]


def test_too_few_texts_never_alert(tmp_path: Path, tweets, monkeypatch) -> None:
    """At 20 texts an hour, 15 angry texts in ten minutes stay below the minimum of 20
    negative texts: no alert. The same stream with a minimum of 10 does alert, so it is
    the minimum that held."""
    store = SQLStore(f"sqlite:///{tmp_path / 'quiet.db'}")
    rng = np.random.default_rng(5)
    replay(store, tweets[0], T0 - 30 * HOUR, T0 + HOUR, 20, rng)
    burst(store, list(rng.choice(tweets[1]["Cancelled Flight"], 15, replace=False)),
          T0 + 600, 10, rng)
    assert checks(BuzzDetector(store, get_settings()), T0 - 6 * HOUR, T0 + HOUR) == []
    monkeypatch.setenv("SENTIMENT_BUZZ_MIN_TEXTS", "10")
    assert len(checks(BuzzDetector(store, get_settings()), T0, T0 + HOUR)) == 1
    monkeypatch.setenv("SENTIMENT_BUZZ_MIN_TEXTS", "0")  # off
    assert BuzzDetector(store, get_settings()).evaluate(now=T0 + 1500) is None


def test_the_negative_share_series_shows_the_burst_above_the_band(store, tweets) -> None:
    rng = np.random.default_rng(6)
    burst(store, list(rng.choice(tweets[1]["Lost Luggage"], 80, replace=False)),
          T0 - 900, 10, rng)
    series = dashboard.negative_share(get_settings(), span_s=6 * 3600, now=T0)
    assert len(series) == 24 and series["texts"].sum() > 0
    last = series.iloc[-1]
    assert last["negative_share"] > last["band_high"] > last["baseline_share"]
    assert (series["negative_share"].iloc[:-1] <= series["band_high"].iloc[:-1] + 0.1).all()


def test_triage_lists_the_angriest_first_and_handled_ones_leave(home: Path) -> None:
    settings = get_settings()
    store = SQLStore(settings.database_url)
    now = time.time()
    ids = store.log_predictions([
        ("the flight was fine", "positive", 0.9, "1", 1.0, "ui"),
        ("meh, a bit late", "negative", 0.45, "1", 1.0, "api"),
        ("worst airline ever, lost my bag", "negative", 0.02, "1", 1.0, "batch"),
        ("rude staff at the gate", "negative", 0.2, "1", 1.0, "ui")], ts=now - 60)
    store.log_predictions([("angry last week", "negative", 0.01, "1", 1.0, "ui")],
                          ts=now - 8 * 86_400)
    listed = triage.triage(settings)
    assert listed["prediction_id"].tolist() == [ids[2], ids[3], ids[1]]
    assert listed["channel"].tolist() == ["batch", "ui", "api"]
    assert listed["negative_confidence"].iloc[0] == pytest.approx(0.98)
    done = triage.handle(ids[2], "carla", settings)
    assert done["newly_handled"] and "leaves the triage list" in done["message"]
    assert triage.triage(settings)["prediction_id"].tolist() == [ids[3], ids[1]]
    again = triage.handle(str(ids[2]), "dan", settings)
    assert not again["newly_handled"] and "already handled (by carla" in again["message"]
    for bad in ("abc", 10_000):
        with pytest.raises(InvalidInputError):
            triage.handle(bad, "carla", settings)
    assert triage.triage(settings)["prediction_id"].tolist() == [ids[3], ids[1]]


def test_the_watch_checks_on_its_own_off_the_request_path(tweets, tmp_path, monkeypatch) -> None:
    """startup.buzz_watch (what app.py starts) finds a buzz on the real clock by itself.
    It needs only the service's store, so the service is a plain namespace holding one."""
    from types import SimpleNamespace

    from sentiment import startup

    monkeypatch.setenv("SENTIMENT_BUZZ_CHECK_SECONDS", "0.2")
    store = SQLStore(f"sqlite:///{tmp_path / 'live.db'}")
    rng = np.random.default_rng(7)
    now = time.time()
    replay(store, tweets[0], now - 26 * HOUR, now, RATE, rng)
    burst(store, list(rng.choice(tweets[1]["Cancelled Flight"], 40, replace=False)),
          now - 600, 9, rng)
    stop = threading.Event()
    thread = startup.buzz_watch(get_settings(), lambda: SimpleNamespace(store=store), stop)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and store.query(
                "SELECT COUNT(*) AS n FROM alerts")["n"].iloc[0] == 0:
            time.sleep(0.1)
        time.sleep(1.0)  # several more checks: still one alert (the cool-down)
    finally:
        stop.set()
        thread.join(5)
    raised = store.query("SELECT kind, status FROM alerts")
    assert raised.to_dict(orient="records") == [{"kind": "bad_buzz", "status": "recorded"}]
    assert not thread.is_alive()
