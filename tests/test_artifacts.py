import pytest

from conftest import ARTICLE
from model.artifacts import WORD, flagged_phrases, is_untranslated, untranslated_words, word_scores


def test_a_flagged_piece_flags_its_whole_word_and_neighbours_merge_into_a_phrase():
    text = "The outcome lock held. Ferries ran."
    tokens = {(4, 7): 0.9, (7, 11): 0.1, (12, 16): 0.8, (23, 27): 0.2}  # "out", "come", "lock", "Ferr"
    scored = word_scores(tokens, text)
    assert [(text[a:b], s) for a, b, s in scored][:3] == [("The", 0.0), ("outcome", 0.9), ("lock", 0.8)]
    assert [(text[a:b], s) for a, b, s in flagged_phrases(scored, text, 0.5, [22, 35])] == [("outcome lock", 0.9)]


def test_phrases_do_not_cross_sentences():
    text = "It ended badly. Collets followed."
    scored = [(a, b, 0.9) for a, b in ((m.start(), m.end()) for m in WORD.finditer(text))]
    phrases = [text[a:b] for a, b, _ in flagged_phrases(scored, text, 0.5, [15, 33])]
    assert phrases == ["It ended badly", "Collets followed"]


@pytest.mark.parametrize("word, untranslated", [
    ("Hafenbehörde", True),  # a German compound whose last part is a common German word
    ("Sperrstunde", True),  # a German word, rare in English
    ("harbour", False), ("Okafor", False), ("Zürich", False), ("NATO", False), ("ferry", False),
])
def test_untranslated_words_are_foreign_words_english_rarely_uses(word, untranslated):
    assert is_untranslated(word) is untranslated


def test_english_news_has_no_untranslated_words():
    assert untranslated_words(ARTICLE) == []


def test_shipped_spans_are_whole_words_with_a_kind(predictor):
    text = ARTICLE + " The Hafenbehörde said the quay was unsafe."
    p = predictor.predict_one(text)
    kinds = {"mistranslation", "untranslated", "odd casing", "homoglyph", "invisible character"}
    assert ("Hafenbehörde", "untranslated") in {(a.text, a.kind) for a in p.artifacts}
    for a in p.artifacts:
        assert a.kind in kinds
        if a.kind in ("mistranslation", "untranslated"):  # never a piece of a word
            assert WORD.match(a.text) and not text[a.start - 1].isalnum() and not text[a.end:a.end + 1].isalnum()
