"""The bad-buzz detector on a replayed stream of real tweets, with the clock in our hands.

Run: ``python -m bench.buzz [--hours 48] [--rates 20,200,2000]``. The stream is drawn from
``../shared/data``: the Sentiment140 samples and the airline tweets (positive and negative),
labelled by the product's own first-start baseline (``tfidf_logreg``, trained here as the
app trains it), logged into a real monitoring store (SQLite) at bench-controlled times, and
checked by the real detector once a simulated minute, with the default settings (window
15 min, baseline 24 h, at least 20 negative texts, cool-down 1 h, alpha 1e-4).

- **Steady traffic**: ``--hours`` of Poisson arrivals at each rate, with a daily cycle
  (+-50 % around the mean rate: a busier afternoon is not an angrier one). Every alert is a
  false alarm.
- **Bursts**: then, at each rate, bursts of 30, 60 and 120 extra negative tweets over 10
  minutes about one theme, three hours apart: real airline complaints of one
  ``negativereason`` (cancelled flights, lost luggage, late flights), held out of the
  steady stream; and 120 negative Sentiment140 tweets with no common theme (only the
  share test can see those). Each should raise exactly one alert; the table gives the
  delay from the burst's first tweet to the alert and whether the theme's words lead.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import SHARED, isolated_home, print_table

THEMES = {  # the airline file's negativereason -> the words that name it
    "Cancelled Flight": ("cancel", "flightled"),
    "Lost Luggage": ("bag", "luggage", "lost", "suitcase"),
    "Late Flight": ("late", "delay", "hour", "wait"),
}
BURSTS = ((30, "Cancelled Flight"), (60, "Lost Luggage"), (120, "Late Flight"),
          (120, None))  # None: negative tweets with no common theme (Sentiment140's)
BURST_MINUTES = 10
GAP_MINUTES = 180
SEED = 7


def load_pools() -> tuple[list[str], dict[str, list[str]]]:
    """The steady pool (Sentiment140 + airline, polar rows) and each theme's burst pool
    (half of that reason's negative airline tweets, kept out of the steady pool)."""
    names = ["target", "ids", "date", "flag", "user", "text"]
    s140 = pd.concat([
        pd.read_csv(SHARED / "sentiment140_sample_20k.csv", encoding="latin-1")[names],
        pd.read_csv(SHARED / "sentiment140_sample_10k_noheader.csv", encoding="latin-1",
                    header=None, names=names)]).drop_duplicates("ids")
    airline = pd.read_csv(SHARED / "airline_tweets.csv")
    airline = airline[airline["airline_sentiment"].isin(["positive", "negative"])]
    rng = np.random.default_rng(SEED)
    held: dict[str, list[str]] = {}
    keep = np.ones(len(airline), dtype=bool)
    for reason in THEMES:
        rows = np.flatnonzero((airline["negativereason"] == reason).to_numpy())
        chosen = rng.choice(rows, size=len(rows) // 2, replace=False)
        keep[chosen] = False
        held[reason] = airline["text"].iloc[chosen].astype(str).tolist()
    steady = s140["text"].astype(str).tolist() + airline["text"][keep].astype(str).tolist()
    return steady, held


def label_texts(texts: list[str]) -> dict[str, tuple[str, float]]:
    """Each distinct text's label and probability from the product's baseline model."""
    import os

    os.environ["SENTIMENT_BOOTSTRAP_CHALLENGER"] = "none"
    from sentiment import lifecycle
    from sentiment.config import get_settings
    from sentiment.serving.server import ModelServer

    settings = get_settings()
    lifecycle.bootstrap_baseline(settings, log=lambda m: None)
    unique = sorted(set(texts))
    predictions = ModelServer(settings).predict(unique)
    return {t: (p.label, p.proba_positive) for t, p in zip(unique, predictions, strict=True)}


class Replay:
    """One store, one detector, one simulated clock (minutes since the start)."""

    def __init__(self, folder: Path, rate: float, labels: dict[str, tuple[str, float]],
                 steady: list[str], start: float) -> None:
        from sentiment.config import get_settings
        from sentiment.monitoring.buzz import BuzzDetector
        from sentiment.monitoring.store import SQLStore

        self.store = SQLStore(f"sqlite:///{folder / f'replay-{int(rate)}.db'}")
        self.detector = BuzzDetector(self.store, get_settings())
        self.rate, self.labels, self.steady, self.start = rate, labels, steady, start
        self.rng = np.random.default_rng(SEED + int(rate))
        self.minute = 0
        self.alerts: list[tuple[float, dict]] = []
        self.check_seconds: list[float] = []

    def _log(self, texts: list[str], t0: float) -> None:
        if not texts:
            return
        times = sorted(t0 + self.rng.uniform(0, 60, len(texts)))
        rows = [(t, *self._label(t), "1", 1.0, "api") for t in texts]
        self.store.log_predictions([(t, lab, p, v, lat, src)
                                    for t, lab, p, v, lat, src in rows], ts=times)

    def _label(self, text: str) -> tuple[str, float]:
        return self.labels[text]

    def advance(self, minutes: int, extra: dict[int, list[str]] | None = None) -> None:
        """Run ``minutes`` simulated minutes of steady traffic (plus ``extra`` texts at
        given minutes), checking once at the end of each."""
        for _ in range(minutes):
            t0 = self.start + self.minute * 60
            mean = self.rate / 60 * (1 + 0.5 * math.sin(2 * math.pi * self.minute / 1440))
            texts = [self.steady[i] for i in self.rng.integers(0, len(self.steady),
                                                               self.rng.poisson(mean))]
            texts += (extra or {}).get(self.minute, [])
            self._log(texts, t0)
            self.minute += 1
            now = t0 + 60
            started = time.perf_counter()
            alert = self.detector.check(now=now, background=False)
            self.check_seconds.append(time.perf_counter() - started)
            if alert is not None:
                self.alerts.append((now, alert))


def burst_minutes(texts: list[str], first: int, rng: np.random.Generator) -> dict[int, list[str]]:
    """``texts`` spread at random over BURST_MINUTES minutes from ``first``."""
    out: dict[int, list[str]] = {}
    for text in texts:
        out.setdefault(first + int(rng.integers(0, BURST_MINUTES)), []).append(text)
    return out


def leads(terms: list[str], reason: str) -> bool:
    """Whether the first term names the theme."""
    return bool(terms) and any(key in terms[0] for key in THEMES[reason])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--rates", default="20,200,2000")
    args = parser.parse_args()
    home = isolated_home()
    steady, held = load_pools()
    labels = label_texts(steady + [t for texts in held.values() for t in texts])
    start = time.time() - 30 * 86_400  # a month ago: nothing real is in the window
    steady_rows, burst_rows = [], []
    for rate in (float(r) for r in args.rates.split(",")):
        replay = Replay(home, rate, labels, steady, start)
        replay.advance(int(args.hours * 60))
        false_alarms = len(replay.alerts)
        days = args.hours / 24
        texts = int(replay.store.query("SELECT COUNT(*) AS n FROM predictions")["n"].iloc[0])
        steady_rows.append((f"{rate:,.0f} texts/h (daily cycle +-50 %), {args.hours:g} h, "
                            f"{texts:,} texts", f"{false_alarms} alerts "
                            f"({false_alarms / days:.2f} false alarms/day); median check "
                            f"{np.median(replay.check_seconds) * 1000:.1f} ms"))
        rng = np.random.default_rng(SEED)
        diffuse = [t for t in steady[:20_000] if labels[t][0] == "negative"]
        for size, reason in BURSTS:
            replay.advance(GAP_MINUTES - BURST_MINUTES - 60)
            first = replay.minute
            pool = held[reason] if reason else diffuse
            chosen = list(rng.choice(pool, size=size, replace=size > len(pool)))
            before = len(replay.alerts)
            replay.advance(BURST_MINUTES + 60, burst_minutes(chosen, first, rng))
            raised = replay.alerts[before:]
            begin = start + first * 60
            if raised:
                now, alert = raised[0]
                delay = f"delay {(now - begin) / 60:.0f} min"
                words = ", ".join(alert["terms"][:3]) or "none"
                what = (f"; {alert['signal']}; terms {words}"
                        + (f"; theme leads: {'yes' if leads(alert['terms'], reason) else 'no'}"
                           if reason else ""))
            else:
                delay, what = "not detected", ""
            kind = f"'{reason}'" if reason else "negative (no common theme)"
            burst_rows.append((f"{rate:,.0f} texts/h + {size} {kind} tweets in "
                               f"{BURST_MINUTES} min", f"{len(raised)} alert(s), "
                               f"{delay}{what}"))
    print_table("No alert on steady traffic (false alarms)", steady_rows)
    print_table("One alert per burst (detection delay, the theme's words)", burst_rows)


if __name__ == "__main__":
    main()
