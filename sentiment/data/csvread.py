"""Reading uploaded CSV bytes so that every line of the file is accounted for.

:func:`decode` turns bytes into text (UTF-8, UTF-16 with or without a BOM, or a
per-line latin-1 fallback for Sentiment140's mix). :func:`read_records` splits the text
into records with the line each one starts on, and names the line of a quote that is
never closed. :func:`align` then makes every record as wide as the header: a record
with extra fields (unquoted commas in the text) is repaired by joining them back into
the text column when that is the only free-text column, a record with missing fields is
dropped, and each case is counted so that the summary adds up to the rows of the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sentiment.errors import InvalidInputError

REPAIRED = "repaired (unquoted commas in the text)"


@dataclass
class Records:
    """Records of one CSV file: ``rows`` (aligned to the header), what was repaired or
    dropped, and the first line numbers of each case (for the user to look at)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)

    def note(self, reason: str, line: int) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if len(self.lines.setdefault(reason, [])) < 5:
            self.lines[reason].append(line)


def _utf16(content: bytes) -> str | None:
    """UTF-16 text (BOM, or the NUL pattern of ASCII in UTF-16 without one), else None."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
    else:
        head = content[:4096]
        if len(head) < 4 or len(head) % 2:
            return None
        if head[1::2].count(0) > 0.8 * len(head) / 2:
            codec = "utf-16-le"
        elif head[0::2].count(0) > 0.8 * len(head) / 2:
            codec = "utf-16-be"
        else:
            return None
    try:
        return content.decode(codec).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"The file looks like UTF-16 but does not decode ({exc}).") \
            from exc


def decode(content: bytes) -> tuple[str, str]:
    """Decode as UTF-16 (when marked or patterned so), UTF-8, else line by line with a
    latin-1 fallback (Sentiment140 mixes both)."""
    wide = _utf16(content)
    if wide is not None:
        return wide, "utf-16"
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


def read_records(text: str, strict: bool = True) -> list[tuple[int, list[str]]]:
    """Every record with the line it starts on. A quote never closed is an error naming
    its line; other stray quotes are read leniently (as spreadsheets do)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=strict)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            records.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise InvalidInputError(
                f"Line {start} opens a quote (\") that is never closed, so the rest of the "
                "file would be read as one text. Close the quote or remove it.") from exc
        if strict:
            return read_records(text, strict=False)
        raise InvalidInputError(f"Line {start} could not be read as CSV ({exc}).") from exc
    return records


def align(records: list[tuple[int, list[str]]], text_index: int | None,
          first_data: int = 1) -> Records:
    """Rows as wide as the header (``records[first_data - 1]``, or the first record when
    the file has none), repairing or dropping the others and counting each case."""
    width = len(records[0][1])
    out = Records(header=records[0][1] if first_data else [])
    for line, row in records[first_data:]:
        if not row or not any(cell.strip() for cell in row):
            out.note("blank line", line)
        elif len(row) == width:
            out.rows.append(row)
        elif len(row) > width and text_index is not None:
            after = width - text_index - 1
            joined = ",".join(row[text_index:len(row) - after])
            out.rows.append(row[:text_index] + [joined] + row[len(row) - after:])
            out.note(REPAIRED, line)
        elif len(row) > width:
            out.note("extra fields", line)
        else:
            out.note("missing fields", line)
    return out
