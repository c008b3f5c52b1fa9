"""Evasion attacks, for the robustness check and for training-time augmentation.

An attack maps (text, rng) to one piece of output per input character, so `perturb` can
say where every original offset lands: training moves its labelled spans (sentences,
artifacts) along with the text.
"""
from __future__ import annotations

import random
import re
from itertools import accumulate

# Latin letters and Cyrillic/Greek look-alikes, the swaps seen in homoglyph evasion.
_LOOKALIKES = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і",
               "A": "А", "B": "В", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т"}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_WORD = re.compile(r"[^\W\d_]+")
_PUNCTUATION = re.compile(r"[^\w\s]")


def homoglyphs(text: str, rng: random.Random, rate: float = 0.15) -> list[str]:
    return [_LOOKALIKES[c] if c in _LOOKALIKES and rng.random() < rate else c for c in text]


def zero_width(text: str, rng: random.Random, rate: float = 0.1) -> list[str]:
    return [c + rng.choice(_ZERO_WIDTH) if c.isalpha() and rng.random() < rate else c for c in text]


def random_casing(text: str, rng: random.Random, rate: float = 0.1) -> list[str]:
    """Flip the case of a share of words, in the way "JaBleh" or "PARIS" appear."""
    pieces = list(text)
    for m in _WORD.finditer(text):
        if rng.random() >= rate:
            continue
        style = rng.choice((str.upper, str.lower, None))
        for i in range(m.start(), m.end()):
            c = text[i]
            pieces[i] = style(c) if style else (c.upper() if rng.random() < 0.5 else c)
    return pieces


def strip_punctuation(text: str, rng: random.Random) -> list[str]:
    return ["" if _PUNCTUATION.match(c) else c for c in text]


def perturb(text: str, attacks, rng: random.Random) -> tuple[str, list[int]]:
    """Apply `attacks` in turn. Returns the new text and, for each offset 0..len(text) of the
    old one, its offset in the new one."""
    where = list(range(len(text) + 1))
    for attack in attacks:
        pieces = attack(text, rng)
        starts = list(accumulate((len(p) for p in pieces), initial=0))
        where = [starts[i] for i in where]
        text = "".join(pieces)
    return text, where


# The test-split copies in the evaluation report.
PERTURBATIONS = {"homoglyphs": (homoglyphs,), "zero-width": (zero_width,), "random casing": (random_casing,),
                 "stripped punctuation": (strip_punctuation,),
                 "homoglyphs + zero-width + casing": (random_casing, homoglyphs, zero_width)}

# Training augmentation (`augmentations` in the training config): the attacks that input
# normalisation cannot undo, or undoes only in part.
AUGMENTATIONS = {"random casing": (random_casing,), "stripped punctuation": (strip_punctuation,),
                 "random casing + stripped punctuation": (random_casing, strip_punctuation)}
