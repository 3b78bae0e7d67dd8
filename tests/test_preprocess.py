"""Tweet normalisation: placeholders, entities, elongation, emoticons and emoji kept."""

import pytest

from sentiment.preprocess import normalize


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
