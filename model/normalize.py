"""Input normalisation against evasion, keeping every offset pointing into the user's text.

Before the model sees a text: Unicode NFKC, invisible (zero-width, format) and control
characters removed, and look-alike letters from other scripts (Cyrillic "а" in a Latin
word) mapped to their Latin twin using Unicode's confusables table (the
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


def _mixed_script_words(text: str) -> set[int]:
    """Indices of non-ASCII letters that sit in a word that also has ASCII letters."""
    out = set()
    for m in _WORD.finditer(text):
        word = m.group()
        if word.isascii() or not any(c.isascii() and c.isalpha() for c in word):
            continue
        out.update(m.start() + i for i, c in enumerate(word) if not c.isascii())
    return out


def normalize(text: str) -> Normalized:
    suspects = _mixed_script_words(text)
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
