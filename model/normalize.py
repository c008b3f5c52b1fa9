"""Input normalisation against evasion, keeping every offset pointing into the user's text.

Before the model sees a text: Unicode NFKC, invisible (zero-width, format) and control
characters removed, and look-alike letters from other scripts (Cyrillic "а" in or among
Latin words) mapped to their Latin twin using Unicode's confusables table (the
`confusable_homoglyphs` package). Each removal or swap is itself evidence, reported as
an artifact.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from confusable_homoglyphs import confusables

_KEEP_CONTROLS = {"\n", "\t", "\r"}
_WORD = re.compile(r"\w+")


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
    words = [m for m in _WORD.finditer(text) if any(c.isalpha() for c in m.group())]
    latin = [any(c.isascii() and c.isalpha() for c in m.group()) for m in words]
    out = set()
    for k, m in enumerate(words):
        foreign = [m.start() + i for i, c in enumerate(m.group()) if not c.isascii()]
        if foreign and (latin[k] or (
            all(_latin_twin(c) for c in m.group() if c.isalpha())
            and all(latin[j] for j in (k - 1, k + 1) if 0 <= j < len(words))
        )):
            out.update(foreign)
    return out


def normalize(text: str) -> Normalized:
    suspects = _suspect_letters(text)
    chars, origin, findings = [], [], []
    for i, ch in enumerate(text):
        if _invisible(ch):
            findings.append((i, i + 1, "invisible character"))
            continue
        if i in suspects and not unicodedata.category(ch).startswith("M"):
            twin = _latin_twin(ch)
            if twin:
                findings.append((i, i + 1, "homoglyph"))
                ch = twin
        out = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        chars.append(out)
        origin.extend([i] * len(out))
    origin.append(len(text))
    return Normalized("".join(chars), origin, findings)
