"""Tweet normalisation applied identically at training and at serving time.

The logged model bundles this module (``code_paths``) and records
``PREPROCESS_VERSION``, so a served model always applies what it was trained with.
URLs and @mentions become placeholder tokens, HTML entities are decoded, elongated
words are shortened, and emoticons and emoji are kept as signal.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

PREPROCESS_VERSION = 1

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_ELONGATED = re.compile(r"(\w)\1{2,}")
_REPEAT_PUNCT = re.compile(r"([!?.])\1{1,}")
_SPACES = re.compile(r"\s+")

# Emoticons carry the sentiment that Sentiment140 stripped from its texts; when present
# they are the strongest signal, so each becomes a word token that vectorisers keep.
_EMOTICONS = {
    " emopos ": [":)", ":-)", ": )", ":d", ":-d", "=)", ";)", ";-)", ";d", ":p", ":-p",
                 "(:", "<3", "^^", "^_^", ":]", "=]", "xd"],
    " emoneg ": [":(", ":-(", ": (", ":'(", ":/", ":-/", ":|", "=(", "):", ":[", "</3", "d:"],
}
_EMOTICON_RE = re.compile(
    "|".join(
        r"(?<!\w)" + re.escape(e) + r"(?!\w)"
        for e in sorted((e for es in _EMOTICONS.values() for e in es), key=len, reverse=True)
    )
)
_EMOTICON_TOKEN = {e: tok for tok, es in _EMOTICONS.items() for e in es}

# Emoji ranges: each emoji is spaced out so it becomes a token of its own.
_EMOJI = re.compile("([\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764])")


def _emoticon(match: re.Match[str]) -> str:
    return _EMOTICON_TOKEN.get(match.group(0), " ")


def normalize(text: object) -> str:
    """Return the canonical form of one tweet (lower case, placeholders, signals kept)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = html.unescape(text)
    text = _URL.sub(" url ", text)
    text = _MENTION.sub(" user ", text)
    text = text.lower()
    text = _EMOTICON_RE.sub(_emoticon, text)
    text = _HASHTAG.sub(r"\1", text)
    text = _ELONGATED.sub(r"\1\1", text)
    text = _REPEAT_PUNCT.sub(r" \1\1 ", text)
    text = _EMOJI.sub(r" \1 ", text)
    return _SPACES.sub(" ", text).strip()


def normalize_many(texts: Iterable[object]) -> list[str]:
    """Normalise a batch of texts."""
    return [normalize(t) for t in texts]


# Word tokens for the TF-IDF baseline: words, kept punctuation signals and single emoji.
TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]{1,2}|[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764]"
