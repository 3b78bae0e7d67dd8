"""Label normalisation: every label vocabulary users upload becomes 1, 0 or ``neutral``.

Understands 0/1, Sentiment140's 0/2/4, star ratings 1-5 (4-5 positive, 1-2 negative,
3 neutral) and words in English and French. Unknown values map to ``None`` so the
caller can count them and refuse the file when there are too many.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pandas as pd

WORDS: dict[str, int | str] = {
    "positive": 1, "pos": 1, "positif": 1, "positive.": 1, "good": 1, "bon": 1, "true": 1,
    "yes": 1, "oui": 1, "happy": 1, "joy": 1, "satisfait": 1, "p": 1,
    "negative": 0, "neg": 0, "negatif": 0, "negative.": 0, "bad": 0, "mauvais": 0,
    "false": 0, "no": 0, "non": 0, "angry": 0, "sad": 0, "insatisfait": 0, "n": 0,
    "neutral": "neutral", "neutre": "neutral", "mixed": "neutral", "mixte": "neutral",
    "none": "neutral", "neu": "neutral",
}
STAR_COLUMNS = {"note", "rating", "stars", "score"}


def _fold(value: str) -> str:
    """Lower-case and strip accents (négatif -> negatif)."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


@dataclass(frozen=True)
class LabelMapper:
    """Maps one raw label to 1, 0, ``"neutral"`` or None (unknown)."""

    scheme: str  # "binary", "polarity", "stars" or "words"

    @property
    def expected(self) -> str:
        return {
            "binary": "0/1 (0 = negative, 1 = positive)",
            "polarity": "0/2/4 (0 = negative, 2 = neutral, 4 = positive)",
            "stars": "star ratings 1-5 (4-5 positive, 1-2 negative, 3 neutral)",
            "words": "positive/negative/neutral (or positif/négatif/neutre), 0/1 or 0/4",
        }[self.scheme]

    def map(self, raw: object) -> int | str | None:
        value = _fold(str(raw))
        number = _number(value)
        if number is None:
            return WORDS.get(value)
        if self.scheme == "stars":
            return 1 if number >= 4 else 0 if number <= 2 else "neutral" if number == 3 else None
        if self.scheme == "polarity" or number in (2.0, 4.0):
            return {0.0: 0, 2.0: "neutral", 4.0: 1}.get(number)
        return {0.0: 0, 1.0: 1}.get(number)


def mapper_for(column: str, values: pd.Series) -> LabelMapper:
    """Choose the label scheme from the column name and the values present."""
    numbers = {_number(_fold(str(v))) for v in values.head(5000)}
    numeric = None not in numbers
    if column in STAR_COLUMNS and numeric and numbers - {0.0, 1.0}:
        return LabelMapper("stars")
    if numeric and numbers <= {0.0, 1.0}:
        return LabelMapper("binary")
    if numeric and numbers <= {0.0, 2.0, 4.0}:
        return LabelMapper("polarity")
    return LabelMapper("words")
