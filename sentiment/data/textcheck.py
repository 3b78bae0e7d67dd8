"""What counts as text: names and texts without invisible characters.

A dataset name is shown in pickers and tables, so control characters (NUL), format
characters (right-to-left overrides, zero-width spaces) and runs of spaces are dropped
from it; a text made of such characters alone is empty, and gets no label.
"""

from __future__ import annotations

import unicodedata

_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}


def visible(text: str) -> str:
    """``text`` without control and format characters, its spaces collapsed."""
    kept = "".join(" " if ch in "\t\n\r" else ch for ch in str(text)
                   if ch in "\t\n\r" or unicodedata.category(ch) not in _INVISIBLE)
    return " ".join(kept.split())


def has_content(text: object) -> bool:
    """Whether ``text`` is a string with at least one visible character."""
    return isinstance(text, str) and any(
        not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE for ch in text)
