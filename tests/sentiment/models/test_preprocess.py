"""Tweet normalisation: placeholders, entities, elongation, emoticons and emoji kept."""

import pytest

from sentiment.models.preprocess import normalize


@pytest.mark.parametrize(("raw", "expected"), [
    ("Check https://t.co/abc now", "check url now"),
    ("@united thanks!", "user thanks!"),
    ("fish &amp; chips &lt;3", "fish & chips emopos"),
    ("I loooooove it", "i loove it"),
    ("so sad :(", "so sad emoneg"),
    ("great :-) ;)", "great emopos emopos"),
    ("#happy day", "happy day"),
    ("what?!!!", "what? !! "),
])
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected.strip()


def test_emoji_kept_as_separate_tokens() -> None:
    assert normalize("late again😡😡") == "late again 😡 😡"


def test_non_strings_become_text() -> None:
    assert normalize(None) == ""
    assert normalize(42) == "42"


def test_case_and_spaces() -> None:
    assert normalize("  WORST   Flight\tEVER  ") == "worst flight ever"


def reference_normalize(text: object, emoticons_as_words: bool = False) -> str:
    """PREPROCESS_VERSION 1 as first written (every substitution on every text): the
    faster :func:`normalize` must give exactly this, or served models would change."""
    import html

    from sentiment.models import preprocess as p

    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = html.unescape(text)
    text = p._URL.sub(" url ", text)
    text = p._MENTION.sub(" user ", text)
    text = text.lower()
    text = p._EMOTICON_RE.sub(p._emoticon_words if emoticons_as_words else p._emoticon, text)
    text = p._HASHTAG.sub(r"\1", text)
    text = p._ELONGATED.sub(r"\1\1", text)
    text = p._REPEAT_PUNCT.sub(r" \1\1 ", text)
    text = p._EMOJI.sub(r" \1 ", text)
    return p._SPACES.sub(" ", text).strip()


WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2003\u2009\u200a\u2028"
              "\u2029\u202f\u205f\u3000\u200b\ufeff")


def test_fast_normalize_equals_the_reference_on_real_tweets(corpus) -> None:
    import pandas as pd

    from tests.conftest import SHARED_DATA

    texts = corpus["text"].tolist()
    for name in ("sentiment140_sample_20k.csv", "tweeteval_validation.csv"):
        if (SHARED_DATA / name).is_file():  # more real tweets where ../shared/data is there
            texts += pd.read_csv(SHARED_DATA / name, encoding="latin-1")["text"].astype(
                str).tolist()
    texts += [f"a{c}b{c}" for c in WHITESPACE]
    texts += [c + "WWW.X.com HTTP://x &amp; :) XD ^_^ </3 ❤ ☀ !!!?? ... #Tag @u" + c
              for c in WHITESPACE]
    texts += ["", None, 3, "x", "X", "ẞ", "İstanbul", "K\u212a", "xd", ":-(", "((:"]
    for words in (False, True):
        assert [normalize(t, words) for t in texts] == [reference_normalize(t, words)
                                                        for t in texts]
