"""VADER's judgement as a second opinion blended into a model's probability.

A model fine-tuned on the default corpus learns where that corpus draws the line between
positive and negative: airline tweets are positive when they thank or praise, so mildly
positive texts from anywhere else (looking forward to a concert, a new phone) come out
negative. VADER (Hutto & Gilbert, 2014), a lexicon of about 7,500 words and emoticons
rated by people plus rules for negation, intensifiers, capitals and punctuation, knows
nothing of airlines and is right on much of what the corpus never showed.

With ``lexicon_weight`` w > 0 the served probability is ``(1 - w) * p_model + w * p_vader``
where ``p_vader = (compound + 1) / 2``. VADER reads the raw text (capitals and "!!!" are
signal to it). A confident model keeps its answer; where the model hesitates, VADER
decides. The weight is a fixed prior (default 0.5, an equal vote), not fitted to any
evaluation set. The lexicon files are copied into the saved model, so a served version
always scores with the lexicon it was validated with.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.errors import SentimentError
from sentiment.models import HyperParam

LEXICON_PACKAGE = "vaderSentiment"
LEXICON_FILES = ("vader_lexicon.txt", "emoji_utf8_lexicon.txt")

LEXICON_WEIGHT = HyperParam(
    "lexicon_weight", 0.5, "Share of VADER's probability in the served answer (0: the model "
    "alone). VADER is a human-rated lexicon with rules; it keeps the model right on "
    "mildly positive or negative texts unlike the training data", 0.0, 1.0)


def lexicon_path() -> Path:
    """The word lexicon file inside the installed package (located without importing it)."""
    spec = importlib.util.find_spec(LEXICON_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SentimentError("The sentiment lexicon needs the 'vaderSentiment' package: "
                             "pip install -r requirements.txt")
    path = Path(next(iter(spec.submodule_search_locations))) / LEXICON_FILES[0]
    if not path.is_file():
        raise SentimentError(f"The VADER lexicon file is missing ({path}).")
    return path


def _analyzer_class() -> type:
    """VADER's analyzer, with one exact shortcut: ``polarity_scores`` first rewrites each
    emoji as its description in a Python loop over every character, which on a text
    without emoji returns the text itself (stripped). Here that case skips the loop (a
    C-level set test), and the rest is VADER's own code, unchanged; tests check equal
    scores on every tweet of the shared files."""
    from vaderSentiment import vaderSentiment as vs

    class Analyzer(vs.SentimentIntensityAnalyzer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The loop tests one character at a time: only one-character keys can match.
            self.emoji_chars = frozenset(k for k in self.emojis if len(k) == 1)

        def polarity_scores(self, text: str) -> dict[str, float]:
            if not self.emoji_chars.isdisjoint(text):
                return super().polarity_scores(text)
            # From here on, VADER 3.3.2's polarity_scores (MIT licence), verbatim.
            text = text.strip()
            sentitext = vs.SentiText(text)
            sentiments: list[float] = []
            words_and_emoticons = sentitext.words_and_emoticons
            for i, item in enumerate(words_and_emoticons):
                valence = 0
                if item.lower() in vs.BOOSTER_DICT:
                    sentiments.append(valence)
                    continue
                if (i < len(words_and_emoticons) - 1 and item.lower() == "kind" and
                        words_and_emoticons[i + 1].lower() == "of"):
                    sentiments.append(valence)
                    continue
                sentiments = self.sentiment_valence(valence, sentitext, item, i, sentiments)
            sentiments = self._but_check(words_and_emoticons, sentiments)
            return self.score_valence(sentiments, text)

    return Analyzer


class VaderOpinion:
    """VADER's compound score of raw texts as a probability, and its ``weight`` in a blend."""

    def __init__(self, directory: Path | None = None, weight: float = 0.5) -> None:
        source = directory if directory is not None else lexicon_path().parent
        missing = [name for name in LEXICON_FILES if not (source / name).is_file()]
        if missing:
            raise SentimentError(f"VADER lexicon files {missing} are missing in {source}.")
        # Absolute paths: the analyzer joins them to its own folder, which keeps them as given.
        self._analyzer = _analyzer_class()(
            lexicon_file=str((source / LEXICON_FILES[0]).resolve()),
            emoji_lexicon=str((source / LEXICON_FILES[1]).resolve()))
        self.source, self.weight = source, weight

    def proba(self, texts: list[str]) -> np.ndarray:
        """(compound + 1) / 2 per text: 0.5 when VADER finds no sentiment at all."""
        scores = [self._analyzer.polarity_scores(t if isinstance(t, str) else str(t))
                  for t in texts]
        return np.array([(s["compound"] + 1.0) / 2.0 for s in scores], dtype=np.float32)

    def save(self, directory: Path) -> None:
        """Copy the lexicon files next to the model's own files."""
        for name in LEXICON_FILES:
            shutil.copyfile(self.source / name, directory / name)


def opinion_for(params: dict[str, Any], directory: Path | None) -> VaderOpinion | None:
    """The VADER scorer a model with these hyperparameters needs (None when weight is 0).

    Models saved before the blend existed have no ``lexicon_weight``: they serve alone.
    """
    weight = float(params.get("lexicon_weight", 0.0))
    return VaderOpinion(directory, weight) if weight > 0 else None


def blend(model_proba: np.ndarray, texts: list[str],
          opinion: VaderOpinion | None) -> np.ndarray:
    """``(1 - w) * model + w * VADER`` with the opinion's weight w, or the model alone."""
    model_proba = np.asarray(model_proba, dtype=np.float32).reshape(-1)
    if opinion is None or opinion.weight <= 0 or not len(texts):
        return model_proba
    w = opinion.weight
    return ((1.0 - w) * model_proba + w * opinion.proba(texts)).astype(np.float32)


CONCURRENT_FROM = 256  # rows: below this a thread costs more than it saves


def blend_while(model_proba: Callable[[], np.ndarray], texts: list[str],
                opinion: VaderOpinion | None) -> np.ndarray:
    """:func:`blend` of ``model_proba()``, with VADER scoring large batches in a thread
    meanwhile: VADER is Python and the ONNX Runtime model native code that releases the
    GIL, so the two overlap on the cores instead of adding up."""
    if opinion is None or opinion.weight <= 0 or len(texts) < CONCURRENT_FROM:
        return blend(model_proba(), texts, opinion)
    with ThreadPoolExecutor(1) as pool:
        vader = pool.submit(opinion.proba, texts)
        proba = np.asarray(model_proba(), dtype=np.float32).reshape(-1)
        w = opinion.weight
        return ((1.0 - w) * proba + w * vader.result()).astype(np.float32)
