"""Evasion attacks for the robustness check: each maps (text, rng) to a perturbed copy."""
from __future__ import annotations

import random
import re

# Latin letters and Cyrillic/Greek look-alikes, the swaps seen in homoglyph evasion.
_LOOKALIKES = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і",
               "A": "А", "B": "В", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т"}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def homoglyphs(text: str, rng: random.Random, rate: float = 0.15) -> str:
    return "".join(_LOOKALIKES[c] if c in _LOOKALIKES and rng.random() < rate else c for c in text)


def zero_width(text: str, rng: random.Random, rate: float = 0.1) -> str:
    return "".join(c + rng.choice(_ZERO_WIDTH) if c.isalpha() and rng.random() < rate else c for c in text)


def random_casing(text: str, rng: random.Random, rate: float = 0.1) -> str:
    """Flip the case of a share of words, in the way "JaBleh" or "PARIS" appear."""
    def flip(m):
        w = m.group()
        if rng.random() >= rate:
            return w
        return rng.choice([w.upper(), w.lower(), "".join(c.upper() if rng.random() < 0.5 else c for c in w)])
    return re.sub(r"[^\W\d_]+", flip, text)


def strip_punctuation(text: str, rng: random.Random) -> str:
    return re.sub(r"[^\w\s]", "", text)


def everything(text: str, rng: random.Random) -> str:
    return zero_width(homoglyphs(random_casing(text, rng), rng), rng)


PERTURBATIONS = {"homoglyphs": homoglyphs, "zero-width": zero_width, "random casing": random_casing,
                 "stripped punctuation": strip_punctuation, "homoglyphs + zero-width + casing": everything}
