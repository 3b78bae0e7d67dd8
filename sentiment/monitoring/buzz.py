"""Bad-buzz early warning: a surge of negative texts on the live stream, and what it is about.

Every few seconds to a minute (``SENTIMENT_BUZZ_CHECK_SECONDS``), each replica reads the
shared prediction log (every channel: UI, batch files, API) and compares the last
``SENTIMENT_BUZZ_WINDOW_SECONDS`` (the window) with the ``SENTIMENT_BUZZ_BASELINE_SECONDS``
before it (the baseline). Two exact tests look for a buzz, each at half of
``SENTIMENT_BUZZ_ALPHA`` (Bonferroni), once the window holds ``SENTIMENT_BUZZ_MIN_TEXTS``
negative texts:

- **share**: is the window's negative share higher than the baseline's? Fisher's exact test
  (one-sided) on the 2x2 table window/baseline x negative/positive, plus a rise of at least
  :data:`MIN_SHARE_RISE`. It conditions on the volumes, so a busier hour (a daily cycle, a
  campaign) that is not angrier raises nothing, and being exact it keeps its false-alarm
  rate at 20 texts an hour where a normal approximation would not.
- **theme**: do the window's negative texts carry one word or phrase far more often than
  the baseline's negatives do? For each term, the exact conditional binomial test of its
  count (its share of the negative texts is the same in both periods under the null), with
  a Bonferroni correction over every term of the window. A complaint spreading about one
  cancelled flight is found this way long before it moves the overall share at 2,000 texts
  an hour.

A finding is recorded once in the shared store (``claim_buzz``: atomic, so replicas that
see the same buzz raise one alert) and then stays quiet for
``SENTIMENT_BUZZ_COOLDOWN_SECONDS``; it is delivered like the error-burst alerts (e-mail,
webhook with ``"event": "bad_buzz"``, the Monitor tab). The terms people are angry about
are ranked by that same test, stop words, links and @handles aside; three of the most
negative texts carrying the leading term are the examples. ``bench/buzz.py`` measures
false alarms per day and detection delays on a replayed stream of real tweets.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.stats import binom, hypergeom
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from sentiment.config import Settings
from sentiment.monitoring.store import MonitoringStore

log = logging.getLogger(__name__)

MIN_SHARE_RISE = 0.10  # the share test needs a rise of 10 points, not only significance
MIN_LIFT = 2.0  # a theme's term is at least twice as frequent among negatives as usual
LATE_S = 300.0  # rows committed late (another replica's clock) are still picked up
MAX_BASELINE_TEXTS = 200_000  # negative texts kept for the term counts (newest first)
TERMS_SHOWN = 5
EXAMPLES = 3

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_TOKEN = re.compile(r"[a-z0-9\u00e0-\u00ff]+(?:['’][a-z]+)?")
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | {
    # tweet noise and contractions
    "rt", "amp", "im", "i'm", "it's", "don't", "dont", "can't", "cant", "didn't", "won't",
    "u", "ur", "ya", "lol", "just", "got", "get", "like", "today", "day", "really", "oh",
    "thanks", "thank", "please", "know", "want", "going", "gonna", "time", "need", "good",
    "great", "new", "make", "way", "still", "yes", "yeah", "ok", "okay", "now", "that's",
    "you're", "i've", "i'll", "isn't", "doesn't", "wasn't", "haven't", "there's",
    # French (the app speaks both)
    "le", "la", "les", "de", "des", "du", "et", "un", "une", "est", "pas", "je", "tu", "il",
    "elle", "nous", "vous", "ils", "que", "qui", "pour", "dans", "sur", "avec", "mon", "ma",
    "mes", "ce", "cette", "en", "au", "aux", "ne", "se", "sa", "son", "ses", "ou", "mais",
}


def _singular(word: str) -> str:
    """A plain English plural folded into its singular (``bags`` counts with ``bag``, so
    one complaint's words are not split in two); nothing else is stemmed."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s")):
        return word[:-1]
    return word


def terms(text: str) -> frozenset[str]:
    """The words and two-word phrases of ``text`` that can say what it is about: lower
    case, links and @handles removed (a hashtag keeps its word), stop words and
    one-letter or short number tokens aside, plurals folded (:func:`_singular`); a phrase
    is two such words in a row once stop words are out (``lost my bags``: ``lost bag``)."""
    cleaned = _HANDLE.sub(" ", _URL.sub(" ", text.lower()))
    tokens = _TOKEN.findall(cleaned.replace("’", "'"))
    kept = [_singular(tok) for tok in tokens
            if not (tok in STOP_WORDS or len(tok) < 2 or (tok.isdigit() and len(tok) < 3))]
    words = set(kept)
    pairs = {f"{a} {b}" for a, b in zip(kept, kept[1:], strict=False) if a != b}
    return frozenset(words | pairs)


@dataclass(frozen=True)
class Entry:
    """One negative prediction as the detector keeps it."""

    ts: float
    text: str
    proba_positive: float
    version: str
    terms: frozenset[str]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 7200 else f"{seconds / 3600:g} h"


def sentence(finding: dict[str, Any]) -> str:
    """What happened, in one sentence: the negative share now and usually, how many texts,
    since when, and what people are angry about."""
    about = ", ".join(f"“{term}”" for term in finding["terms"][:3])
    return (f"Bad buzz: {finding['negative_share']:.0%} of the {finding['texts']} texts of the "
            f"last {_minutes(finding['window_s'])} are negative (usually "
            f"{finding['baseline_share']:.0%}), {finding['negative_texts']} negative texts "
            f"since {_when(finding['since_ts'])}"
            + (f"; people are angry about {about}." if about else "."))


class BuzzDetector:
    """The detector of one process over one store; :meth:`check` is what the watcher runs.

    The negative texts of the baseline and the window are kept in memory between checks
    (with their terms), and each check reads only the rows logged since the previous one
    (and a few minutes before, for rows another replica committed late).
    """

    def __init__(self, store: MonitoringStore, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self._entries: dict[int, Entry] = {}
        self._fetched_until: float | None = None
        self._lock = threading.Lock()

    # ---- reading the log --------------------------------------------------------------

    def _counts(self, start: float, split: float, now: float) -> tuple[int, int, int, int]:
        row = self.store.query(
            "SELECT SUM(CASE WHEN ts >= :split THEN 1 ELSE 0 END) AS n_w,"
            " SUM(CASE WHEN ts >= :split AND label = 'negative' THEN 1 ELSE 0 END) AS k_w,"
            " SUM(CASE WHEN ts < :split THEN 1 ELSE 0 END) AS n_b,"
            " SUM(CASE WHEN ts < :split AND label = 'negative' THEN 1 ELSE 0 END) AS k_b"
            " FROM predictions WHERE ts >= :start AND ts < :now",
            {"start": start, "split": split, "now": now}).iloc[0]
        return tuple(0 if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)
                     for v in (row["n_w"], row["k_w"], row["n_b"], row["k_b"]))  # type: ignore[return-value]

    def _refresh(self, start: float, now: float) -> None:
        """Bring the kept negative texts up to ``now`` and drop those before ``start``."""
        since = start if self._fetched_until is None else max(start,
                                                              self._fetched_until - LATE_S)
        frame = self.store.query(
            "SELECT id, ts, text, proba_positive, model_version FROM predictions"
            " WHERE label = 'negative' AND ts >= :since AND ts < :now",
            {"since": since, "now": now})
        for pid, ts, text, proba, version in frame.itertuples(index=False):
            if int(pid) not in self._entries:
                self._entries[int(pid)] = Entry(float(ts), str(text), float(proba),
                                                str(version), terms(str(text)))
        self._entries = {pid: e for pid, e in self._entries.items() if e.ts >= start}
        if len(self._entries) > MAX_BASELINE_TEXTS:
            newest = sorted(self._entries, key=lambda pid: self._entries[pid].ts)
            self._entries = {pid: self._entries[pid] for pid in newest[-MAX_BASELINE_TEXTS:]}
        self._fetched_until = now if self._fetched_until is None else max(now,
                                                                          self._fetched_until)

    # ---- the tests ----------------------------------------------------------------------

    def evaluate(self, now: float | None = None) -> dict[str, Any] | None:
        """The buzz in the window ending ``now``, or None (nothing is recorded)."""
        s = self.settings
        if not s.buzz_min_texts:
            return None
        now = time.time() if now is None else now
        split = now - s.buzz_window_seconds
        start = split - s.buzz_baseline_seconds
        with self._lock:
            n_w, k_w, n_b, k_b = self._counts(start, split, now)
            if k_w < s.buzz_min_texts or n_b < s.buzz_min_texts:
                return None  # too few texts now, or no usual share to compare with yet
            self._refresh(start, now)
            recent = [e for e in self._entries.values() if split <= e.ts < now]
            base = [e for e in self._entries.values() if e.ts < split]
        share_w, share_b = k_w / n_w, k_b / n_b
        p_share = float(hypergeom.sf(k_w - 1, n_w + n_b, k_w + k_b, n_w))
        half = s.buzz_alpha / 2
        share_alarm = p_share < half and share_w >= share_b + MIN_SHARE_RISE
        ranked = self._rank_terms(recent, base)
        theme = [t for t in ranked if t["p_adjusted"] < half and t["lift"] >= MIN_LIFT
                 and t["count"] >= max(3, s.buzz_min_texts // 2)]
        if not (share_alarm or theme):
            return None
        shown = _absorb([t for t in ranked if t["lift"] > 1.0 and t["p_adjusted"] < 0.05])
        lead = shown[0]["term"] if shown else None
        carriers = [e for e in recent if lead is None or lead in e.terms]
        examples: list[str] = []
        for entry in sorted(carriers, key=lambda e: (e.proba_positive, -e.ts)):
            if entry.text not in examples:
                examples.append(entry.text)
            if len(examples) == EXAMPLES:
                break
        finding = {
            "event": "bad_buzz", "signal": "theme" if theme else "share",
            "negative_share": round(share_w, 4), "baseline_share": round(share_b, 4),
            "texts": n_w, "negative_texts": k_w, "baseline_texts": n_b,
            "since_ts": min(e.ts for e in carriers) if carriers else split,
            "window_s": s.buzz_window_seconds, "baseline_s": s.buzz_baseline_seconds,
            "terms": [t["term"] for t in shown[:TERMS_SHOWN]],
            "term_counts": {t["term"]: t["count"] for t in shown[:TERMS_SHOWN]},
            "examples": examples, "p_share": p_share,
            "p_theme": min((t["p_adjusted"] for t in theme), default=None),
            "model_versions": sorted({e.version for e in recent}),
        }
        finding["since"] = _when(finding["since_ts"])
        finding["summary"] = sentence(finding)
        return finding

    @staticmethod
    def _rank_terms(recent: list[Entry], base: list[Entry]) -> list[dict[str, Any]]:
        """Every term of the window's negatives with its count, its baseline count, its
        lift and its Bonferroni-adjusted p-value, most telling first."""
        if not recent:
            return []
        counts = Counter(term for entry in recent for term in entry.terms)
        tested = len(counts)
        candidates = {term for term, n in counts.items() if n >= 3}
        if not candidates:
            return []
        usual: Counter[str] = Counter()
        for entry in base:
            usual.update(candidates & entry.terms)
        names = sorted(candidates)
        a = np.array([counts[n] for n in names])
        c = np.array([usual[n] for n in names])
        share = len(recent) / (len(recent) + len(base))
        p = binom.sf(a - 1, a + c, share) * tested
        lift = (a / len(recent)) / ((c + 1) / (len(base) + 1))
        rows = [{"term": name, "count": int(ai), "baseline_count": int(ci),
                 "lift": round(float(li), 2), "p_adjusted": float(min(pi, 1.0))}
                for name, ai, ci, li, pi in zip(names, a, c, lift, p, strict=True)]
        rows.sort(key=lambda r: (r["p_adjusted"], -r["count"], r["term"]))
        return rows

    def check(self, now: float | None = None, background: bool = True
              ) -> dict[str, Any] | None:
        """Evaluate, and raise the alert when there is a buzz and no buzz alert within the
        cool-down (on any replica); return the alert raised, or None."""
        from sentiment.monitoring.alerts import deliver

        now = time.time() if now is None else now
        finding = self.evaluate(now)
        if finding is None:
            return None
        alert = self.store.claim_buzz(finding, self.settings.buzz_cooldown_seconds, now)
        if alert is None:
            return None
        log.warning("%s", finding["summary"])
        if background:
            threading.Thread(target=deliver, args=(alert, self.store, self.settings),
                             daemon=True, name="buzz-alert").start()
        else:
            deliver(alert, self.store, self.settings)
        return alert


def _absorb(ranked: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop a word that a phrase ranked above it already says (``cancelled`` under
    ``cancelled flight`` when most of its texts are the phrase's)."""
    kept: list[dict[str, Any]] = []
    for row in ranked:
        words = row["term"].split()
        if len(words) == 1 and any(
                words[0] in k["term"].split() and len(k["term"].split()) == 2
                and k["count"] >= 0.7 * row["count"] for k in kept):
            continue
        if len(words) == 2 and any(
                len(k["term"].split()) == 2 and set(k["term"].split()) == set(words)
                for k in kept):
            continue
        kept.append(row)
    return kept


_detectors: dict[str, BuzzDetector] = {}
_detectors_lock = threading.Lock()


def detector(store: MonitoringStore, settings: Settings) -> BuzzDetector:
    """This process's detector of the store at ``SENTIMENT_DATABASE_URL``."""
    with _detectors_lock:
        key = settings.database_url
        if key not in _detectors or _detectors[key].store is not store:
            _detectors[key] = BuzzDetector(store, settings)
        _detectors[key].settings = settings  # the knobs as read now
        return _detectors[key]
