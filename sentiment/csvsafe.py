"""Formula-safe CSV cells, reversible so that written datasets read back unchanged.

A spreadsheet runs a cell that starts with ``= + - @`` (or a tab / carriage return) as
a formula. Every CSV this service writes prefixes such cells with a single quote, and a
cell that already starts with a quote gets one more, so :func:`unescape_cell` can undo
exactly what :func:`escape_cell` did.
"""

from __future__ import annotations

import pandas as pd

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value: object) -> object:
    """Neutralise one cell for spreadsheets; non-strings pass through."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def unescape_cell(value: object) -> object:
    """Undo :func:`escape_cell`."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_DANGEROUS):
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
