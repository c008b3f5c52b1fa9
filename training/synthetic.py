"""Synthetic artifacts that are labelled exactly (issue 21): wrong words put into human text.

MQM spans and round-trip differences are noisy labels (an MQM span marks a whole phrase, and most
words a round trip changes are fine synonyms). A word swapped for another English word of about
the same frequency and the same ending ("killed dozens" -> "killed beats") is wrong by
construction, as "Collets" for "clashes" is: what the artifact head should learn is a word that
does not belong where it stands. A word translated alone, there and back ("advice" -> "councils")
is the same kind of error made the way MT makes it.
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"[A-Za-z]+")
_ENDINGS = ("ing", "ed", "ly", "tion", "s", "")  # a rough part of speech: nouns stay nouns, mostly
MIN_ZIPF = 2.0  # words rarer than this (names, mostly) are left alone
WORD_ROUNDTRIPS = Path(__file__).parent / "data" / "word_roundtrips.tsv"  # scripts/word_roundtrips.py


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
    """`text` with about `rate` of its content words replaced by English words of about the same
    frequency and ending; returns it and the replacements' spans."""
    from wordfreq import zipf_frequency

    pool = _by_ending_and_frequency()

    def other(lower: str) -> str | None:
        zipf = zipf_frequency(lower, "en")
        candidates = pool.get((_ending(lower), round(zipf * 2)), []) if zipf >= MIN_ZIPF else []
        return rng.choice(candidates) if len(candidates) >= 5 else None

    return _swap(text, rng, rate, other)


def mistranslate_words(text: str, rng: random.Random, rate: float = 0.04) -> tuple[str, list[tuple[int, int]]]:
    """`text` with words replaced by what they become when translated alone, there and back
    ("advice" -> "councils"; `scripts/word_roundtrips.py` found them), about `rate` of its words in
    all; returns it and the replacements' spans."""
    table = word_roundtrips()
    # only the table's words can change, so each of them changes more often than `rate`
    words = _WORD.findall(text)
    share = sum(w.lower() in table for w in words) / max(len(words), 1)
    return _swap(text, rng, min(1.0, rate / max(share, 1e-9)), table.get)


@lru_cache(maxsize=1)
def word_roundtrips() -> dict[str, str]:
    """The table of scripts/word_roundtrips.py: a word -> what it came back as, in the file's order."""
    rows = (line.split("\t") for line in WORD_ROUNDTRIPS.read_text().splitlines())
    return {word: new for word, new in rows}


def _swap(text: str, rng: random.Random, rate: float, replacement) -> tuple[str, list[tuple[int, int]]]:
    """`text` with content words, each drawn with probability `rate`, put through `replacement`
    (lower-cased word -> another, or None to keep it), in the word's casing; and the new words' spans."""
    from model.predictor import FUNCTION_WORDS

    pieces, spans, pos, length = [], [], 0, 0
    for m in _WORD.finditer(text):
        word = m.group()
        lower = word.lower()
        if len(word) < 3 or word.isupper() or lower in FUNCTION_WORDS or rng.random() >= rate:
            continue
        new = replacement(lower)
        if not new or new == lower:
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
