"""Input normalisation against evasion, keeping every offset pointing into the user's text.

Before the model sees a text: Unicode NFKC, invisible (zero-width, format) and control
characters removed, and look-alike letters from other scripts (Cyrillic "а" in or among
Latin words) mapped to their Latin twin using Unicode's confusables table (the
`confusable_homoglyphs` package), and words in odd casing ("tHe", "MINISTER") given the
casing the text uses most for them (random casing is an evasion the tokenizer cannot shrug
off: e5 is cased). Each removal or swap is itself evidence, reported as an artifact.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from confusable_homoglyphs import confusables

_KEEP_CONTROLS = {"\n", "\t", "\r"}
_PLAIN = re.compile(r"[\x20-\x7e\n\t\r]+")  # printable ASCII: nothing in it to remove, swap or normalise
_HAS_LETTER = re.compile(r"[^\W\d_]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\w+")
_LETTERS = re.compile(r"[^\W\d_]{2,}")
# Casing no English word has: "hoUse", "miNIster", "MINister". Acronyms ("MPs", "AfD") and brand
# names ("eBay", "SpaceX", "McCain") do not match.
_SCRAMBLED = re.compile(r"^[a-z]{2,}[A-Z]|[a-z][A-Z]{2,}[a-z]|[A-Z]{2,}[a-z]{2,}")
_LINE_START = re.compile(r"(?:^|\n)[ \t]*$")
# Not model.text.split_sentences: its boundaries need a capital after the full stop, and the
# casing is what is being repaired here ("... said. tHe minister").
_AFTER_SENTENCE_END = re.compile(r"(?:^|[.!?][\"'”’)\]]*\s+|\n\s*)$")


@dataclass
class Normalized:
    text: str  # what the model reads
    origin: list[int]  # origin[i]: index in the original text of normalized character i (+ one past the end)
    findings: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, what) in the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalized [start, end) span back onto the original text."""
        if end <= start:
            return self.origin[start], self.origin[start]
        return self.origin[start], self.origin[end - 1] + 1


def _invisible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat == "Cf" or (cat == "Cc" and ch not in _KEEP_CONTROLS)


@lru_cache(maxsize=4096)
def _latin_twin(ch: str) -> str | None:
    found = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True) or []
    for entry in found:
        for glyph in entry["homoglyphs"]:
            if glyph["n"].startswith("LATIN") and glyph["c"].isascii():
                return glyph["c"]
    return None


def _suspect_letters(text: str) -> set[int]:
    """Indices of non-ASCII characters that may be disguised Latin letters: those in a word
    that also has ASCII letters ("p\u0430ypal"), and those of a word made only of Latin
    look-alikes between Latin words (a Cyrillic "\u0430" used as the article). A word with a
    letter that has no Latin twin ("Москва"), or among words of its own script, is left alone."""
    if text.isascii():
        return set()
    words = [m for m in _WORD.finditer(text) if _HAS_LETTER.search(m.group())]
    latin = [bool(_ASCII_LETTER.search(m.group())) for m in words]
    out = set()
    for k, m in enumerate(words):
        if m.group().isascii():
            continue
        foreign = [m.start() + i for i, c in enumerate(m.group()) if not c.isascii()]
        if foreign and (latin[k] or (
            all(_latin_twin(c) for c in m.group() if c.isalpha())
            and all(latin[j] for j in (k - 1, k + 1) if 0 <= j < len(words))
        )):
            out.update(foreign)
    return out


def _sentence_initial(text: str, start: int) -> bool:
    return bool(_AFTER_SENTENCE_END.search(text, max(0, start - 8), start))


def _recased(text: str) -> list[tuple[int, str, bool]]:
    """(start, word, noteworthy) for each word in odd casing (mixed, or all capitals) given the
    casing the text uses most for it ("THE" among "the"s), or lower case when it appears once in
    a casing no word has ("hoUse") or shouted ("MINISTER"). A casing the text uses most is kept: an
    acronym ("US" among a few "us"), or an MT artifact such as "JaBleh" that the model should see.
    Capitals that open a line or run on from other capitals are a dateline or a headline
    ("PORT ELLERY, May 3"), re-cased but not worth an artifact."""
    words = list(_LETTERS.finditer(text))
    initial = [_sentence_initial(text, m.start()) for m in words]
    usual: dict[str, Counter] = {}
    for m, first in zip(words, initial):
        if not first:
            usual.setdefault(m.group().lower(), Counter())[m.group()] += 1
    out = []
    for k, m in enumerate(words):
        w = m.group()
        if w.islower() or w.istitle():
            continue
        seen = usual.get(w.lower(), Counter())
        # the casing used most; a tie goes to a plain one ("VOTED" once, "voted" once)
        best = max(seen, key=lambda c: (seen[c], c.islower() or c.istitle())) if seen else w
        if sum(seen.values()) <= 1 and ((w.isupper() and len(w) >= 6) or _SCRAMBLED.search(w)):
            best = w.lower()  # a one-off in a casing no word has, or shouted
        if initial[k]:
            best = best[0].upper() + best[1:]
        if best != w and len(best) == len(w):
            headline = w.isupper() and (_LINE_START.search(text, max(0, m.start() - 8), m.start()) or any(
                words[j].group().isupper() for j in (k - 1, k + 1) if 0 <= j < len(words)))
            out.append((m.start(), best, not headline))
    return out


def normalize(text: str) -> Normalized:
    suspects = _suspect_letters(text)
    chars, origin, findings = [], [], []
    i = 0
    while i < len(text):
        plain = _PLAIN.match(text, i)
        if plain:  # most of a text: taken as it is, in one piece
            chars.append(plain.group())
            origin.extend(range(i, plain.end()))
            i = plain.end()
            continue
        j, ch = i, text[i]
        i += 1
        if _invisible(ch):
            findings.append((j, j + 1, "invisible character"))
            continue
        if j in suspects and not unicodedata.category(ch).startswith("M"):
            twin = _latin_twin(ch)
            if twin:
                findings.append((j, j + 1, "homoglyph"))
                ch = twin
        out = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        chars.append(out)
        origin.extend([j] * len(out))
    origin.append(len(text))
    normalized = "".join(chars)
    if any(c.isupper() for c in normalized):
        pieces = list(normalized)
        for start, word, noteworthy in _recased(normalized):
            pieces[start : start + len(word)] = word
            if noteworthy:
                findings.append((origin[start], origin[start + len(word) - 1] + 1, "odd casing"))
        normalized = "".join(pieces)
    return Normalized(normalized, origin, sorted(findings))
