"""Artifact spans: whole words and phrases, each with a kind a reader can check.

- "mistranslation": words the model's token head scores at or above the calibration's
  `artifact_threshold` (a wrong word, a calque); neighbours in one sentence merge into a phrase.
- "untranslated": a foreign word or compound left in English text. Judged by word frequencies
  (`wordfreq`): rare in English, and a word of another language or a compound ending in one.
- "odd casing", "homoglyph", "invisible character": found by input normalisation (model/normalize.py).
"""
from __future__ import annotations

import bisect
import re
from functools import lru_cache

# Letters or digits, with inner apostrophes or hyphens: "Damascus's", "al-Assad", "1.2" is two.
WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# Latin-script languages whose words turn up untranslated in MT output into English.
FOREIGN = ("de", "fr", "es", "pt", "it", "nl")
MAX_WORD = 40  # longer runs of letters are not words (and would cost a lookup per cut)
RARE_IN_ENGLISH = 1.0  # wordfreq's Zipf scale: about once per 100 million words
COMMON_ABROAD = 2.0  # a word of another language (one step more for a capitalised word)
COMMON_HEAD = 3.0  # the last part of a compound ("-dörfer", "-männer")...
FAR_MORE_ABROAD = 2.0  # ...a hundred times more frequent in that language than in English


def words(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in WORD.finditer(text)]


def word_scores(token_scores: dict[tuple[int, int], float], text: str) -> list[tuple[int, int, float]]:
    """Every word of `text` with the highest score of the tokens it overlaps (0 for none)."""
    spans = words(text)
    starts = [a for a, _ in spans]
    best = [0.0] * len(spans)
    for (a, b), score in token_scores.items():
        i = max(bisect.bisect_right(starts, a) - 1, 0)
        while i < len(spans) and spans[i][0] < b:
            if spans[i][1] > a:
                best[i] = max(best[i], score)
            i += 1
    return [(a, b, score) for (a, b), score in zip(spans, best)]


def flagged_phrases(scored_words: list[tuple[int, int, float]], text: str, threshold: float,
                    sentence_ends: list[int]) -> list[tuple[int, int, float]]:
    """The words scoring at least `threshold`; flagged words of one sentence with only spaces
    between them form one phrase, scored by its best word."""
    phrases: list[list] = []
    for i, (a, b, score) in enumerate(scored_words):
        if score < threshold:
            continue
        if (phrases and phrases[-1][3] == i - 1 and text[phrases[-1][1]:a].strip(" ") == ""
                and bisect.bisect_left(sentence_ends, phrases[-1][1]) == bisect.bisect_left(sentence_ends, a)):
            phrases[-1][1:4] = [b, max(phrases[-1][2], score), i]
        else:
            phrases.append([a, b, score, i])
    return [(a, b, score) for a, b, score, _ in phrases]


@lru_cache(maxsize=65536)
def is_untranslated(word: str) -> bool:
    """A word of another language, or a compound that ends in one, that English rarely uses."""
    if not 5 <= len(word) <= MAX_WORD or not word.isalpha() or word.isupper():
        return False
    from wordfreq import zipf_frequency

    lower = word.lower()
    if zipf_frequency(lower, "en") >= RARE_IN_ENGLISH:
        return False
    # a capitalised one may be a name, which other languages' lists know too: it must be common there
    if max(zipf_frequency(lower, lang) for lang in FOREIGN) >= COMMON_ABROAD + (word[0].isupper()):
        return True
    for cut in range(4, len(lower) - 5):  # a head of 4+ letters, a last part of 6+
        tail = lower[cut:]
        abroad = max(zipf_frequency(tail, lang) for lang in FOREIGN)
        if abroad >= COMMON_HEAD and abroad - zipf_frequency(tail, "en") >= FAR_MORE_ABROAD:
            return True
    return False


def untranslated_words(text: str) -> list[tuple[int, int]]:
    return [(a, b) for a, b in words(text) if is_untranslated(text[a:b])]
