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
# One compact pattern (first character from a small class) keeps this fast.
_EMOTICON_RE = re.compile(
    r"(?<![\w:;=])(?:[:;=]['-]?[()\[\]dp/|\\]+|\(+[-']?[:;=]|\)+[-']?:|</?3|\^_?\^|xd+)(?!\w)"
)
_NEGATIVE_MARKS = set("([/|\\")


def _is_negative(token: str) -> bool:
    if token == "</3" or token.startswith(")"):
        return True
    return token[0] in ":;=" and (token.rstrip("'-")[-1:] in _NEGATIVE_MARKS
                                  or token.lstrip(":;='-")[:1] in _NEGATIVE_MARKS)


def _emoticon(match: re.Match[str]) -> str:
    return " emoneg " if _is_negative(match.group(0)) else " emopos "


def _emoticon_words(match: re.Match[str]) -> str:
    # For a pretrained encoder: words it already knows instead of new tokens.
    return " sad face " if _is_negative(match.group(0)) else " happy face "


# Emoji ranges: each emoji is spaced out so it becomes a token of its own.
_EMOJI = re.compile("([\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764])")
_EMOJI_LOWEST = "\u2600"
# Every emoticon above starts with one of these (after lower-casing): a cheap pre-check.
_EMOTICON_START = re.compile(r"[:;=()<^x]")


def normalize(text: object, emoticons_as_words: bool = False) -> str:
    """Return the canonical form of one tweet (lower case, placeholders, signals kept).

    ``emoticons_as_words`` writes emoticons as "happy face" / "sad face" (for a
    pretrained encoder) instead of the ``emopos`` / ``emoneg`` tokens.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    # Each substitution runs only where its pattern can match (the cheap ``in`` tests are
    # exact preconditions), which halves the cost on typical tweets; same output.
    if "&" in text:
        text = html.unescape(text)
    if "://" in text or "www." in text.lower():
        text = _URL.sub(" url ", text)
    if "@" in text:
        text = _MENTION.sub(" user ", text)
    text = text.lower()
    if _EMOTICON_START.search(text):
        text = _EMOTICON_RE.sub(_emoticon_words if emoticons_as_words else _emoticon, text)
    if "#" in text:
        text = _HASHTAG.sub(r"\1", text)
    text = _ELONGATED.sub(r"\1\1", text)
    if "!!" in text or "??" in text or ".." in text:
        text = _REPEAT_PUNCT.sub(r" \1\1 ", text)
    if text and max(text) >= _EMOJI_LOWEST:
        text = _EMOJI.sub(r" \1 ", text)
    return " ".join(text.split())  # = re.sub(r"\s+", " ", text).strip(): same whitespace


def normalize_many(texts: Iterable[object], emoticons_as_words: bool = False) -> list[str]:
    """Normalise a batch of texts."""
    return [normalize(t, emoticons_as_words) for t in texts]


# Word tokens for the TF-IDF baseline: words, kept punctuation signals and single emoji.
TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]{1,2}|[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764]"


def well_formed(text: str) -> str:
    """``text`` with lone UTF-16 surrogates replaced by U+FFFD (other texts unchanged).

    JSON may carry ``"\\ud800"``; such a string cannot be encoded (tokenizers, SQLite,
    CSV), so it is repaired once at the door rather than failing deep inside a model.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
