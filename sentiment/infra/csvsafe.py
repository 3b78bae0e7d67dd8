"""Formula-safe CSV files, reversible so that written datasets read back unchanged.

A spreadsheet runs a cell that starts with ``= + - @`` as a formula, and Excel or
LibreOffice skip leading blanks and control characters first (``"\\r=1+1"`` is a formula
too). A cell whose first visible character starts a formula, or that starts with a
single quote, gets one more single quote in front, so :func:`unescape_cell` can undo
exactly what :func:`escape_cell` did. :func:`write_csv` also quotes every cell, so a
carriage return inside a text can never end a row early.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pandas as pd

_FORMULA = ("=", "+", "-", "@")
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}  # controls, format marks, every kind of space


def _first_visible(value: str) -> str:
    for char in value:
        if unicodedata.category(char) not in _INVISIBLE:
            return char
    return ""


def needs_guard(value: str) -> bool:
    """Whether a spreadsheet could read this cell as a formula (or it starts with a quote)."""
    return value.startswith("'") or _first_visible(value) in _FORMULA


def escape_cell(value: object) -> object:
    """Neutralise one cell for spreadsheets; non-strings pass through."""
    if isinstance(value, str) and value and needs_guard(value):
        return "'" + value
    return value


def unescape_cell(value: object) -> object:
    """Undo :func:`escape_cell`."""
    if isinstance(value, str) and value.startswith("'") and needs_guard(value[1:]):
        return value[1:]
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` with every string cell escaped (column names too)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(escape_cell)
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def unescape_series(series: pd.Series) -> pd.Series:
    """Undo :func:`escape_frame` on one column."""
    return series.map(unescape_cell)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The one way this service writes a CSV: escaped cells, every cell quoted."""
    escape_frame(frame).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    return path
