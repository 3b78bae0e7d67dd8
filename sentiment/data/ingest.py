"""CSV ingestion: detect the format, normalise labels, clean, count what was dropped and why.

Parsing is pure (no MLflow): :func:`parse_csv` either returns a clean two-column frame
(``text``, ``label`` with 1 = positive) with its stats or raises
:class:`InvalidInputError` with a message that says what was found and what was
expected. Only then does :func:`ingest_file` record the dataset, so bad input never
leaves a half-ingested dataset behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sentiment import registry
from sentiment.config import Settings, get_settings
from sentiment.data.csvread import REPAIRED, Records, align, decode, read_records
from sentiment.data.labels import LabelMapper, mapper_for
from sentiment.data.textcheck import visible
from sentiment.errors import InvalidInputError
from sentiment.infra.csvsafe import unescape_series
from sentiment.vocabulary import ROLES

TEXT_COLUMNS = ("text", "tweet", "content", "review", "avis", "texte", "commentaire",
                "comment", "message", "sentence")
LABEL_COLUMNS = ("label", "airline_sentiment", "sentiment", "target", "polarity", "note",
                 "rating", "stars", "score", "class", "polarité", "étiquette", "etiquette")
MAX_UNKNOWN_SHARE = 0.01  # a few stray labels are dropped; more means a wrong file


@dataclass
class ParsedDataset:
    """A cleaned dataset ready to record: ``frame`` has ``text`` and ``label`` (0/1)."""

    frame: pd.DataFrame
    format: str
    encoding: str
    stats: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)  # first lines of each case


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in columns), None)


def text_column(columns: Sequence[str], wanted: str | None = None) -> str | None:
    """The one rule for which column holds the texts, for datasets, batch files and
    ``admin score``: ``wanted`` when given (None if absent), else the first name of
    :data:`TEXT_COLUMNS` present, case-insensitively; the column's own spelling, or None."""
    if wanted:
        return wanted if wanted in columns else None
    lowered = {str(c).strip().lower(): c for c in reversed(list(columns))}
    found = next((n for n in TEXT_COLUMNS if n in lowered), None)
    return None if found is None else lowered[found]


def _format(header: list[str], text_col: str, label_col: str) -> str:
    if {"ids", "flag"} <= set(header):
        return "Sentiment140 (with header)"
    if label_col == "airline_sentiment":
        return "Kaggle airline tweets"
    if {"sentiment", "confidence"} <= set(header):
        return "CrowdFlower corpus"
    if label_col in {"note", "rating", "stars", "score"}:
        return "reviews with star rating"
    return f"{text_col},{label_col}"


@dataclass
class _Located:
    texts: pd.Series
    labels: pd.Series
    label_col: str
    format: str
    records: Records


def _locate(text: str) -> _Located:
    """Find the text and label columns, name the format, and align every record."""
    records = read_records(text)
    while records and not any(cell.strip() for cell in records[0][1]):
        records = records[1:]  # blank lines before the header
    if not records:
        raise InvalidInputError("The file is empty: expected a CSV with a header line "
                                "(for example text,label) and at least one row.")
    header = [str(c).strip().lower() for c in records[0][1]]
    if len(header) == 6 and header[0] in {"0", "2", "4"}:
        rows = align(records, 5, first_data=0)
        text_at, label_at, label_col, fmt = 5, 0, "polarity", "Sentiment140 (no header)"
    else:
        text_col, label_col = text_column(header), _pick(header, LABEL_COLUMNS)
        if text_col is None or label_col is None:
            raise InvalidInputError(
                f"Could not find a text column and a label column; found columns "
                f"{header[:12]}. Expected a header with a text column (text, tweet, review, "
                "Avis...) and a label column (label, sentiment, target, airline_sentiment, "
                "Note...).")
        text_at, label_at = header.index(text_col), header.index(label_col)
        rows = align(records, text_at)
        fmt = _format(header, text_col, label_col)
    texts = pd.Series([r[text_at] for r in rows.rows], dtype=object)
    labels = pd.Series([r[label_at] for r in rows.rows], dtype=object)
    return _Located(texts, labels, label_col, fmt, rows)


def _map_labels(raw: pd.Series, mapper: LabelMapper, dropped: dict[str, int]) -> pd.Series:
    labels = raw.map(mapper.map)
    unknown = labels.isna()
    if unknown.mean() > MAX_UNKNOWN_SHARE or unknown.all():
        examples = sorted(set(raw[unknown].astype(str).str.slice(0, 30)))[:5]
        raise InvalidInputError(
            f"Unknown labels {examples} in {int(unknown.sum())} of {len(raw)} rows. "
            f"Expected {mapper.expected}.")
    dropped["unknown label"] = int(unknown.sum())
    dropped["neutral"] = int((labels == "neutral").sum())
    return labels


def parse_csv(content: bytes, settings: Settings | None = None) -> ParsedDataset:
    """Turn raw CSV bytes into a clean binary dataset, or raise InvalidInputError."""
    settings = settings or get_settings()
    if len(content) > settings.max_upload_bytes:
        raise InvalidInputError(f"The file is {len(content) / 1e6:.1f} MB; the limit is "
                                f"{settings.max_upload_mb:g} MB.")
    if not content.strip():
        raise InvalidInputError("The file is empty: expected a CSV with a text column and a "
                                "label column.")
    text, encoding = decode(content)
    found = _locate(text)
    texts, raw_labels, label_col = found.texts, found.labels, found.label_col
    dropped = {k: v for k, v in found.records.counts.items() if k != REPAIRED}
    rows_in = len(texts) + sum(dropped.values())
    if len(texts) == 0:
        detail = f" ({_reasons(dropped)})" if dropped else ""
        raise InvalidInputError(f"The file has a header but no rows{detail}.")
    labels = _map_labels(raw_labels.astype(str).str.strip(), mapper_for(label_col, raw_labels),
                         dropped)
    clean = unescape_series(texts.astype(str)).str.replace(
        r"[\r\n\t\x0b\x0c]+", " ", regex=True).str.strip()
    frame = pd.DataFrame({"text": clean, "label": labels})
    frame = frame[frame["label"].isin([0, 1])]
    empty = frame["text"] == ""
    dropped["empty text"] = int(empty.sum())
    frame = frame[~empty]
    too_long = frame["text"].str.len() > settings.max_text_chars
    dropped["text too long"] = int(too_long.sum())
    frame = frame[~too_long]
    duplicated = frame["text"].duplicated()
    dropped["duplicate"] = int(duplicated.sum())
    frame = frame[~duplicated].reset_index(drop=True)
    frame["label"] = frame["label"].astype(int)
    _check_usable(frame, rows_in, dropped)
    positives = int(frame["label"].sum())
    stats = {"rows_in": rows_in, "rows_kept": len(frame), "rows_dropped": rows_in - len(frame),
             "rows_repaired": found.records.counts.get(REPAIRED, 0),
             "positive": positives, "negative": len(frame) - positives,
             "positive_rate": round(positives / len(frame), 4)}
    return ParsedDataset(frame, found.format, encoding, stats,
                         {k: v for k, v in dropped.items() if v}, found.records.lines)


def _reasons(dropped: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in dropped.items() if v) or "none"


def _check_usable(frame: pd.DataFrame, rows_in: int, dropped: dict[str, int]) -> None:
    if frame.empty:
        raise InvalidInputError(f"No usable rows: all {rows_in} rows were dropped "
                                f"({_reasons(dropped)}).")
    classes = set(frame["label"].unique())
    if len(classes) < 2:
        only = "positive" if 1 in classes else "negative"
        raise InvalidInputError(f"Only one class after cleaning: all {len(frame)} kept rows "
                                f"are {only}. Expected both positive and negative examples.")


def read_upload(path: str | os.PathLike[str], settings: Settings | None = None) -> bytes:
    """Read an uploaded file, refusing it before reading when it is over the size limit."""
    settings = settings or get_settings()
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"No file at {path.name!r}.")
    size = path.stat().st_size
    if size > settings.max_upload_bytes:
        raise InvalidInputError(f"The file is {size / 1e6:.1f} MB; the limit is "
                                f"{settings.max_upload_mb:g} MB.")
    return path.read_bytes()


def dataset_name(name: str | None, source_name: str) -> str:
    """The name a dataset is shown by: the one given, else the file name without .csv."""
    cleaned = visible(name or "")[:120]
    return cleaned or visible(Path(source_name).stem)[:120] or "dataset"


def ingest_file(path: str | os.PathLike[str], role: str,
                settings: Settings | None = None, name: str | None = None
                ) -> dict[str, object]:
    """Parse an uploaded CSV and record it as a dataset run named ``name`` (default: the
    file name); return its summary."""
    settings = settings or get_settings()
    if role not in ROLES:
        raise InvalidInputError(f"Unknown dataset role {role!r}; expected one of {list(ROLES)}.")
    parsed = parse_csv(read_upload(path, settings), settings)
    source = Path(path).name
    return record(parsed, role, source, settings,
                  {"name": dataset_name(name, source), "origin": "upload"})


def record(parsed: ParsedDataset, role: str, source_name: str,
           settings: Settings | None = None, extra_tags: dict[str, str] | None = None
           ) -> dict[str, object]:
    """Record a parsed dataset in MLflow (experiment ``datasets``) and summarise it."""
    settings = settings or get_settings()
    dataset_id = registry.log_dataset(parsed, ROLES[role], source_name, settings, extra_tags)
    return {"dataset_id": dataset_id, "role": role, "dataset_type": ROLES[role],
            "name": dataset_name((extra_tags or {}).get("name"), source_name),
            "source": source_name, "format": parsed.format, "encoding": parsed.encoding,
            **parsed.stats, "dropped": parsed.dropped, "lines": parsed.lines,
            "preview": parsed.frame.head(5).to_dict(orient="records")}
