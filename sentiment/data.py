"""CSV ingestion: detect the format, normalise labels, clean, count what was dropped and why.

Parsing is pure (no MLflow): :func:`parse_csv` either returns a clean two-column frame
(``text``, ``label`` with 1 = positive) with its stats or raises
:class:`InvalidInputError` with a message that says what was found and what was
expected. Only then does :func:`ingest_file` record the dataset, so bad input never
leaves a half-ingested dataset behind.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sentiment.config import Settings, get_settings
from sentiment.errors import InvalidInputError
from sentiment.labels import LabelMapper, mapper_for

ROLES = {"training": "jdd entrainement", "validation": "jdd validation"}
SENTIMENT140_COLUMNS = ["polarity", "id", "date", "query", "user", "text"]
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


def decode(content: bytes) -> tuple[str, str]:
    """Decode as UTF-8, else line by line with a latin-1 fallback (Sentiment140 mixes both)."""
    if b"\x00" in content[:8192]:
        raise InvalidInputError("This is not a CSV file: it holds binary data (NUL bytes). "
                                "Expected a text CSV with a text column and a label column.")
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    lines, mixed = [], False
    for raw in content.split(b"\n"):
        try:
            lines.append(raw.decode("utf-8"))
            mixed = mixed or any(b > 127 for b in raw)
        except UnicodeDecodeError:
            lines.append(raw.decode("latin-1"))
    return "\n".join(lines), "utf-8/latin-1 mix" if mixed else "latin-1"


def _read_table(text: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, header=None, keep_default_na=False,
                            on_bad_lines="skip", engine="python")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InvalidInputError(f"Could not read the file as CSV ({exc}).") from exc
    if table.empty:
        raise InvalidInputError("The file is empty: expected a CSV with a header line "
                                "(for example text,label) and at least one row.")
    return table


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in columns), None)


def _locate(table: pd.DataFrame) -> tuple[pd.Series, pd.Series, str, str]:
    """Find the text and label columns and name the detected format."""
    header = [str(c).strip().lower() for c in table.iloc[0]]
    if table.shape[1] == 6 and header[0] in {"0", "2", "4"}:
        return table[5], table[0], "polarity", "Sentiment140 (no header)"
    text_col, label_col = _pick(header, TEXT_COLUMNS), _pick(header, LABEL_COLUMNS)
    if text_col is None or label_col is None:
        raise InvalidInputError(
            f"Could not find a text column and a label column; found columns {header[:12]}. "
            "Expected a header with a text column (text, tweet, review, Avis...) and a label "
            "column (label, sentiment, target, airline_sentiment, Note...).")
    body = table.iloc[1:].reset_index(drop=True)
    body.columns = header
    if {"ids", "flag"} <= set(header):
        fmt = "Sentiment140 (with header)"
    elif label_col == "airline_sentiment":
        fmt = "Kaggle airline tweets"
    elif {"sentiment", "confidence"} <= set(header):
        fmt = "CrowdFlower corpus"
    elif label_col in {"note", "rating", "stars", "score"}:
        fmt = "reviews with star rating"
    else:
        fmt = f"{text_col},{label_col}"
    return body[text_col], body[label_col], label_col, fmt


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
    texts, raw_labels, label_col, fmt = _locate(_read_table(text))
    rows_in = len(texts)
    if rows_in == 0:
        raise InvalidInputError("The file has a header but no rows.")
    dropped: dict[str, int] = {}
    labels = _map_labels(raw_labels.astype(str).str.strip(), mapper_for(label_col, raw_labels),
                         dropped)
    clean = texts.astype(str).str.replace(r"[\r\n\t\x0b\x0c]+", " ", regex=True).str.strip()
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
             "positive": positives, "negative": len(frame) - positives,
             "positive_rate": round(positives / len(frame), 4)}
    return ParsedDataset(frame, fmt, encoding, stats, {k: v for k, v in dropped.items() if v})


def _check_usable(frame: pd.DataFrame, rows_in: int, dropped: dict[str, int]) -> None:
    if frame.empty:
        reasons = ", ".join(f"{v} {k}" for k, v in dropped.items() if v) or "none"
        raise InvalidInputError(f"No usable rows: all {rows_in} rows were dropped ({reasons}).")
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


def ingest_file(path: str | os.PathLike[str], role: str,
                settings: Settings | None = None) -> dict[str, object]:
    """Parse an uploaded CSV and record it as a dataset run; return its summary."""
    settings = settings or get_settings()
    if role not in ROLES:
        raise InvalidInputError(f"Unknown dataset role {role!r}; expected one of {list(ROLES)}.")
    parsed = parse_csv(read_upload(path, settings), settings)
    return record(parsed, role, Path(path).name, settings)


def record(parsed: ParsedDataset, role: str, source_name: str,
           settings: Settings | None = None, extra_tags: dict[str, str] | None = None
           ) -> dict[str, object]:
    """Record a parsed dataset in MLflow (experiment ``datasets``) and summarise it."""
    from sentiment import registry

    settings = settings or get_settings()
    dataset_id = registry.log_dataset(parsed, ROLES[role], source_name, settings, extra_tags)
    return {"dataset_id": dataset_id, "role": role, "dataset_type": ROLES[role],
            "source": source_name, "format": parsed.format, "encoding": parsed.encoding,
            **parsed.stats, "dropped": parsed.dropped,
            "preview": parsed.frame.head(5).to_dict(orient="records")}
