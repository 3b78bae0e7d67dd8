"""CSV ingestion: every real format, the small hand-written ones, and bad files refused."""

from pathlib import Path

import pytest

from sentiment import lifecycle, registry
from sentiment.config import get_settings
from sentiment.data.ingest import parse_csv
from sentiment.errors import InvalidInputError
from sentiment.infra.csvsafe import escape_cell, unescape_cell
from tests.conftest import shared_file


def _ids() -> list[str]:
    return [d["dataset_id"] for d in lifecycle.datasets_table()]


@pytest.mark.parametrize(("name", "fmt", "rows_kept"), [
    ("sentiment140_sample_20k.csv", "Sentiment140 (with header)", 19982),
    ("sentiment140_sample_10k_noheader.csv", "Sentiment140 (no header)", 9996),
    ("airline_tweets.csv", "Kaggle airline tweets", 11381),
])
def test_real_files_ingest_as_they_are(name: str, fmt: str, rows_kept: int) -> None:
    summary = lifecycle.ingest(str(shared_file(name)), "training")
    assert summary["format"] == fmt
    assert summary["rows_kept"] == rows_kept
    assert summary["rows_kept"] + summary["rows_dropped"] == summary["rows_in"]
    assert 0.15 < summary["positive_rate"] < 0.6
    assert _ids() == [summary["dataset_id"]]
    frame, info = registry.load_dataset(summary["dataset_id"], get_settings())
    assert len(frame) == rows_kept and set(frame["label"]) == {0, 1}
    assert info["dataset_type"] == "jdd entrainement"


def test_airline_neutral_rows_dropped_and_counted() -> None:
    summary = lifecycle.ingest(str(shared_file("airline_tweets.csv")), "validation")
    assert summary["dropped"]["neutral"] == 3099
    assert summary["dataset_type"] == "jdd validation"


def test_crowdflower_corpus_latin1(corpus) -> None:  # noqa: ANN001 - fixture
    from sentiment.pipeline.bootstrap import corpus_path

    parsed = parse_csv(corpus_path().read_bytes())
    assert parsed.format == "CrowdFlower corpus"
    assert "latin-1" in parsed.encoding
    assert parsed.dropped["neutral"] == 15018
    assert abs(parsed.stats["positive_rate"] - 0.30) < 0.01


def test_trustpilot_stars(tmp_path: Path) -> None:
    content = "Avis;Note\n".replace(";", ",") + "\n".join([
        '"Vol parfait, équipage adorable",5', "Très bien,4", "Correct sans plus,3",
        "Retard de 6 heures,1", "Bagage perdu,2", "  ,5"])
    parsed = parse_csv(content.encode("utf-8"))
    assert parsed.format == "reviews with star rating"
    assert parsed.frame["label"].tolist() == [1, 1, 0, 0]
    assert parsed.dropped == {"neutral": 1, "empty text": 1}


def test_french_labels_latin1() -> None:
    content = "texte,sentiment\nJ'adore ce vol,positif\nQuel désastre,négatif\nBof,neutre\n"
    parsed = parse_csv(content.encode("latin-1"))
    assert parsed.encoding == "latin-1"
    assert parsed.frame["text"].tolist() == ["J'adore ce vol", "Quel désastre"]
    assert parsed.frame["label"].tolist() == [1, 0]


def test_binary_and_polarity_labels() -> None:
    assert parse_csv(b"text,label\ngood,1\nbad,0\n").frame["label"].tolist() == [1, 0]
    assert parse_csv(b"text,label\ngood,4\nbad,0\nmeh,2\n").frame["label"].tolist() == [1, 0]


def test_duplicates_and_whitespace_cleaned() -> None:
    parsed = parse_csv(b"text,label\n great ,1\ngreat,1\n   ,0\nawful,0\n")
    assert parsed.frame["text"].tolist() == ["great", "awful"]
    assert parsed.dropped == {"duplicate": 1, "empty text": 1}


def test_every_line_is_accounted_for_and_unquoted_commas_repaired() -> None:
    """Issue 9.8: 6 data lines with unquoted commas used to give rows_in 3 and no word."""
    parsed = parse_csv(b"text,label\nDelayed, again, thanks a lot,negative\nLove it,positive\n"
                       b"ok, fine, whatever, great,positive\nbad,negative\n\nno label here\n"
                       b"what, a day,negative\n")
    assert parsed.frame["text"].tolist() == ["Delayed, again, thanks a lot", "Love it",
                                             "ok, fine, whatever, great", "bad", "what, a day"]
    assert parsed.frame["label"].tolist() == [0, 1, 1, 0, 0]
    stats = parsed.stats
    assert stats["rows_in"] == 7 and stats["rows_kept"] == 5 and stats["rows_repaired"] == 3
    assert parsed.dropped == {"blank line": 1, "missing fields": 1}
    assert stats["rows_in"] == stats["rows_kept"] + sum(parsed.dropped.values())
    assert parsed.lines["missing fields"] == [7] and parsed.lines["blank line"] == [6]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_files_are_read(codec: str) -> None:
    content = "text,label\nJ'adore ce vol ✈,positive\nHorrible retard,negative\n"
    parsed = parse_csv(content.encode(codec))
    assert parsed.encoding == "utf-16"
    assert parsed.frame["text"].tolist() == ["J'adore ce vol ✈", "Horrible retard"]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"\x00\x01\x02PK\x03\x04garbage" * 50, "binary"),
    (b"tweet_id,created\n1,2020\n2,2021\n", "Could not find a text column"),
    (b"text,label\nlove it,1\nso good,1\n", "Only one class"),
    (b"text,label\nlove it,maybe\nhate it,perhaps\n", "Unknown labels"),
    (b"text,label\n", "no rows"),
    (b'text,label\ngood,positive\n"bad flight,negative\nfine,positive\n',
     "Line 3 opens a quote"),  # issue 9.9: the broken quote is named, not "no rows"
])
def test_bad_files_refused_and_nothing_recorded(tmp_path: Path, content: bytes,
                                                message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        lifecycle.ingest(str(path), "training")
    assert _ids() == []


def test_file_over_size_limit_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_MAX_UPLOAD_MB", "0.01")
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "a fine tweet indeed,1\nawful tweet,0\n" * 1000)
    with pytest.raises(InvalidInputError, match="limit is 0.01 MB"):
        lifecycle.ingest(str(path), "training")
    assert _ids() == []


def test_formula_cells_round_trip_through_the_artifact(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('text,label\n"=HYPERLINK(""x"")",1\n-bad day,0\n\'quoted,1\n@united ok,1\n')
    summary = lifecycle.ingest(str(path), "training")
    frame, _ = registry.load_dataset(summary["dataset_id"], get_settings())
    assert frame["text"].tolist() == ['=HYPERLINK("x")', "-bad day", "'quoted", "@united ok"]
    for value in ("=1+1", "+x", "-x", "@x", "'=x", "\tx", "plain"):
        assert unescape_cell(escape_cell(value)) == value
    assert escape_cell("=1+1") == "'=1+1"


def test_batch_files_account_for_every_line(tmp_path: Path) -> None:
    from sentiment.serving.service import SentimentService

    path = tmp_path / "batch.csv"
    path.write_text("id,text,lang\n1,Delayed, again, thanks a lot,en\n2,Love it,en\n3\n")
    frame, column, rows = SentimentService().read_batch(str(path))
    assert column == "text"
    assert frame["text"].tolist() == ["Delayed, again, thanks a lot", "Love it"]
    assert frame["lang"].tolist() == ["en", "en"]
    assert rows.counts == {"repaired (unquoted commas in the text)": 1, "missing fields": 1}
    assert rows.lines["missing fields"] == [4]


def test_one_rule_finds_the_text_column_for_datasets_batch_files_and_scoring() -> None:
    """Issue 22: three places decided which column holds the texts."""
    from sentiment.data.ingest import text_column
    from sentiment.serving import scoring

    assert text_column(["id", "Tweet", "label"]) == "Tweet"  # its own spelling
    assert text_column(["review", "text"]) == "text"  # the list's order, not the file's
    assert text_column(["a", "b"]) is None
    assert text_column(["a", "b"], wanted="b") == "b"
    assert text_column(["a"], wanted="b") is None
    assert scoring.text_column(["id", "Avis"], None) == "Avis"
    with pytest.raises(InvalidInputError, match="No column 'x'"):
        scoring.text_column(["text"], "x")
