"""Synthetic artifacts that are labelled exactly (issue 21): wrong words put into human text.

MQM spans and round-trip differences are noisy labels (an MQM span marks a whole phrase, and most
words a round trip changes are fine synonyms). A word swapped for another English word of about
the same frequency and the same ending ("killed dozens" -> "killed beats") is wrong by
construction, as "Collets" for "clashes" is: what the artifact head should learn is a word that
does not belong where it stands.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z]+")
_ENDINGS = ("ing", "ed", "ly", "tion", "s", "")  # a rough part of speech: nouns stay nouns, mostly
MIN_ZIPF = 2.0  # words rarer than this (names, mostly) are left alone


def _ending(word: str) -> str:
    return next(e for e in _ENDINGS if word.endswith(e))


@lru_cache(maxsize=1)
def _by_ending_and_frequency() -> dict:
    from wordfreq import top_n_list, zipf_frequency

    from model.predictor import FUNCTION_WORDS

    found = defaultdict(list)
    for word in top_n_list("en", 40000):
        if word.isascii() and word.isalpha() and len(word) >= 3 and word not in FUNCTION_WORDS:
            found[_ending(word), round(zipf_frequency(word, "en") * 2)].append(word)
    return found


def replace_words(text: str, rng: random.Random, rate: float = 0.04) -> tuple[str, list[tuple[int, int]]]:
    """`text` with about `rate` of its content words replaced; returns it and the replacements' spans."""
    from wordfreq import zipf_frequency

    from model.predictor import FUNCTION_WORDS

    pool = _by_ending_and_frequency()
    pieces, spans, pos, length = [], [], 0, 0
    for m in _WORD.finditer(text):
        word = m.group()
        lower = word.lower()
        if len(word) < 3 or word.isupper() or lower in FUNCTION_WORDS or rng.random() >= rate:
            continue
        zipf = zipf_frequency(lower, "en")
        candidates = pool.get((_ending(lower), round(zipf * 2)), []) if zipf >= MIN_ZIPF else []
        new = rng.choice(candidates) if len(candidates) >= 5 else lower
        if new == lower:
            continue
        new = new.capitalize() if word[0].isupper() else new
        pieces.append(text[pos:m.start()])
        length += len(pieces[-1])
        spans.append((length, length + len(new)))
        pieces.append(new)
        length += len(new)
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces), spans
