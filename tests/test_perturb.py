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
